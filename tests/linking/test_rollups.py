"""Roll-ups per master account over the gold metrics."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from etl.linking import master_rollups
from etl.linking.schemas import LINK_SCHEMAS, ROLLUPS, to_arrow

MASTERS = pd.DataFrame(
    {
        "account_id": ["A1", "A2", "A3", "B1", "C1"],
        "master_id": ["M1-A1", "M1-A1", "M1-A1", "M1-B1", "M1-C1"],
    }
)
METRICS = pd.DataFrame(
    {
        "account_id": ["A1", "A2", "A3", "B1", "Z9"],
        "arr_usd": [300_000.0, 100_000.0, 0.0, 0.0, 5.0],
        "mrr_usd": [25_000.0, 8_000.0, 0.0, 0.0, 1.0],
        "health_score": [80.0, 40.0, 10.0, 55.0, 1.0],
        "churn_level": ["LOW", "HIGH", "MEDIUM", None, "HIGH"],
        "next_contract_end_date": [date(2027, 3, 31), date(2026, 12, 31), None, None, date(2020, 1, 1)],
    }
)


def test_rollups_per_master():
    out = master_rollups(MASTERS, METRICS).set_index("master_id")
    a = out.loc["M1-A1"]
    assert (a["member_accounts"], a["accounts_with_metrics"]) == (3, 3)
    assert (a["total_arr_usd"], a["total_mrr_usd"]) == (400_000.0, 33_000.0)
    # ARR-weighted: (80 * 300k + 40 * 100k) / 400k = 70; A3 has no ARR and no weight.
    assert a["arr_weighted_health_score"] == 70.0
    assert (a["worst_churn_level"], a["high_risk_accounts"]) == ("HIGH", 1)
    assert a["earliest_contract_end_date"] == date(2026, 12, 31)
    # No ARR at all: the plain mean of health; no churn level known.
    b = out.loc["M1-B1"]
    assert (b["arr_weighted_health_score"], b["total_arr_usd"], b["high_risk_accounts"]) == (55.0, 0.0, 0)
    assert b["worst_churn_level"] is None or pd.isna(b["worst_churn_level"])
    # A master without metrics: counted, totals null.
    c = out.loc["M1-C1"]
    assert (c["member_accounts"], c["accounts_with_metrics"]) == (1, 0)
    assert np.isnan(c["total_arr_usd"]) and np.isnan(c["arr_weighted_health_score"])
    assert pd.isna(c["earliest_contract_end_date"])
    assert "Z9" not in out.index  # metrics of accounts without a master are ignored


def test_rollups_fit_their_schema():
    table = to_arrow(ROLLUPS, master_rollups(MASTERS, METRICS))
    assert table.schema.equals(LINK_SCHEMAS[ROLLUPS], check_metadata=False)
    assert table.num_rows == 3
