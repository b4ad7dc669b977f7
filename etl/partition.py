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
    values = pd.Series(account_ids, copy=False).fillna("").astype(str).to_numpy(dtype=object)
    if partitions == 1 or len(values) == 0:
        return np.zeros(len(values), dtype=np.int64)
    return (pd.util.hash_array(values, categorize=True) % np.uint64(partitions)).astype(np.int64)


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
