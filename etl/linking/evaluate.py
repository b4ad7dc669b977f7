"""Pairwise precision and recall of a linking against a ground truth.

Pairwise, because that is what an account team experiences: every pair of
accounts shown under one master that are really different companies is an
error (precision), every pair of one company's accounts left apart is a miss
(recall).  Counted from contingency sizes, never by listing pairs, so it
works for a million accounts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _pairs(sizes: np.ndarray) -> int:
    sizes = np.asarray(sizes, dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def evaluate_links(master_accounts: pd.DataFrame, ground_truth: pd.DataFrame) -> tuple[float, float]:
    """(precision, recall) of same-master pairs vs same-``global_company_id`` pairs.

    Only accounts present in both frames count.  With no predicted pairs
    precision is 1.0; with no true pairs recall is 1.0.
    """
    both = master_accounts[["account_id", "master_id"]].merge(
        ground_truth[["account_id", "global_company_id"]].astype({"account_id": str}),
        on="account_id",
        how="inner",
    )
    predicted = _pairs(both.groupby("master_id").size().to_numpy())
    true = _pairs(both.groupby("global_company_id").size().to_numpy())
    agreed = _pairs(both.groupby(["master_id", "global_company_id"]).size().to_numpy())
    precision = agreed / predicted if predicted else 1.0
    recall = agreed / true if true else 1.0
    return precision, recall
