"""Pairwise precision and recall against a ground truth."""

from __future__ import annotations

import pandas as pd

from etl.linking import evaluate_links


def test_pairwise_precision_and_recall():
    masters = pd.DataFrame({"account_id": list("ABCDEF"), "master_id": ["m1", "m1", "m1", "m2", "m2", "m3"]})
    truth = pd.DataFrame({"account_id": list("ABCDEFX"), "global_company_id": ["g1", "g1", "g2", "g3", "g3", "g3", "g4"]})
    # Predicted pairs: AB AC BC DE (4); true pairs: AB DE DF EF (4); agreed: AB DE (2).
    assert evaluate_links(masters, truth) == (0.5, 0.5)


def test_no_pairs_at_all_is_perfect():
    masters = pd.DataFrame({"account_id": ["A", "B"], "master_id": ["m1", "m2"]})
    truth = pd.DataFrame({"account_id": ["A", "B"], "global_company_id": ["g1", "g2"]})
    assert evaluate_links(masters, truth) == (1.0, 1.0)


def test_everything_merged_has_full_recall_and_poor_precision():
    masters = pd.DataFrame({"account_id": list("ABCD"), "master_id": ["m"] * 4})
    truth = pd.DataFrame({"account_id": list("ABCD"), "global_company_id": ["g1", "g1", "g2", "g3"]})
    assert evaluate_links(masters, truth) == (1 / 6, 1.0)
