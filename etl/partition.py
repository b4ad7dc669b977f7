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
