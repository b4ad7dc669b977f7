"""The five matching methods, decided for every candidate pair at once.

``evaluate_pairs`` gathers the facts about each pair (name similarity, the
word check, the word-set similarity, same parent, shared contact) and
``decide`` turns them into per-method confidences, the best method and
acceptance.  The pair table holds numbers and codes only; text is produced
for the shown rows by `etl.linking.output`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.linking.config import LinkingConfig
from etl.linking.normalise import NameTable
from etl.linking.pairs import AccountKeys, Candidates
from etl.linking.score import SCORER_EXACT, name_similarity, word_coverage, word_set_similarity

METHODS = ("manual", "exact", "fuzzy", "parent", "contact")  # precedence on equal confidence
MANUAL, EXACT, FUZZY, PARENT, CONTACT = range(len(METHODS))
# "exact,parent" etc. for every combination of matched methods (bit i = METHODS[i]).
METHOD_SETS = np.array(
    [",".join(m for i, m in enumerate(METHODS) if mask >> i & 1) or None for mask in range(1 << len(METHODS))],
    dtype=object,
)


def evaluate_pairs(
    cand: Candidates, n: int, table: NameTable, keys: AccountKeys, cfg: LinkingConfig, keep: np.ndarray
) -> pd.DataFrame:
    """The facts about the candidate pairs that can matter, scoring each distinct pair of names once.

    A pair whose name similarity is below every method's and the review
    band's floor, with no parent or contact in common, can neither link nor
    be reviewed: it is dropped here (most candidates are), so the pair table
    stays small at a million accounts.  Pairs whose code ``lo * n + hi`` is in
    ``keep`` (the manual ones) always stay.
    """
    perf, m = cfg.performance, cfg.methods
    lo, hi = cand.lo, cand.hi
    na, nb = keys.norm_id[lo], keys.norm_id[hi]
    a, b = np.minimum(na, nb), np.maximum(na, nb)
    n_names = np.int64(max(len(table), 1))
    uniq, inverse = np.unique(a * n_names + b, return_inverse=True)
    ua, ub = uniq // n_names, uniq % n_names
    usim, uscorer = name_similarity(table, ua, ub, workers=perf.workers, chunk_size=perf.chunk_size)
    generic_u = table.generic_only[ua] | table.generic_only[ub]
    ucov = np.full(len(uniq), np.nan)
    floor = min(cfg.thresholds.review_min_confidence, m.fuzzy.min_similarity)
    check = np.flatnonzero((usim >= floor) & (uscorer != SCORER_EXACT) & ~generic_u)
    if len(check):
        ucov[check] = word_coverage(table, ua[check], ub[check], workers=perf.workers, chunk_size=perf.chunk_size)

    pair_code = lo * np.int64(n) + hi
    contact_code = cand.contact_code.reindex(pair_code).fillna(-1).to_numpy(np.int64)
    contact_count = cand.contact_count.reindex(pair_code).fillna(0).to_numpy(np.int64)
    same_parent = (keys.parent_code[lo] >= 0) & (keys.parent_code[lo] == keys.parent_code[hi])
    # Word-set similarity only where a parent or a contact already ties the pair (see score.py).
    uset = np.full(len(uniq), np.nan)
    related = np.unique(inverse[same_parent | (contact_code >= 0)])
    if len(related):
        uset[related] = word_set_similarity(
            table, ua[related], ub[related], workers=perf.workers, chunk_size=perf.chunk_size
        )
    sim, scorer = usim[inverse], uscorer[inverse]
    floor = min(cfg.thresholds.review_min_confidence, m.fuzzy.min_similarity, m.parent.min_similarity,
                m.contact.min_similarity)
    live = (sim >= floor) | same_parent | (contact_code >= 0) | np.isin(pair_code, keep)
    inv = inverse[live]
    frame = pd.DataFrame(
        {
            "lo": lo[live],
            "hi": hi[live],
            "na": na[live],
            "nb": nb[live],
            "sim": sim[live],
            "scorer": scorer[live],
            "set_sim": uset[inv],
            "exact": (scorer[live] == SCORER_EXACT) & (sim[live] == 100.0) & ~generic_u[inv],
            "generic": generic_u[inv],
            "coverage": ucov[inv],
            "same_parent": same_parent[live],
            "contact_code": contact_code[live],
            "contact_count": contact_count[live],
        }
    )
    frame.attrs["name_pairs_scored"] = len(uniq)
    return frame


def decide(pairs: pd.DataFrame, cfg: LinkingConfig) -> None:
    """Add each pair's best method, its confidence, the matched-method mask and acceptance (in place).

    Expects boolean columns ``manual`` (a must-link pair) and ``cannot`` (a
    must-not-link pair, never accepted whatever the evidence).
    """
    m = cfg.methods
    sim = pairs["sim"].to_numpy()
    related = np.fmax(sim, pairs["set_sim"].to_numpy())  # parent and contact may use the word-set similarity
    shared = pairs["contact_code"].to_numpy() >= 0
    parent = pairs["same_parent"].to_numpy()
    exact = pairs["exact"].to_numpy()
    manual = pairs["manual"].to_numpy()
    fuzzy_ok = (
        ~exact
        & ~pairs["generic"].to_numpy()
        & (sim >= m.fuzzy.min_similarity)
        & (np.nan_to_num(pairs["coverage"].to_numpy(), nan=0.0) >= m.fuzzy.min_token_similarity)
    )
    fuzzy = np.minimum(
        np.minimum(sim, m.fuzzy.max_base_confidence)
        + parent * m.fuzzy.same_parent_bonus
        + shared * m.fuzzy.shared_contact_bonus,
        100.0,
    )
    conf = np.column_stack(
        [
            np.where(manual, m.manual.confidence, np.nan),
            np.where(exact, m.exact.confidence, np.nan),
            np.where(fuzzy_ok, fuzzy, np.nan),
            np.where(parent & (related >= m.parent.min_similarity), m.parent.confidence, np.nan),
            np.where(shared & (related >= m.contact.min_similarity), m.contact.confidence, np.nan),
        ]
    )
    matched = ~np.isnan(conf)
    any_match = matched.any(axis=1)
    best = np.argmax(np.where(matched, conf, -1.0), axis=1)  # first maximum: METHODS order breaks ties
    confidence = np.where(any_match, conf[np.arange(len(conf)), best], np.nan)
    pairs["confidence"] = np.round(confidence, 1)
    pairs["method"] = np.where(any_match, best, -1).astype(np.int8)
    pairs["methods"] = (matched * (1 << np.arange(len(METHODS)))).sum(axis=1).astype(np.int16)
    pairs["accepted"] = (
        any_match
        & ~pairs["cannot"].to_numpy()
        & ((confidence >= cfg.thresholds.accept_min_confidence) | manual)
    )
