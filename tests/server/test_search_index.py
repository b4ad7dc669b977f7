"""The search index's parts against brute force: ranges, tokens and keys, and whole searches on a random book."""

import random

import numpy as np
import pyarrow as pa
import pytest
from rapidfuzz.distance import OSA

from server._namekeys import tokenise
from etl.arrays import distinct
from server._ranges import RangeSmallest, SortedStrings, smallest_distinct
from server.search import NameIndex, _Typos, max_edits, words


def test_range_smallest_is_the_k_smallest_distinct_values_of_any_range():
    rnd = np.random.default_rng(1)
    for n in (0, 1, 5, 37, 300):
        values = rnd.integers(0, 40, n).astype(np.int32)  # many repeats
        index = RangeSmallest(values, block=4, most=6)
        for _ in range(300):
            lo, hi = sorted(rnd.integers(0, n + 1, 2)) if n else (0, 0)
            k = int(rnd.integers(0, 9))
            assert index.smallest(lo, hi, k).tolist() == sorted(set(values[lo:hi].tolist()))[:k]


def test_distinct_and_smallest_distinct_are_np_unique():
    assert distinct(np.array([5, 1, 5, 3, 1], np.int32)).tolist() == [1, 3, 5]
    assert distinct(np.array([], np.int32)).tolist() == []
    assert distinct(np.array([7], np.int32)).tolist() == [7]
    # the 2 smallest distinct of many duplicates: the first partition (8 values) holds only 1s and 2s
    many = np.array([9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 8, 3], np.int32)
    assert smallest_distinct(many, 2).tolist() == [1, 2]
    assert smallest_distinct(many, 4).tolist() == [1, 2, 3, 8]  # the partition grows until 4 are found
    assert smallest_distinct(many, 99).tolist() == [1, 2, 3, 8, 9]
    rnd = np.random.default_rng(3)
    for _ in range(200):
        values = rnd.integers(0, rnd.integers(1, 50), rnd.integers(0, 300)).astype(np.int32)
        k = int(rnd.integers(1, 20))
        assert distinct(values).tolist() == np.unique(values).tolist()
        assert smallest_distinct(values, k).tolist() == np.unique(values)[:k].tolist()


def test_sorted_strings_prefix_range_matches_startswith():
    rnd = random.Random(2)
    strings = sorted("".join(rnd.choice("ab ") for _ in range(rnd.randint(0, 7))) for _ in range(400))
    index = SortedStrings(pa.array(strings, pa.string()), width=3)  # prefixes longer than 3 bisect the full strings
    for prefix in ["a", "b", "ab", "aba", "abab", "ab a", "bbbbbb", "ba ab", "zz", "a" * 9]:
        lo, hi = index.prefix_range(prefix)
        assert list(range(lo, hi)) == [i for i, s in enumerate(strings) if s.startswith(prefix)], prefix


NAMES = ["Zürich Versicherung AG", "İstanbul Straße GmbH", None, "", "  --  ", "abc", "def", "A.B.C. Holdings, Inc.",
         "ÆON Co. Ltd", "Nordwind Energie GmbH & Co. KG", "Plan B", "Grupo Bimbo S.A.B. de C.V.", "Holding Co", "x"]


def test_tokenise_gives_every_name_its_words_and_key():
    tok = tokenise(pa.array(NAMES, pa.string()))
    keys = tok.keys.to_pylist()
    vocab = tok.vocab.to_pylist()
    assert vocab == sorted(set(vocab))
    for i, name in enumerate(NAMES):
        expected = words(name or "")
        assert keys[i] == " ".join(expected)
        assert tok.key_len[i] == len(keys[i])
        assert [vocab[w] for w in tok.word[tok.owner == i]] == expected
    assert keys[:2] == ["zurich versicherung ag", "istanbul stra e gmbh"]  # "ß" is not a-z: it splits, as `words` does


def test_the_core_drops_only_a_trailing_legal_form():
    tok = tokenise(pa.array(NAMES, pa.string()))
    cores = [k[:c] for k, c in zip(tok.keys.to_pylist(), tok.core_len.tolist(), strict=True)]
    assert cores[0] == "zurich versicherung"
    assert cores[7] == "a b c holdings"  # "A.B.C." leads: only the trailing "inc" goes
    assert cores[9] == "nordwind energie"  # "gmbh co kg"
    assert cores[10] == "plan b"  # a lone letter is not a legal form
    assert cores[11] == "grupo bimbo"  # "s a b de c v"
    assert cores[12] == "holding"
    assert cores[13] == "x" and cores[2] == "" and cores[4] == ""


# ---------------------------------------------------------------------------- typo candidates, by hand

def _near(vocab: list[str], term: str) -> dict[str, int]:
    typos = _Typos(pa.array(sorted(vocab), pa.string()))
    ids, costs = typos.near(term, max_edits(term))
    return {sorted(vocab)[i]: c for i, c in zip(ids.tolist(), costs.tolist(), strict=True)}


def test_near_costs_at_the_edges_of_its_pruning():
    """cost = 2 * edits of the word's closest start, + 1 when the whole word is further (1 edit below 8 letters)."""
    vocab = ["bacdef", "abdcef", "abcdfe", "xbcdef", "abcxef", "abdef", "abcef", "abce", "abcdegxx", "abcdxyzw",
             "abcdefgh", "abcdfexx", "zzzzzz"]
    assert _near(vocab, "abcdef") == {
        "bacdef": 2, "abdcef": 2, "abcdfe": 2,  # swapped neighbours: one edit (first, middle, last two letters)
        "xbcdef": 2, "abcxef": 2,  # a letter replaced
        "abdef": 2, "abcef": 2,  # a letter missing: 5 letters, the shortest a word may be
        "abcdegxx": 3, "abcdfexx": 3,  # one edit from the start only ("abcdeg", "abcdfe"), three from the whole word
    }  # "abce": too short; "abcdxyzw": its 6-letter start is 2 away (kept by the first filter), every start > 1;
    # "abcdefgh": starts with the term (a prefix match, not a typo)


def test_near_two_edits_from_eight_letters():
    vocab = ["bacdefhg", "bacdefhgxx", "abcdefgh", "abdcefgh", "axcdexgh", "axcdexghx", "abxxxfgh"]
    assert _near(vocab, "abcdefgh") == {"bacdefhg": 4, "bacdefhgxx": 5, "abdcefgh": 2, "axcdexgh": 4, "axcdexghx": 5}
    assert _near(vocab, "abcdefg") == {"abdcefgh": 3}  # 7 letters: one edit only


def test_near_a_four_letter_term_with_its_first_letters_swapped():
    """Swapping the first two of 4 letters changes every trigram; those words come from a prefix look-up."""
    vocab = ["bacd", "bacdxyz", "abcx", "abxd", "xyzw", "ab"]
    assert _near(vocab, "abcd") == {"bacd": 2, "bacdxyz": 3, "abcx": 2, "abxd": 2}
    assert _near(vocab, "abc") == {}  # 3 letters: prefixes only


# ---------------------------------------------------------------------------- whole searches against brute force

SYLLABLES = ["ab", "ac", "ba", "ca", "de", "ed", "ko", "ok"]


def _book(rnd: random.Random, n: int) -> tuple[list[str | None], np.ndarray]:
    names = []
    for _ in range(n):
        ws = ["".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(1, 3))) for _ in range(rnd.randint(1, 3))]
        if rnd.random() < 0.3:
            ws.append(rnd.choice(["GmbH", "Ltd", "S.A.", "K.K.", "AG"]))
        names.append(None if rnd.random() < 0.01 else " ".join(w.capitalize() for w in ws))
    arr = np.array([rnd.choice([np.nan, 1.0, 2.0, 3.0]) for _ in range(n)])
    return names, arr


def _prefix_distance(term: str, word: str, edits: int) -> int:
    return min(OSA.distance(term, word[:size]) for size in range(max(1, len(term) - edits), len(term) + edits + 1))


def _reference(names, arr, cores, query: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Positions and scores as the module docstring defines them, by checking every name: (prefix hits, typo hits)."""
    terms = words(query)
    q = " ".join(terms)
    rows = []
    for i, name in enumerate(names):
        ws = words(name or "")
        key = " ".join(ws)
        order = (min(len(key), 60), -(-np.inf if np.isnan(arr[i]) else arr[i]), key, i)
        if key.startswith(q):
            rows.append(((0 if q in (key, cores[i]) else 1, 0, False), order, i))
        elif all(any(w.startswith(t) for w in ws) for t in terms):
            rows.append(((2, 0, False), order, i))
        elif ws:
            costs = [min(_cost(t, w) for w in ws) for t in terms]  # each term's best word
            if all(c // 2 <= max_edits(t) for c, t in zip(costs, terms, strict=True)) and sum(c // 2 for c in costs):
                rows.append(((3, sum(c // 2 for c in costs), any(c % 2 for c in costs)), order, i))
    rows.sort()
    score = {0: 130, 1: 115, 2: 105}
    prefix = [(i, round(score[key[0]] - order[0] / 12, 2)) for key, order, i in rows if key[0] < 3]
    typos = [(i, round(95 - 10 * (edits - 1) - 5 * start_only - order[0] / 12, 2)) for (tier, edits, start_only), order, i in rows
             if tier == 3]
    return prefix, typos


def _cost(term: str, word: str) -> int:
    """2 * edits from the word's start, plus 1 when the whole word is further; 0 for a prefix; large beyond the edits."""
    edits = max_edits(term)
    d = _prefix_distance(term, word, edits)
    if d == 0:
        return 0
    return 2 * d + (OSA.distance(term, word) != d) if d <= edits else 99


@pytest.mark.parametrize("block", [1024, 8])
def test_searches_match_a_brute_force_reference(block):
    rnd = random.Random(3)
    names, arr = _book(rnd, 1500)
    ids = np.array([f"A{i:05d}" for i in range(len(names))], dtype=object)
    index = NameIndex(ids, np.array(names, dtype=object), arr, block=block)
    tok = tokenise(pa.array(names, pa.string()))
    cores = [k[:c] for k, c in zip(tok.keys.to_pylist(), tok.core_len.tolist(), strict=True)]
    queries = ["a", "ab", "k", "ok", "abac", "de ab", "ca k", "ed ok ab", "abab gmbh", "zz", "bacade", "kodeab",
               "abcaed", "ocabde", "deko okab", "abde ca"]
    for name in rnd.sample([n for n in names if n], 40):
        queries.append(name)
        w = words(name)[0]
        if len(w) >= 5:
            i = rnd.randrange(1, len(w) - 1)
            queries.append(w[:i] + w[i + 1] + w[i] + w[i + 2 :])  # a swap
            queries.append(w[:i] + w[i + 1 :] + " " + " ".join(words(name)[1:2]))  # a letter missing, and a second word
    for q in queries:
        prefix, typos = _reference(names, arr, cores, q)
        for limit in (1, 8, 20):
            got = [(int(i[1:]), s) for i, s in index.search(q, limit)]
            assert got == (prefix[:limit] if len(prefix) >= limit else prefix + typos[: limit - len(prefix)]), (q, limit)
