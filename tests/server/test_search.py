"""Name search for autocomplete: prefix, multi-word, accents, typos, ranking."""

import numpy as np

from server.search import NameIndex

NAMES = [
    "Acme Telecom GmbH",
    "ACME Telecommunications Ltd",
    "Acme Telecom (Schweiz) AG",
    "Apex Logistics Inc",
    "Zürich Versicherung AG",
    "General Electric Company",
    "General Motors LLC",
    "Delta Air Lines",
]
IDS = [f"001{i:03d}" for i in range(len(NAMES))]
INDEX = NameIndex(np.array(IDS, dtype=object), np.array(NAMES, dtype=object))


def names(hits):
    return [NAMES[IDS.index(i)] for i, _ in hits]


def test_two_keystrokes_find_by_prefix():
    assert set(names(INDEX.search("ac", 10))) == {"Acme Telecom GmbH", "ACME Telecommunications Ltd", "Acme Telecom (Schweiz) AG"}


def test_every_word_must_match_and_the_last_may_be_partial():
    assert names(INDEX.search("general mo", 10)) == ["General Motors LLC"]
    assert names(INDEX.search("telecom schw", 10)) == ["Acme Telecom (Schweiz) AG"]


def test_accents_are_folded():
    assert names(INDEX.search("zurich", 10)) == ["Zürich Versicherung AG"]


def test_typos_are_tolerated_but_rank_below_exact_prefixes():
    hits = INDEX.search("logsitics", 10)
    assert names(hits) == ["Apex Logistics Inc"]
    assert hits[0][1] < 100
    assert INDEX.search("apex", 1)[0][1] >= 100


def test_shorter_names_rank_first_among_equal_prefix_matches_and_limit_holds():
    hits = INDEX.search("acme", 2)
    assert len(hits) == 2
    assert names(hits)[0] == "Acme Telecom GmbH"


def test_no_match_and_empty_query():
    assert INDEX.search("qqqqqq", 10) == []
    assert INDEX.search("  ", 10) == []


# ---------------------------------------------------------------------------- ranking, on a book with ARR

BOOK = [  # (name, ARR)
    ("Nordwind Energie GmbH", 500.0),
    ("Nordwind Energie AG", 900.0),
    ("Nordwind Energie SA", 100.0),
    ("Nordwind", 10.0),
    ("Nordwinds Logistics Ltd", 50.0),
    ("Energie Nordwind SA", 700.0),
    ("Blue Nordwind Partners Inc", 80.0),
    ("Société Générale Nordique", 300.0),
    ("Müller & Söhne KG", 40.0),
    ("Mueller Holdings Inc", 60.0),
    ("Plan B", 5.0),
    ("Planet B Holdings", None),
    ("Teritis Clinics K.K.", 200.0),
    ("Terra Clinics Ltd", 100.0),
    ("Orion Telecom Sp. z o.o.", 20.0),
    (None, None),
    ("", 0.0),
]
BOOK_IDS = [f"002{i:03d}" for i in range(len(BOOK))]
RANKED = NameIndex(np.array(BOOK_IDS, dtype=object), np.array([n for n, _ in BOOK], dtype=object),
                   np.array([np.nan if a is None else a for _, a in BOOK]))


def book(hits):
    return [BOOK[BOOK_IDS.index(i)][0] for i, _ in hits]


def test_exact_then_name_prefix_then_word_prefix():
    hits = RANKED.search("nordwind", 10)
    assert book(hits) == [
        "Nordwind",  # exact
        "Nordwind Energie AG", "Nordwind Energie SA", "Nordwind Energie GmbH", "Nordwinds Logistics Ltd",  # the name starts so
        "Energie Nordwind SA", "Blue Nordwind Partners Inc",  # a later word starts so
    ]
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == round(130 - 8 / 12, 2) and scores[1] == round(115 - 19 / 12, 2) and scores[-1] == round(105 - 26 / 12, 2)


def test_equal_length_ties_go_to_the_larger_arr():
    # "nordwind energie ag" and "... sa" have the same length: ARR 900 before 100; the longer GmbH after both
    assert book(RANKED.search("nordwind en", 3)) == ["Nordwind Energie AG", "Nordwind Energie SA", "Nordwind Energie GmbH"]


def test_the_name_without_its_legal_form_is_an_exact_match():
    hits = RANKED.search("nordwind energie", 10)
    assert book(hits) == ["Nordwind Energie AG", "Nordwind Energie SA", "Nordwind Energie GmbH", "Energie Nordwind SA"]
    assert [s >= 125 for _, s in hits] == [True, True, True, False]
    assert book(RANKED.search("orion telecom", 10)) == ["Orion Telecom Sp. z o.o."]
    assert RANKED.search("orion telecom", 1)[0][1] >= 125  # "Sp. z o.o." is a legal form
    assert RANKED.search("plan", 1)[0][1] < 125  # a lone letter is not: "Plan B" is not exactly "plan"
    assert book(RANKED.search("plan b", 10)) == ["Plan B", "Planet B Holdings"]
    assert RANKED.search("plan b", 1)[0][1] >= 125


def test_accents_and_punctuation_fold_both_ways():
    assert book(RANKED.search("societe generale", 10)) == ["Société Générale Nordique"]
    assert book(RANKED.search("SOCIÉTÉ", 10)) == ["Société Générale Nordique"]
    assert book(RANKED.search("muller sohne", 10)) == ["Müller & Söhne KG"]
    assert book(RANKED.search("Müller & Söhne", 10)) == ["Müller & Söhne KG"]


def test_a_typo_ranks_after_every_prefix_match():
    hits = RANKED.search("mueller", 10)
    assert book(hits) == ["Mueller Holdings Inc", "Müller & Söhne KG"]  # "muller" is one edit from "mueller"
    assert hits[0][1] >= 100 > hits[1][1]


def test_typos_deleted_swapped_and_replaced_letters():
    assert book(RANKED.search("terits", 10)) == ["Teritis Clinics K.K."]  # a letter missing
    assert book(RANKED.search("tertiis", 10)) == ["Teritis Clinics K.K."]  # two neighbours swapped: one edit
    assert book(RANKED.search("terutis cli", 10)) == ["Teritis Clinics K.K."]  # one replaced, with a second word
    assert RANKED.search("terits", 1)[0][1] == round(95 - 19 / 12, 2)  # one edit from the whole word "teritis"


def test_among_typos_a_whole_word_that_close_comes_before_a_word_whose_start_is():
    hits = RANKED.search("nordwinf", 10)  # 8 letters, one edit from "nordwind"; from the start of "nordwinds" too
    assert book(hits)[:2] == ["Nordwind", "Nordwind Energie AG"]
    assert book(hits)[-1] == "Nordwinds Logistics Ltd"  # the shortest name, but "nordwinds" is two edits away whole
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert book(RANKED.search("tera", 10)) == ["Terra Clinics Ltd", "Teritis Clinics K.K."]  # "terr", "teri": one edit each


def test_two_edits_from_eight_letters_and_fewer_edits_first():
    hits = RANKED.search("nrodwnid", 10)  # two swaps: two edits, allowed from 8 letters
    assert "Nordwind" in book(hits)
    assert all(s <= 85 for _, s in hits)
    assert RANKED.search("nrodwnd", 10) == []  # 7 letters: one edit only, and this is two away


def test_limit_and_empty_queries():
    assert len(RANKED.search("n", 3)) == 3
    assert book(RANKED.search("n", 3)) == book(RANKED.search("n", 10))[:3]
    assert RANKED.search("nordwind", 0) == []
    for q in ("", "   ", "--", "&"):
        assert RANKED.search(q, 10) == []
