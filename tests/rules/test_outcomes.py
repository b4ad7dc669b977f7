"""Outcome tracking of executed recommendations, and the per-rule report."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from rules.outcomes import rule_report, track_outcomes
from rules.schemas import RECOMMENDATIONS_SCHEMA, empty

AS_OF = date(2026, 10, 31)


def recs(rows: list[dict]) -> pd.DataFrame:
    frame = empty(RECOMMENDATIONS_SCHEMA).drop(columns=["run_id"])
    out = pd.DataFrame({c: [r.get(c) for r in rows] for c in frame.columns})
    for c in ("first_seen", "last_seen", "executed_on"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[s]")
    for c in [c for c in out.columns if c.endswith(("_at_last_seen", "_30d", "_90d"))]:
        out[c] = out[c].astype("float64")
    return out


HISTORY = pd.DataFrame(
    {
        "account_id": ["A", "A", "A", "B"],
        "as_of": [date(2026, 7, 31), date(2026, 8, 31), date(2026, 10, 31), date(2026, 10, 31)],
        "health_score": [55.0, 60.0, 70.0, 20.0],
        "churn_risk": [60.0, 55.0, 40.0, 90.0],
    }
)
METRICS = pd.DataFrame({"account_id": ["A", "B"], "health_score": [70.0, 20.0], "churn_risk": [40.0, 90.0]})


def test_changes_30_and_90_days_after_execution():
    frame = recs(
        [
            # executed Jul 1 after being seen open on Jun 30 with health 50, churn 70
            {"recommendation_id": "R001:A:1", "account_id": "A", "rule_id": "R001", "status": "EXECUTED", "last_seen": "2026-06-30",
             "executed_on": "2026-07-01", "health_score_at_last_seen": 50.0, "churn_risk_at_last_seen": 70.0},
            # executed Oct 15: its 30 days are not over
            {"recommendation_id": "R001:B:1", "account_id": "B", "rule_id": "R001", "status": "EXECUTED", "last_seen": "2026-10-14",
             "executed_on": "2026-10-15", "health_score_at_last_seen": 25.0, "churn_risk_at_last_seen": 85.0},
            # open today: scores of today are recorded
            {"recommendation_id": "R006:B:1", "account_id": "B", "rule_id": "R006", "status": "OPEN", "last_seen": "2026-10-31"},
        ]
    )
    out = track_outcomes(frame, METRICS, HISTORY, AS_OF).set_index("recommendation_id")
    # 30 days after Jul 1 is Jul 31 (history row of Jul 31); 90 days is Sep 29, first row on or after it is Oct 31.
    assert out.loc["R001:A:1", ["health_score_change_30d", "churn_risk_change_30d"]].tolist() == [5.0, -10.0]
    assert out.loc["R001:A:1", ["health_score_change_90d", "churn_risk_change_90d"]].tolist() == [20.0, -30.0]
    assert out.loc["R001:B:1", ["health_score_change_30d", "churn_risk_change_90d"]].isna().all()
    assert out.loc["R006:B:1", ["health_score_at_last_seen", "churn_risk_at_last_seen"]].tolist() == [20.0, 90.0]
    assert out.loc["R001:A:1", "health_score_at_last_seen"] == 50.0  # not seen today: kept


def test_known_outcomes_are_kept_when_history_is_gone():
    frame = recs(
        [{"recommendation_id": "x", "account_id": "A", "rule_id": "R001", "status": "EXECUTED", "last_seen": "2026-06-30",
          "executed_on": "2026-07-01", "health_score_at_last_seen": 50.0, "churn_risk_at_last_seen": 70.0,
          "health_score_change_30d": 1.0, "churn_risk_change_30d": -2.0}]
    )
    out = track_outcomes(frame, METRICS, HISTORY.iloc[0:0], AS_OF)
    assert out[["health_score_change_30d", "churn_risk_change_30d"]].iloc[0].tolist() == [1.0, -2.0]


def test_rule_report():
    alerts = pd.DataFrame(
        {
            "alert_type": ["CHURN_RISK", "CHURN_RISK", "CHURN_RISK", "SLA_BREACH"],
            "status": ["OPEN", "ACKNOWLEDGED", "RESOLVED", "SNOOZED"],
            "severity": ["HIGH", "MEDIUM", "HIGH", "LOW"],
        }
    )
    recommendations = pd.DataFrame(
        {
            "rule_id": ["R001", "R001", "R001", "R001", "R006"],
            "status": ["EXECUTED", "EXECUTED", "DISMISSED", "OPEN", "EXPIRED"],
            "priority": ["HIGH", "HIGH", "HIGH", "HIGH", "MEDIUM"],
            "churn_risk_change_30d": [-10.0, -20.0, np.nan, np.nan, np.nan],
            "health_score_change_30d": [4.0, 8.0, np.nan, np.nan, np.nan],
            "churn_risk_change_90d": [-30.0, np.nan, np.nan, np.nan, np.nan],
            "health_score_change_90d": [12.0, np.nan, np.nan, np.nan, np.nan],
        }
    )
    report = rule_report(alerts, recommendations).set_index("rule_id")
    assert report.loc["CHURN_RISK", ["fired", "open", "acknowledged", "resolved", "high", "medium"]].tolist() == [3, 1, 1, 1, 1, 1]
    assert report.loc["SLA_BREACH", ["snoozed", "low"]].tolist() == [1, 1]
    r001 = report.loc["R001"]
    assert r001[["fired", "executed", "dismissed", "open", "high", "outcomes_30d", "outcomes_90d"]].tolist() == [4, 2, 1, 1, 1, 2, 1]
    assert r001["executed_share"] == 0.5
    assert r001[["churn_risk_change_30d", "health_score_change_30d", "churn_risk_change_90d", "health_score_change_90d"]].tolist() == [
        -15.0, 6.0, -30.0, 12.0,
    ]
    assert report.loc["R006", "expired"] == 1 and np.isnan(report.loc["R006", "churn_risk_change_30d"])


@pytest.mark.parametrize("column", ["account_id", "churn_risk"])
def test_history_must_have_the_scores(column):
    frame = recs([{"recommendation_id": "x", "account_id": "A", "rule_id": "R001", "status": "EXECUTED", "last_seen": "2026-06-30", "executed_on": "2026-07-01"}])
    from etl.errors import DataError

    with pytest.raises(DataError, match=column):
        track_outcomes(frame, METRICS, HISTORY.drop(columns=[column]), AS_OF)
