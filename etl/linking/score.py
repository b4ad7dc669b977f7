"""Name similarity for candidate pairs, with rapidfuzz's batch scorer.

Similarity is the larger of two Indel ratios (0-100), each on a normalised form:

* ``token-sort``: the words sorted alphabetically (rapidfuzz's token_sort_ratio,
  computed as a plain ratio on pre-sorted strings so words are not re-sorted
  for every pair): immune to word order ("Bank Deutsche" / "Deutsche Bank").
* ``compact``: the name without spaces: immune to split or joined words
  ("Delta Air Lines" / "Delta Airlines").

Scorers that reward a shared word regardless of the rest (WRatio,
partial_ratio, token_set_ratio: "Siemens" vs "Siemens Energy" scores 100)
are deliberately not used.

Pairs are scored once per distinct pair of normalised names, in chunks, with
``process.cpdist`` (element-wise, multi-threaded, releases the GIL).

The word check (`word_coverage`) guards the fuzzy method against names that
are close as strings but differ in a whole word: "Deutsche Bank" and "Deutsche
Bahn" score 92 overall, but "bank" and "bahn" only 75 as words.  Each word of
either name must find a counterpart in the other at least
``min_token_similarity`` similar; a typo in a long word passes ("siemens" /
"siemems" 86), a different short word does not.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process

from etl.linking.blocking import run_positions
from etl.linking.normalise import NameTable

SCORER_EXACT, SCORER_TOKEN_SORT, SCORER_COMPACT = 0, 1, 2
SCORER_NAMES = np.array(["exact", "token-sort", "compact"], dtype=object)


def _cpdist(a: np.ndarray, b: np.ndarray, workers: int, chunk_size: int, scorer=fuzz.ratio) -> np.ndarray:
    out = np.zeros(len(a), dtype=np.float64)
    for start in range(0, len(a), chunk_size):  # chunks bound the temporary string lists
        stop = start + chunk_size
        out[start:stop] = process.cpdist(list(a[start:stop]), list(b[start:stop]), scorer=scorer, workers=workers)
    return out


def name_similarity(
    table: NameTable, a: np.ndarray, b: np.ndarray, *, workers: int, chunk_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(similarity rounded to 0.1, scorer code) for each pair of name ids.

    No score cutoff: the evidence must state the real similarity, and the
    saving measured on this workload was small.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    sim = np.zeros(len(a), dtype=np.float64)
    scorer = np.full(len(a), SCORER_TOKEN_SORT, dtype=np.int8)
    same = table.compact[a] == table.compact[b]
    nonempty = (table.token_counts[a] > 0) & (table.token_counts[b] > 0)
    sim[same & nonempty] = 100.0
    scorer[same] = SCORER_EXACT
    todo = np.flatnonzero(~same & nonempty)
    if len(todo):
        ta, tb = a[todo], b[todo]
        by_sorted = _cpdist(table.sorted[ta], table.sorted[tb], workers, chunk_size)
        by_compact = _cpdist(table.compact[ta], table.compact[tb], workers, chunk_size)
        sim[todo] = np.maximum(by_sorted, by_compact)
        scorer[todo] = np.where(by_compact > by_sorted, SCORER_COMPACT, SCORER_TOKEN_SORT)
    return np.round(sim, 1), scorer


def word_coverage(table: NameTable, a: np.ndarray, b: np.ndarray, *, workers: int, chunk_size: int) -> np.ndarray:
    """For each pair, the weakest best-match similarity of any word of either name (0-100).

    Runs over chunks of pairs, so the word-pair cells (about nine per name
    pair) never all exist at once.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    out = np.zeros(len(a), dtype=np.float64)
    step = max(chunk_size // 4, 1)
    for start in range(0, len(a), step):
        out[start : start + step] = _word_coverage(
            table, a[start : start + step], b[start : start + step], workers=workers, chunk_size=chunk_size
        )
    return out


def _word_coverage(table: NameTable, a: np.ndarray, b: np.ndarray, *, workers: int, chunk_size: int) -> np.ndarray:
    """`word_coverage` on one chunk.

    All word pairs of all name pairs are laid out flat (name pair p holds
    ``len(a_p) * len(b_p)`` cells, a-word-major), each distinct word pair is
    scored once, and the per-word maxima and per-pair minima are segment
    reductions (``np.maximum.reduceat``): no loop per pair.
    """
    out = np.zeros(len(a), dtype=np.float64)
    ca, cb = table.token_counts[a], table.token_counts[b]
    ok = (ca > 0) & (cb > 0)
    if not ok.any():
        return out
    a, b, ca, cb = a[ok], b[ok], ca[ok], cb[ok]
    cells = ca * cb
    base = np.cumsum(cells) - cells
    k = run_positions(cells)
    cb_row = np.repeat(cb, cells)
    i, j = k // cb_row, k % cb_row
    code_a = table.token_codes[np.repeat(table.token_offsets[a], cells) + i]
    code_b = table.token_codes[np.repeat(table.token_offsets[b], cells) + j]

    # Score each distinct word pair once.
    n_words = np.int64(max(len(table.token_values), 1))
    pair_code = np.minimum(code_a, code_b) * n_words + np.maximum(code_a, code_b)
    uniq, inverse = np.unique(pair_code, return_inverse=True)
    ua, ub = uniq // n_words, uniq % n_words
    uscore = np.full(len(uniq), 100.0)
    diff = np.flatnonzero(ua != ub)
    if len(diff):
        uscore[diff] = _cpdist(table.token_values[ua[diff]], table.token_values[ub[diff]], workers, chunk_size)
    score = uscore[inverse]

    # Best match of each a-word (runs of cb cells), then the weakest a-word per pair.
    a_word_starts = np.repeat(base, ca) + run_positions(ca) * np.repeat(cb, ca)
    best_a = np.maximum.reduceat(score, a_word_starts)
    min_a = np.minimum.reduceat(best_a, np.cumsum(ca) - ca)
    # Same for b-words: gather the cells b-word-major, runs of ca cells.
    kk = run_positions(cells)
    ca_row = np.repeat(ca, cells)
    jj, ii = kk // ca_row, kk % ca_row
    b_major = score[np.repeat(base, cells) + ii * np.repeat(cb, cells) + jj]
    b_word_starts = np.repeat(base, cb) + run_positions(cb) * np.repeat(ca, cb)
    best_b = np.maximum.reduceat(b_major, b_word_starts)
    min_b = np.minimum.reduceat(best_b, np.cumsum(cb) - cb)
    out[ok] = np.round(np.minimum(min_a, min_b), 1)
    return out


def word_set_similarity(table: NameTable, a: np.ndarray, b: np.ndarray, *, workers: int, chunk_size: int) -> np.ndarray:
    """rapidfuzz's token_set_ratio: 100 when one name's words are all in the other.

    Too generous to link on its own ("Siemens" / "Siemens Energy" is 100), it
    is right once a parent hierarchy or a shared contact already ties two
    accounts: "Rorania Steel" and its subsidiary "Rorania Steel Operations"
    then belong together although their plain similarity is only 60-70.
    """
    return np.round(_cpdist(table.norm[a], table.norm[b], workers, chunk_size, scorer=fuzz.token_set_ratio), 1)
