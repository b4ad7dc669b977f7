"""`link_accounts`: regional Salesforce accounts -> master accounts, with evidence.

The steps, each vectorised over all accounts or all candidate pairs:

1. normalise each distinct name once (`normalise.py`);
2. build blocking keys and candidate pairs (`keys.py`, `pairs.py`, `blocking.py`);
3. score each distinct pair of names once (`score.py`) and decide the five
   methods per pair (`methods.py`):

   ========  ===========  =============================================
   method    confidence   when
   ========  ===========  =============================================
   manual    100          a must-link pair in the manual file
   exact     100          identical normalised names (ignoring spaces)
   fuzzy     85-95 (+10   name similarity >= 85 and every word has a
             parent, +10  close counterpart in the other name; capped
             contact)     at 100
   parent    90           same top-level parent, similarity >= 70
   contact   85           a shared evidence email/phone, similarity >= 70
   ========  ===========  =============================================

   (defaults of config/account_linking.json; every number is configurable)

   A pair keeps its highest confidence and the evidence of every method.
   Names made of one generic word ("Telecom Ltd") identify nobody: exact and
   fuzzy do not apply to them, parent and contact still do.
4. accept pairs at or above the acceptance threshold, send the grey band to
   review, cluster with the manual and chaining policy (`cluster.py`);
5. give clusters stable ids (`ids.py`) and write the evidence in words (`output.py`).

Pure: frames in, frames out; no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.errors import DataError
from etl.linking.blocking import unique_pairs
from etl.linking.cluster import KEPT, resolve_clusters
from etl.linking.config import LinkingConfig, ManualLinkages, ManualPair
from etl.linking.ids import assign_master_ids
from etl.linking.methods import decide, evaluate_pairs
from etl.linking.normalise import NameRules, NameTable, normalise_names
from etl.linking.output import OutputContext, links_frame, master_frame, review_frame
from etl.linking.pairs import account_keys, candidate_pairs, codes_of


@dataclass
class LinkStats:
    """Counts and timings of one linking run (printed by the CLI, kept by the pipeline)."""

    accounts: int = 0
    contacts: int = 0
    distinct_names: int = 0
    blocks: int = 0
    capped_blocks: int = 0
    discarded_blocks: int = 0
    largest_block: int = 0
    largest_compared_block: int = 0
    pairs_compared: int = 0
    name_pairs_scored: int = 0
    accepted_links: int = 0
    links_held_back: int = 0
    review_pairs: int = 0
    flagged_clusters: int = 0
    masters: int = 0
    multi_account_masters: int = 0
    largest_cluster: int = 0
    manual_must_link: int = 0
    manual_must_not_link: int = 0
    manual_unknown_accounts: int = 0
    pairs_by_key: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class LinkResult:
    master_accounts: pd.DataFrame
    links: pd.DataFrame
    review_queue: pd.DataFrame
    stats: LinkStats


@contextmanager
def _timed(stats: LinkStats, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    stats.seconds[stage] = round(stats.seconds.get(stage, 0.0) + time.perf_counter() - start, 3)


def _column(df: pd.DataFrame, name: str, required: bool, frame: str) -> np.ndarray:
    if name not in df.columns:
        if required:
            have = ", ".join(map(str, df.columns))
            raise DataError(f"{frame}: required column {name!r} is missing (columns: {have})")
        return np.full(len(df), None, dtype=object)
    s = pd.Series(df[name].to_numpy(dtype=object), dtype=object)
    return s.where(s.notna(), None).to_numpy(dtype=object)


def _inputs(accounts: pd.DataFrame, contacts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The columns the linker uses, accounts sorted by id so that input order never matters."""
    acc = pd.DataFrame(
        {
            name: pd.Series(_column(accounts, name, name in ("account_id", "account_name"), "accounts"), dtype=object)
            for name in ("account_id", "account_name", "parent_id", "phone", "website")
        }
    )
    if acc["account_id"].isna().any():
        raise DataError("accounts: account_id is null in some rows")
    acc["account_id"] = acc["account_id"].astype(str)
    dup = acc["account_id"].duplicated()
    if dup.any():
        raise DataError(f"accounts: account_id {acc.loc[dup, 'account_id'].iloc[0]!r} appears more than once")
    acc = acc.sort_values("account_id", kind="stable").reset_index(drop=True)
    con = pd.DataFrame(
        {
            name: pd.Series(_column(contacts, name, name == "account_id", "contacts"), dtype=object)
            for name in ("account_id", "email", "phone")
        }
    )
    return acc, con


def _manual_pairs(entries: list[ManualPair], index: pd.Index) -> tuple[np.ndarray, np.ndarray, list[ManualPair], int]:
    """Index pairs (lo < hi) of manual decisions; entries naming an absent account are skipped and counted."""
    if not entries:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, [], 0
    a = index.get_indexer([p.account_a for p in entries])
    b = index.get_indexer([p.account_b for p in entries])
    ok = (a >= 0) & (b >= 0)
    kept = [p for p, good in zip(entries, ok) if good]
    return np.minimum(a, b)[ok].astype(np.int64), np.maximum(a, b)[ok].astype(np.int64), kept, int((~ok).sum())


def link_accounts(
    accounts: pd.DataFrame,
    contacts: pd.DataFrame,
    config: LinkingConfig,
    manual: ManualLinkages,
    previous_masters: pd.DataFrame | None = None,
) -> LinkResult:
    """Link regional accounts into master accounts (see the module docstring).

    ``accounts`` needs account_id and account_name (parent_id, phone, website
    optional); ``contacts`` needs account_id (email, phone optional).
    ``previous_masters`` is the previous run's ``gold_master_accounts``: ids of
    unchanged masters are kept, see `etl.linking.ids`.
    """
    stats = LinkStats()
    cfg = config
    with _timed(stats, "prepare"):
        acc, con = _inputs(accounts, contacts)
        n = len(acc)
        stats.accounts, stats.contacts = n, len(con)
        ids = acc["account_id"].to_numpy(dtype=object)
        names = acc["account_name"].to_numpy(dtype=object)
        index = pd.Index(ids)

    with _timed(stats, "normalise"):
        rules = NameRules.from_config(cfg.normalisation)
        raw_codes, raw_uniques = pd.factorize(pd.Series(names, dtype=object).fillna(""))
        norms_of_raw = normalise_names(np.asarray(raw_uniques, dtype=object), rules)
        norm_of_raw, norm_uniques = codes_of(norms_of_raw)
        table = NameTable.from_norms(norm_uniques, rules.generic_words)
        norm_id = norm_of_raw[raw_codes]
        stats.distinct_names = len(table)

    with _timed(stats, "blocking"):
        keys = account_keys(acc, con, index, norm_id, cfg)
        cand = candidate_pairs(table, keys, n, cfg, rules.stopwords)
        must_lo, must_hi, must_entries, unknown_must = _manual_pairs(manual.must_link, index)
        cannot_lo, cannot_hi, _, unknown_cannot = _manual_pairs(manual.must_not_link, index)
        stats.manual_unknown_accounts = unknown_must + unknown_cannot
        if len(must_lo):  # manual pairs are always evaluated, so their evidence is shown too
            cand.lo, cand.hi = unique_pairs(np.r_[cand.lo, must_lo], np.r_[cand.hi, must_hi], n)
        b = cand.stats
        stats.blocks, stats.capped_blocks, stats.discarded_blocks = b.blocks, b.capped_blocks, b.discarded_blocks
        stats.largest_block, stats.largest_compared_block = b.largest_block, b.largest_compared_block
        stats.pairs_by_key = b.pairs_by_key
        stats.pairs_compared = len(cand.lo)

    with _timed(stats, "scoring"):
        pairs = evaluate_pairs(cand, n, table, keys, cfg, keep=must_lo * np.int64(n) + must_hi)
        stats.name_pairs_scored = int(pairs.attrs["name_pairs_scored"])
        code = pairs["lo"].to_numpy() * np.int64(n) + pairs["hi"].to_numpy()
        pairs["manual"] = np.isin(code, must_lo * np.int64(n) + must_hi)
        pairs["cannot"] = np.isin(code, cannot_lo * np.int64(n) + cannot_hi)
        decide(pairs, cfg)

    with _timed(stats, "clustering"):
        accepted = pairs[pairs["accepted"].to_numpy()].reset_index(drop=True)
        compact_code, _ = codes_of(table.compact)
        result = resolve_clusters(
            n,
            accepted["lo"].to_numpy(),
            accepted["hi"].to_numpy(),
            accepted["confidence"].to_numpy(),
            accepted["manual"].to_numpy(),
            cannot_lo,
            cannot_hi,
            cfg.clustering,
            name_group=np.where(table.generic_only[norm_id], -1 - np.arange(n), compact_code[norm_id]),
        )
        accepted["status"] = result.edge_status
        master_id = assign_master_ids(ids, result.labels, previous_masters)

    with _timed(stats, "outputs"):
        notes = pd.Series(
            [f"manual must-link by {p.author} on {p.date.isoformat()}: {p.reason}" for p in must_entries],
            index=must_lo * np.int64(n) + must_hi,
            dtype=object,
        )
        ctx = OutputContext(
            ids=ids,
            names=names,
            norms=table.norm,
            parent_key=keys.parent_key,
            evidence_values=keys.evidence_values,
            manual_notes=notes[~notes.index.duplicated()],
            n=n,
        )
        masters = master_frame(ids, master_id, result, accepted)
        links = links_frame(accepted[accepted["status"] == KEPT], ctx, master_id)
        review = review_frame(pairs, accepted, result, ctx, cfg)

    stats.accepted_links = len(links)
    stats.links_held_back = int((accepted["status"] != KEPT).sum())
    stats.review_pairs = int(review["account_id_a"].notna().sum())
    stats.flagged_clusters = len(result.flagged)
    sizes = masters["cluster_size"].to_numpy()
    stats.masters = int(masters["master_id"].nunique())
    stats.multi_account_masters = int(masters.loc[sizes > 1, "master_id"].nunique())
    stats.largest_cluster = int(sizes.max()) if len(sizes) else 0
    stats.manual_must_link = len(manual.must_link)
    stats.manual_must_not_link = len(manual.must_not_link)
    return LinkResult(master_accounts=masters, links=links, review_queue=review, stats=stats)
