"""Per-account keys and the candidate pairs they produce (see `blocking` for the keys).

Everything here is integer codes: strings are factorized once, pairs are
index arrays, and the shared-contact evidence of a pair is the code of the
shared value.  Output frames turn codes back into text for the few rows
that are shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.linking.blocking import DISCARD, STAR, WINDOWED, BlockStats, block_pairs, unique_pairs
from etl.linking.config import LinkingConfig
from etl.linking.keys import domain_labels, email_keys, phone_keys, ultimate_parent_keys
from etl.linking.normalise import NameTable


def codes_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) of an object array; null -> -1."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _distinct_map(values: pd.Series, fn: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """Apply a vectorised text function to the distinct values only, then broadcast back.

    Contact emails repeat their domain thousands of times; parsing each
    distinct value once is several times faster.
    """
    codes, uniques = codes_of(values.to_numpy(object))
    if not len(uniques):
        return np.full(len(values), None, dtype=object)
    out = np.asarray(fn(pd.Series(uniques, dtype=object)), dtype=object)
    return np.where(codes >= 0, out[np.maximum(codes, 0)], None)


@dataclass
class AccountKeys:
    """What the methods need per account, plus the raw key rows for blocking."""

    norm_id: np.ndarray  # distinct normalised name of each account
    parent_key: np.ndarray  # top-level parent account id (object) or None
    parent_code: np.ndarray  # its code, -1 outside any hierarchy
    evidence_account: np.ndarray  # evidence rows: account index ...
    evidence_code: np.ndarray  # ... and value code into evidence_values
    evidence_is_email: np.ndarray
    evidence_values: np.ndarray
    domain_account: np.ndarray
    domain_code: np.ndarray


def account_keys(
    acc: pd.DataFrame, con: pd.DataFrame, index: pd.Index, norm_id: np.ndarray, cfg: LinkingConfig
) -> AccountKeys:
    """Parent hierarchy tops, evidence emails/phones and domain labels, per account."""
    contact_cfg = cfg.methods.contact
    parent_key = ultimate_parent_keys(acc["account_id"].to_numpy(object), acc["parent_id"].to_numpy(object))
    con_idx = index.get_indexer(pd.Series(con["account_id"], dtype=object).astype(str))
    known = con_idx >= 0
    con_idx = con_idx[known].astype(np.int64)
    emails = pd.Series(con["email"].to_numpy(object)[known], dtype=object)
    email_evidence, email_domain = email_keys(emails, contact_cfg)
    contact_phone = phone_keys(pd.Series(con["phone"].to_numpy(object)[known], dtype=object), contact_cfg)
    account_phone = phone_keys(acc["phone"], contact_cfg)
    n = len(acc)
    ev_account = np.concatenate([con_idx, con_idx, np.arange(n, dtype=np.int64)])
    ev_value = np.concatenate([email_evidence, contact_phone, account_phone])
    ev_email = np.concatenate([np.ones(len(con_idx), bool), np.zeros(len(con_idx) + n, bool)])
    present = pd.notna(ev_value)
    ev_account, ev_value, ev_email = ev_account[present], ev_value[present], ev_email[present]
    ev_code, ev_values = codes_of(ev_value)

    d_account = np.concatenate([con_idx, np.arange(n, dtype=np.int64)])
    d_label = np.concatenate(
        [
            _distinct_map(pd.Series(email_domain, dtype=object), domain_labels),
            _distinct_map(pd.Series(acc["website"].to_numpy(object), dtype=object), domain_labels),
        ]
    )
    d_present = pd.notna(d_label)
    d_code, _ = codes_of(d_label[d_present])
    parent_code, _ = codes_of(parent_key)
    return AccountKeys(
        norm_id=norm_id,
        parent_key=parent_key,
        parent_code=parent_code,
        evidence_account=ev_account,
        evidence_code=ev_code,
        evidence_is_email=ev_email,
        evidence_values=ev_values,
        domain_account=d_account[d_present],
        domain_code=d_code,
    )


def _name_key_rows(
    table: NameTable, cfg: LinkingConfig, stopwords: frozenset[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(key code, name id) rows of the name-level keys, over distinct non-generic names."""
    b = cfg.blocking
    usable = ~table.generic_only
    name_ids = np.flatnonzero(usable)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    counts = table.token_counts
    owner = np.repeat(np.arange(len(table)), counts)
    codes = table.token_codes
    position = np.arange(len(codes)) - np.repeat(table.token_offsets[:-1], counts)
    stop = np.isin(table.token_values, np.array(sorted(stopwords), dtype=object))
    ok = usable[owner] & ~stop[codes] if len(codes) else np.zeros(0, dtype=bool)
    if "rare_token" in b.keys and b.rare_tokens_per_account:
        o_own, o_code = owner[ok], codes[ok]
        freq = np.bincount(o_code, minlength=len(table.token_values))
        order = np.lexsort((o_code, freq[o_code], o_own))  # per name: rarest word first, ties by word
        o_own, o_code = o_own[order], o_code[order]
        starts = np.flatnonzero(np.r_[True, o_own[1:] != o_own[:-1]]) if len(o_own) else np.zeros(0, np.int64)
        run_start = np.repeat(starts, np.diff(np.r_[starts, len(o_own)]))
        keep = (np.arange(len(o_own)) - run_start) < b.rare_tokens_per_account
        out["rare_token"] = (o_code[keep], o_own[keep])
    if "first_token" in b.keys:
        first = ok & (position == 0)
        out["first_token"] = (codes[first], owner[first])
    sorted_compact = np.asarray(pd.Series(table.sorted, dtype=object).str.replace(" ", "", regex=False), dtype=object)
    for key, source, ids in (
        ("prefix", table.compact[name_ids], name_ids),
        ("sorted_prefix", sorted_compact[name_ids], name_ids),
    ):
        if key in b.keys:
            s = pd.Series(source, dtype=object)
            long_enough = (s.str.len() >= b.prefix_length).to_numpy()
            part_codes, _ = codes_of(s.str[: b.prefix_length].to_numpy(object))
            out[key] = (part_codes[long_enough], ids[long_enough])
    if "suffix" in b.keys and "rare_token" in out:
        # The end of each rare word: a typo near the start of a brand keeps its ending.
        word_codes, owners = out["rare_token"]
        words = pd.Series(table.token_values[word_codes], dtype=object)
        long_enough = (words.str.len() >= b.prefix_length).to_numpy()
        part_codes, _ = codes_of(words.str[-b.prefix_length :].to_numpy(object))
        out["suffix"] = (part_codes[long_enough], owners[long_enough])
    return out


@dataclass
class Candidates:
    lo: np.ndarray  # account index pairs, lo < hi
    hi: np.ndarray
    stats: BlockStats
    contact_code: pd.Series  # by pair code lo * n + hi: first shared evidence value code
    contact_count: pd.Series  # by pair code: number of shared evidence values


def candidate_pairs(
    table: NameTable, keys: AccountKeys, n: int, cfg: LinkingConfig, stopwords: frozenset[str]
) -> Candidates:
    """Distinct candidate account pairs from every configured key, and the
    shared-contact evidence of the pairs that share an email or phone."""
    b = cfg.blocking
    stats = BlockStats()
    lefts: list[np.ndarray] = []
    rights: list[np.ndarray] = []
    norm_id = keys.norm_id
    account_rank = table.rank[norm_id]
    # Representative of each distinct name: its smallest account index (accounts are sorted by id).
    rep = np.full(len(table), -1, dtype=np.int64)
    rep[norm_id[::-1]] = np.arange(n, dtype=np.int64)[::-1]

    def add(label: str, key: np.ndarray, member: np.ndarray, rank: np.ndarray, oversize: str, cap: int):
        left, right, pair_key, s = block_pairs(
            key, member, rank, max_block_size=cap, oversize=oversize, window=b.neighbourhood_window, label=label
        )
        stats.add(s)
        lefts.append(left)
        rights.append(right)
        return left, right, pair_key

    for label, (key, name_ids) in _name_key_rows(table, cfg, stopwords).items():
        left, right, _, s = block_pairs(
            key,
            name_ids,
            table.rank[name_ids],
            max_block_size=b.max_block_size,
            oversize=WINDOWED,
            window=b.neighbourhood_window,
            label=label,
        )
        stats.add(s)
        lefts.append(rep[left])
        rights.append(rep[right])

    if "name" in b.keys:
        members = np.flatnonzero(~table.generic_only[norm_id])
        compact_code, _ = codes_of(table.compact)
        add("name", compact_code[norm_id][members], members, account_rank[members], STAR, b.max_block_size)
    if "parent" in b.keys:
        members = np.flatnonzero(keys.parent_code >= 0)
        add("parent", keys.parent_code[members], members, account_rank[members], WINDOWED, b.max_block_size)

    # Emails and phones: blocks and evidence at once; a value on too many accounts is discarded.
    limit = cfg.methods.contact.max_accounts_per_contact
    shared_lo, shared_hi, shared_key = [], [], []
    for label, mask in (("email", keys.evidence_is_email), ("phone", ~keys.evidence_is_email)):
        acc_idx = keys.evidence_account[mask]
        left, right, pair_key, s = block_pairs(
            keys.evidence_code[mask],
            acc_idx,
            account_rank[acc_idx],
            max_block_size=limit,
            oversize=DISCARD,
            window=b.neighbourhood_window,
            label=label,
        )
        if label in b.keys:  # evidence counts even when the key is not used for blocking
            stats.add(s)
            lefts.append(left)
            rights.append(right)
        shared_lo.append(np.minimum(left, right))
        shared_hi.append(np.maximum(left, right))
        shared_key.append(pair_key)
    if "domain" in b.keys:
        d_acc = keys.domain_account
        add("domain", keys.domain_code, d_acc, account_rank[d_acc], WINDOWED, b.max_block_size)

    empty = np.zeros(0, dtype=np.int64)
    lo, hi = unique_pairs(np.concatenate(lefts) if lefts else empty, np.concatenate(rights) if rights else empty, n)
    contact_code, contact_count = _shared_contacts(
        np.concatenate(shared_lo), np.concatenate(shared_hi), np.concatenate(shared_key), keys.evidence_values, n
    )
    return Candidates(lo=lo, hi=hi, stats=stats, contact_code=contact_code, contact_count=contact_count)


def _shared_contacts(
    lo: np.ndarray, hi: np.ndarray, key: np.ndarray, values: np.ndarray, n: int
) -> tuple[pd.Series, pd.Series]:
    """Per account pair: the alphabetically first shared evidence value and the number shared."""
    keep = lo != hi
    frame = pd.DataFrame({"pair": lo[keep] * np.int64(n) + hi[keep], "key": key[keep]}).drop_duplicates()
    if len(frame):
        # Order by the value text so "first" is stable and readable (only the values in use are sorted).
        used = np.unique(frame["key"].to_numpy())
        text_rank = np.zeros(len(values), dtype=np.int64)
        text_rank[used[np.argsort(values[used].astype(str), kind="stable")]] = np.arange(len(used))
        frame = frame.assign(rank=text_rank[frame["key"].to_numpy()]).sort_values(["pair", "rank"], kind="stable")
    counts = frame.groupby("pair", sort=True).size()
    first = frame.drop_duplicates("pair").set_index("pair")["key"]
    return first, counts
