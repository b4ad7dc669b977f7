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
