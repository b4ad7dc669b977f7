"""Account-hash partitioning.

Gold is a pure function of a set of accounts and their records, so the book
can be cut into partitions by a stable hash of ``account_id`` and each
partition computed on its own (in this process, in chunks to bound memory, or
on a distributed engine later).  The hash must be stable across processes and
machines: ``pandas.util.hash_array`` uses a fixed SipHash key, unlike
Python's salted ``hash()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Silver tables shared by every partition: reference data, not owned by an account.
REFERENCE_TABLES = frozenset({"users", "products", "fx_rates"})


def partition_of(account_ids: pd.Series | np.ndarray, partitions: int) -> np.ndarray:
    """Partition number (0..partitions-1) of each account id; a null id hashes as the empty string."""
    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    values = pd.Series(account_ids, copy=False)
    if partitions == 1 or len(values) == 0:
        return np.zeros(len(values), dtype=np.int64)
    # hash each distinct id once: books have far fewer accounts than records
    codes, uniques = pd.factorize(values.fillna("").astype(str), sort=False)
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), categorize=False) % np.uint64(partitions)
    return hashed.astype(np.int64)[codes]


def split_tables(tables: Mapping[str, pd.DataFrame], partitions: int) -> Iterator[dict[str, pd.DataFrame]]:
    """Yield one dict of tables per partition: account-owned rows filtered, reference tables whole."""
    if partitions == 1:
        yield dict(tables)
        return
    keys = {
        name: partition_of(df["account_id"], partitions)
        for name, df in tables.items()
        if name not in REFERENCE_TABLES
    }
    for p in range(partitions):
        yield {
            name: (df if name in REFERENCE_TABLES else df[keys[name] == p].reset_index(drop=True))
            for name, df in tables.items()
        }


# How each account-owned bronze table finds its account: (record id, account column,
# version column).  Every version of a record follows the account of its latest
# version, so a record moved between accounts never lands in two partitions.
BRONZE_ACCOUNT_KEYS: dict[str, tuple[str | None, str, str | None]] = {
    "Account": ("Id", "Id", "SystemModstamp"),
    "Contact": ("Id", "AccountId", "SystemModstamp"),
    "Opportunity": ("Id", "AccountId", "SystemModstamp"),
    "Case": ("Id", "AccountId", "SystemModstamp"),
    "Contract": ("Id", "AccountId", "SystemModstamp"),
    "Asset": ("Id", "AccountId", "SystemModstamp"),
    "Event": ("Id", "AccountId", "SystemModstamp"),
    "Task": ("Id", "AccountId", "SystemModstamp"),
    "billing_invoices": ("invoice_id", "account_id", "updated_at"),
    "monthly_usage": (None, "account_id", None),  # the account is part of the key
}
# Line items carry no account: they follow their opportunity.
BRONZE_CHILD_KEYS: dict[str, tuple[str, str]] = {"OpportunityLineItem": ("OpportunityId", "Opportunity")}
# Shared by every partition.
BRONZE_REFERENCE_TABLES = frozenset({"User", "Product2", "CurrencyType", "DatedConversionRate"})


def record_accounts(ids: pd.Series | None, accounts: pd.Series, versions: pd.Series | None) -> pd.Series:
    """The account of each row's record, taken from the record's latest version."""
    accounts = accounts.reset_index(drop=True)
    if ids is None:
        return accounts
    ids = ids.reset_index(drop=True)
    # only records with several versions need reconciling; rows without an id keep
    # their own account (they are quarantined later anyway)
    multi = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    if not multi.any():
        return accounts
    versions = pd.Series([""] * len(ids)) if versions is None else versions.reset_index(drop=True)
    sub = pd.DataFrame({"id": ids[multi], "account": accounts[multi], "version": versions[multi].fillna("").astype(str)})
    latest = sub.sort_values(["id", "version"], kind="stable").drop_duplicates("id", keep="last").set_index("id")["account"]
    out = accounts.astype(object).copy()
    out[multi] = sub["id"].map(latest).to_numpy(dtype=object)
    return out


def _codes(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dictionary codes of ``values`` (-1 for null) and the distinct values, in order of first appearance."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    enc = arr.dictionary_encode()
    return enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False), enc.dictionary


def _multi_version_rows(ids: pa.ChunkedArray) -> np.ndarray:
    """Rows whose id occurs more than once (rows without an id keep their own account).

    Found by sorting rather than hashing: a hash table of 19M distinct ids costs
    gigabytes, a sort a few hundred megabytes.
    """
    n = len(ids)
    multi = np.zeros(n, dtype=bool)
    if n < 2:
        return multi
    order = pc.sort_indices(ids)  # nulls last; they are never equal to anything
    ordered = ids.take(order)
    same = pc.fill_null(pc.equal(ordered.slice(1), ordered.slice(0, n - 1)), False)
    same = same.to_numpy(zero_copy_only=False)
    del ordered
    dup = np.zeros(n, dtype=bool)
    dup[1:] |= same
    dup[:-1] |= same
    multi[order.to_numpy()] = dup
    return multi


def record_partitions(
    ids: pa.ChunkedArray | None, accounts: pa.ChunkedArray, versions: pa.ChunkedArray | None, partitions: int
) -> np.ndarray:
    """``partition_of(record_accounts(ids, accounts, versions), partitions)`` from Arrow columns,
    without turning whole columns into Python objects (bronze tables run to 14M rows).

    Each distinct account is hashed once; only the rows of records with several
    versions go through `record_accounts`.
    """
    if not pa.types.is_string(accounts.type) and not pa.types.is_large_string(accounts.type):
        return partition_of(record_accounts(
            ids.to_pandas() if ids is not None else None, accounts.to_pandas(),
            versions.to_pandas() if versions is not None else None,
        ), partitions)
    n = len(accounts)
    if partitions == 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    codes, uniques = _codes(accounts)
    unique_parts = partition_of(np.asarray(uniques.to_pylist(), dtype=object), partitions)
    # code -1 (a null account) picks the last entry: the partition of the empty id, as in `partition_of`
    parts = np.append(unique_parts, partition_of(pd.Series([""]), partitions))[codes]
    if ids is None:
        return parts
    multi = _multi_version_rows(ids)
    if multi.any():
        rows = pa.array(np.flatnonzero(multi))
        latest = record_accounts(
            ids.take(rows).to_pandas(),
            accounts.take(rows).to_pandas(),
            versions.take(rows).to_pandas() if versions is not None else None,
        )
        parts[multi] = partition_of(latest, partitions)
    return parts
