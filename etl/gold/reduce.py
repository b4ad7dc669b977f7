"""Per-account reductions over record arrays.

Each takes the records' account positions, a row mask and the number of
accounts, and returns one value per account, in account order.  bincount and
ufunc.at add rows in their given order, so an account's result depends only
on its own rows: computing a subset of accounts gives the same numbers.
"""

from __future__ import annotations

import numpy as np


def count(acct: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(acct[mask], minlength=n).astype(np.int64)


def total(acct: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Sum per account; 0.0 where the account has no rows, NaN if any summed value is NaN."""
    return np.bincount(acct[mask], weights=values[mask], minlength=n).astype(np.float64)


def maximum(acct: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Max per account over non-NaN values; NaN where the account has none."""
    keep = mask & ~np.isnan(values)
    out = np.full(n, -np.inf)
    np.maximum.at(out, acct[keep], values[keep])
    out[np.isneginf(out)] = np.nan
    return out


def minimum(acct: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Min per account over non-NaN values; NaN where the account has none."""
    keep = mask & ~np.isnan(values)
    out = np.full(n, np.inf)
    np.minimum.at(out, acct[keep], values[keep])
    out[np.isposinf(out)] = np.nan
    return out


def last_per_account(acct: np.ndarray, keys: tuple[np.ndarray, ...], mask: np.ndarray, n: int) -> np.ndarray:
    """Row index of each account's last row by `keys` (most significant first), -1 where none."""
    rows = np.flatnonzero(mask)
    out = np.full(n, -1, dtype=np.int64)
    if len(rows) == 0:
        return out
    order = rows[np.lexsort(tuple(k[rows] for k in reversed(keys)) + (acct[rows],))]
    a = acct[order]
    is_last = np.ones(len(order), dtype=bool)
    is_last[:-1] = a[1:] != a[:-1]
    out[a[is_last]] = order[is_last]
    return out
