"""The three gold frames, with the evidence of every pair in words and in fields.

The evidence string lists the facts in a fixed order, comma-separated:
``identical normalised name 'siemens'`` or ``name similarity 91.2 (token-sort)``,
``weakest word match 75`` (when the word check ran), ``word-set similarity
100`` (when it exceeds the plain similarity and a parent or contact ties the
pair), ``same parent 001...``, ``shared contact j.doe@acme.com (+1 more)``,
``manual must-link by <author> on <date>: <reason>``.
Text is built only for rows that are shown, never for every candidate pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.linking.cluster import DROP_CHAIN, DROP_MUST_NOT_LINK, DROP_OVERSIZE, KEPT, ClusterResult
from etl.linking.config import LinkingConfig
from etl.linking.methods import CONTACT, METHOD_SETS, METHODS, PARENT
from etl.linking.schemas import ACCOUNT_LINKS, LINK_SCHEMAS, MASTER_ACCOUNTS, REVIEW_QUEUE
from etl.linking.score import SCORER_NAMES

_METHOD_NAMES = np.array(list(METHODS) + [None], dtype=object)  # index -1 -> None


@dataclass(frozen=True)
class OutputContext:
    """Everything needed to turn pair codes back into text."""

    ids: np.ndarray
    names: np.ndarray
    norms: np.ndarray
    parent_key: np.ndarray
    evidence_values: np.ndarray
    manual_notes: pd.Series  # by pair code lo * n + hi
    n: int


def _values(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """values[code], None where code is -1."""
    if not len(values):
        return np.full(len(codes), None, dtype=object)
    return np.where(codes >= 0, values[np.maximum(codes, 0)], None)


def _fmt(values: np.ndarray) -> pd.Series:
    """Numbers as short text: 91.2, 100 (object dtype, so empty input still concatenates)."""
    return pd.Series(np.asarray(values, dtype=np.float64)).map("{:g}".format).astype(object)


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(pd.Series(values, dtype=object), pa.string(), from_pandas=True)


def evidence_text(p: pd.DataFrame, ctx: OutputContext) -> np.ndarray:
    """The evidence sentence of each pair row (see the module docstring)."""
    if not len(p):
        return np.zeros(0, dtype=object)
    p = p.reset_index(drop=True)
    exact = p["exact"].to_numpy()
    scorer = SCORER_NAMES[p["scorer"].to_numpy()]
    norm_a = pd.Series(ctx.norms[p["na"].to_numpy()], dtype=object)
    name_part = np.where(
        exact,
        "identical normalised name '" + norm_a + "'",
        "name similarity " + _fmt(p["sim"].to_numpy()) + " (" + pd.Series(scorer, dtype=object) + ")",
    )
    cov = p["coverage"].to_numpy()
    word_part = np.where(~np.isnan(cov) & ~exact, "weakest word match " + _fmt(np.nan_to_num(cov)), None)
    set_sim = p["set_sim"].to_numpy()
    show_set = ~np.isnan(set_sim) & (np.nan_to_num(set_sim) > p["sim"].to_numpy()) & ~exact
    set_part = np.where(show_set, "word-set similarity " + _fmt(np.nan_to_num(set_sim)), None)
    parent = p["same_parent"].to_numpy()
    parent_key = pd.Series(ctx.parent_key[p["lo"].to_numpy()], dtype=object).astype(str)
    parent_part = np.where(parent, "same parent " + parent_key, None)
    code = p["contact_code"].to_numpy()
    value = pd.Series(_values(ctx.evidence_values, code), dtype=object)
    count = p["contact_count"].to_numpy()
    more = np.where(count > 1, " (+" + pd.Series(count - 1).astype(str) + " more)", "")
    contact_part = np.where(code >= 0, "shared contact " + value.astype(str) + more, None)
    pair_code = p["lo"].to_numpy(np.int64) * np.int64(ctx.n) + p["hi"].to_numpy(np.int64)
    manual_part = ctx.manual_notes.reindex(pair_code).to_numpy(object)
    parts = [_text(x) for x in (name_part, word_part, set_part, parent_part, contact_part, manual_part)]
    joined = pc.binary_join_element_wise(*parts, ", ", null_handling="skip")
    return np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)


def master_frame(
    ids: np.ndarray, master_id: np.ndarray, result: ClusterResult, accepted: pd.DataFrame
) -> pd.DataFrame:
    """One row per account: its master, and the strongest link attaching it."""
    kept = accepted[accepted["status"] == KEPT]
    ends = pd.DataFrame(
        {
            "account": np.r_[kept["lo"].to_numpy(), kept["hi"].to_numpy()],
            "confidence": np.r_[kept["confidence"].to_numpy(), kept["confidence"].to_numpy()],
            "method": np.r_[kept["method"].to_numpy(), kept["method"].to_numpy()],
        }
    )
    best = (
        ends.sort_values(["account", "confidence", "method"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("account")
        .set_index("account")
    )
    n = len(ids)
    labels = result.labels
    method = best["method"].reindex(np.arange(n)).fillna(-1).to_numpy(np.int64)
    frame = pd.DataFrame(
        {
            "account_id": pd.array(ids, dtype="str"),
            "master_id": pd.array(master_id, dtype="str"),
            "method": pd.array(np.where(method >= 0, _METHOD_NAMES[method], "singleton"), dtype="str"),
            "confidence": best["confidence"].reindex(np.arange(n)).to_numpy(np.float64),
            "cluster_size": np.bincount(labels, minlength=n)[labels].astype(np.int64),
            "needs_review": result.needs_review,
        }
    )
    return frame[LINK_SCHEMAS[MASTER_ACCOUNTS].names]


def _similarity_used(p: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The similarity the winning method relied on, and its scorer name."""
    method = p["method"].to_numpy()
    set_sim = p["set_sim"].to_numpy()
    uses_set = np.isin(method, [PARENT, CONTACT]) & ~np.isnan(set_sim) & (np.nan_to_num(set_sim) > p["sim"].to_numpy())
    sim = np.where(uses_set, set_sim, p["sim"].to_numpy())
    scorer = np.where(uses_set, "token-set", SCORER_NAMES[p["scorer"].to_numpy()])
    return sim.astype(np.float64), scorer


def links_frame(kept: pd.DataFrame, ctx: OutputContext, master_id: np.ndarray) -> pd.DataFrame:
    lo, hi = kept["lo"].to_numpy(np.int64), kept["hi"].to_numpy(np.int64)
    sim, scorer = _similarity_used(kept)
    code = kept["contact_code"].to_numpy()
    values = ctx.evidence_values
    frame = pd.DataFrame(
        {
            "master_id": master_id[lo],
            "account_id_a": ctx.ids[lo],
            "account_id_b": ctx.ids[hi],
            "account_name_a": ctx.names[lo],
            "account_name_b": ctx.names[hi],
            "method": _METHOD_NAMES[kept["method"].to_numpy()],
            "confidence": kept["confidence"].to_numpy(np.float64),
            "methods": METHOD_SETS[kept["methods"].to_numpy()],
            "name_similarity": sim,
            "name_scorer": scorer,
            "same_parent": np.where(kept["same_parent"].to_numpy(), ctx.parent_key[lo], None),
            "shared_contact": _values(values, code),
            "shared_contact_count": kept["contact_count"].to_numpy(np.int64),
            "evidence": evidence_text(kept, ctx),
        }
    )
    frame = frame.sort_values(["master_id", "account_id_a", "account_id_b"], kind="stable").reset_index(drop=True)
    return frame[LINK_SCHEMAS[ACCOUNT_LINKS].names]


_HELD_BACK = {
    DROP_MUST_NOT_LINK: "accepted link not applied: it would join accounts that a manual must-not-link keeps apart",
    DROP_CHAIN: "accepted link not applied: weak link of a chained cluster (see the chain_cluster row)",
    DROP_OVERSIZE: "accepted link not applied: its cluster exceeds max_cluster_size (see the oversize_cluster row)",
}
_REVIEW_ORDER = {"held_back_link": 0, "chain_cluster": 1, "oversize_cluster": 2, "grey_band_pair": 3}


def review_frame(
    pairs: pd.DataFrame, accepted: pd.DataFrame, result: ClusterResult, ctx: OutputContext, cfg: LinkingConfig
) -> pd.DataFrame:
    """Grey-band pairs, links held back by the guards, and flagged clusters."""
    t, fz = cfg.thresholds, cfg.methods.fuzzy
    labels = result.labels
    sim = pairs["sim"].to_numpy()
    conf = pairs["confidence"].to_numpy()
    has_method = ~np.isnan(conf)
    score = np.where(has_method, conf, np.where(pairs["generic"].to_numpy(), 0.0, sim))
    words_alike = np.nan_to_num(pairs["coverage"].to_numpy(), nan=0.0) >= t.review_min_word_similarity
    grey = (
        ~pairs["accepted"].to_numpy()
        & ~pairs["cannot"].to_numpy()
        & (score >= t.review_min_confidence)
        & (words_alike | has_method)
        & (labels[pairs["lo"].to_numpy()] != labels[pairs["hi"].to_numpy()])
    )
    g = pairs[grey].reset_index(drop=True)
    g_sim, g_cov, g_conf = g["sim"].to_numpy(), np.nan_to_num(g["coverage"].to_numpy()), g["confidence"].to_numpy()
    words_differ = (g_sim >= fz.min_similarity) & (g_cov < fz.min_token_similarity)
    reason = np.select(
        [words_differ, ~np.isnan(g_conf)],
        [
            "name similarity " + _fmt(g_sim) + " but a word differs (weakest word match " + _fmt(g_cov)
            + f" < {fz.min_token_similarity:g})",
            "best evidence " + pd.Series(_METHOD_NAMES[g["method"].to_numpy()], dtype=object).astype(str) + " "
            + _fmt(np.nan_to_num(g_conf)) + f" is below the acceptance threshold {t.accept_min_confidence:g}",
        ],
        default="name similarity " + _fmt(g_sim) + f" is below the fuzzy threshold {fz.min_similarity:g}",
    )
    frames = [_pair_rows(g, ctx, "grey_band_pair", reason, score[grey])]

    held = accepted[accepted["status"] != KEPT].reset_index(drop=True)
    if len(held):
        reason = held["status"].map(_HELD_BACK).to_numpy(object)
        frames.append(_pair_rows(held, ctx, "held_back_link", reason, held["confidence"].to_numpy()))

    flagged = result.flagged
    if len(flagged):
        frames.append(
            pd.DataFrame(
                {
                    "review_type": flagged["kind"].map({"chain": "chain_cluster", "oversize": "oversize_cluster"}),
                    "account_id_a": None,
                    "account_id_b": None,
                    "account_name_a": None,
                    "account_name_b": None,
                    "member_account_ids": pd.Series(
                        [sorted(ctx.ids[m].tolist()) for m in flagged["members"]], dtype=object, index=flagged.index
                    ),
                    "confidence": np.nan,
                    "method": None,
                    "evidence": None,
                    "reason": flagged["reason"].to_numpy(object),
                }
            )
        )
    out = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    out = out.assign(_o=out["review_type"].map(_REVIEW_ORDER)).sort_values(
        ["_o", "confidence", "account_id_a", "account_id_b"],
        ascending=[True, False, True, True],
        kind="stable",
        na_position="last",
    )
    return out.drop(columns="_o").reset_index(drop=True)[LINK_SCHEMAS[REVIEW_QUEUE].names]


def _pair_rows(
    p: pd.DataFrame, ctx: OutputContext, kind: str, reason: np.ndarray, confidence: np.ndarray
) -> pd.DataFrame:
    lo, hi = p["lo"].to_numpy(np.int64), p["hi"].to_numpy(np.int64)
    members = [list(x) for x in zip(ctx.ids[lo].tolist(), ctx.ids[hi].tolist())]
    return pd.DataFrame(
        {
            "review_type": kind,
            "account_id_a": ctx.ids[lo],
            "account_id_b": ctx.ids[hi],
            "account_name_a": ctx.names[lo],
            "account_name_b": ctx.names[hi],
            "member_account_ids": pd.Series(members, dtype=object, index=pd.RangeIndex(len(p))),
            "confidence": np.asarray(confidence, dtype=np.float64),
            "method": _METHOD_NAMES[p["method"].to_numpy()],
            "evidence": evidence_text(p, ctx),
            "reason": np.asarray(reason, dtype=object),
        },
        index=pd.RangeIndex(len(p)),
    )
