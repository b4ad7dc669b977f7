"""Alert and recommendation lifecycles over consecutive nightly runs (Oct 1, 2, 3, ...)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from etl.errors import DataError
from rules.lifecycle import LifecycleConfig, apply_lifecycle
from rules.schemas import ALERTS_SCHEMA, FIRINGS_SCHEMA, RECOMMENDATIONS_SCHEMA, to_arrow, to_pandas

D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
CONFIG = LifecycleConfig(
    recommendation_cooldown_days=30,
    resolved_alert_retention_days=90,
    closed_recommendation_retention_days=400,
    reopen_on_escalation=True,
    cooldown_days_by_rule={"R004": 14},
)


def fired(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """Firings from (account, rule id, severity); rule ids starting with R are recommendations."""
    records = []
    for account, rule_id, severity in rows:
        rec = rule_id.startswith("R")
        records.append(
            {
                "account_id": account, "rule_id": rule_id, "rule_name": f"{rule_id} name", "kind": "recommendation" if rec else "alert",
                "category": "Retention", "severity": severity, "message": f"{rule_id} on {account} ({severity})",
                "action": "call" if rec else None, "expected_outcome": "kept" if rec else None, "impact_usd": 10.0,
                "explanation": f"{rule_id} {severity}: x", "conditions": [{"field": "churn_risk", "op": ">=", "threshold": "70", "actual": "80", "met": True}],
                "rule_version": 1,
            }
        )
    return to_pandas(pa.Table.from_pylist(records, schema=FIRINGS_SCHEMA))


def changes(*rows: tuple) -> pd.DataFrame:
    """User changes from (id, new status, at, reason, until)."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "new_status": [r[1] for r in rows],
            "at": pd.to_datetime([r[2] for r in rows], utc=True),
            "reason": [r[3] if len(r) > 3 else None for r in rows],
            "until": pd.to_datetime([r[4] if len(r) > 4 else None for r in rows]),
        }
    )


class Runs:
    """Feeds each run's output in as the next run's previous tables, like the pipeline does via snapshots."""

    def __init__(self):
        self.alerts: pd.DataFrame | None = None
        self.recs: pd.DataFrame | None = None

    def run(self, day: date, firings: pd.DataFrame, user: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.alerts, self.recs = apply_lifecycle(firings, self.alerts, self.recs, user, day, CONFIG)
        # Every output must be publishable; the next run reads it back as the pipeline would.
        self.alerts = to_pandas(to_arrow("gold_risk_alerts", self.alerts.assign(run_id="r")))
        self.recs = to_pandas(to_arrow("gold_recommendations", self.recs.assign(run_id="r")))
        return self.alerts, self.recs


def one(frame: pd.DataFrame, key: str, value: str) -> dict:
    rows = frame[frame[key] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


# --------------------------------------------------------------------------- alerts


def test_an_alert_that_still_holds_keeps_its_id():
    runs = Runs()
    a1, _ = runs.run(D1, fired(("A", "CHURN_RISK", "MEDIUM")))
    a2, _ = runs.run(D2, fired(("A", "CHURN_RISK", "HIGH")))
    a3, _ = runs.run(D3, fired(("A", "CHURN_RISK", "HIGH")))
    assert a1["alert_id"].tolist() == a2["alert_id"].tolist() == a3["alert_id"].tolist() == ["CHURN_RISK:A"]
    row = one(a3, "alert_id", "CHURN_RISK:A")
    assert (row["status"], row["first_seen"], row["last_seen"], row["severity"]) == ("OPEN", D1, D3, "HIGH")
    assert (row["status_changed_by"], row["status_reason"]) == ("system", "condition true")
    assert row["message"] == "CHURN_RISK on A (HIGH)"


def test_an_acknowledged_alert_is_not_reopened():
    runs = Runs()
    runs.run(D1, fired(("A", "CHURN_RISK", "HIGH")))
    a2, _ = runs.run(D2, fired(("A", "CHURN_RISK", "HIGH")), changes(("CHURN_RISK:A", "ACKNOWLEDGED", "2026-10-01T15:00", "on it")))
    a3, _ = runs.run(D3, fired(("A", "CHURN_RISK", "HIGH")))
    for frame in (a2, a3):
        row = one(frame, "alert_id", "CHURN_RISK:A")
        assert (row["status"], row["status_changed_by"], row["status_reason"], row["acknowledged_severity"]) == (
            "ACKNOWLEDGED", "user", "on it", "HIGH",
        )
    assert one(a3, "alert_id", "CHURN_RISK:A")["last_seen"] == D3


def test_an_acknowledged_alert_reopens_when_its_severity_rises():
    runs = Runs()
    runs.run(D1, fired(("A", "CHURN_RISK", "MEDIUM")))
    runs.run(D2, fired(("A", "CHURN_RISK", "MEDIUM")), changes(("CHURN_RISK:A", "ACKNOWLEDGED", "2026-10-01T15:00")))
    a3, _ = runs.run(D3, fired(("A", "CHURN_RISK", "HIGH")))
    row = one(a3, "alert_id", "CHURN_RISK:A")
    assert (row["status"], row["status_reason"], row["status_changed_by"]) == ("OPEN", "severity rose from MEDIUM to HIGH", "system")


def test_a_snoozed_alert_reopens_on_its_date():
    runs = Runs()
    runs.run(D1, fired(("A", "SLA_BREACH", "LOW")))
    a2, _ = runs.run(D2, fired(("A", "SLA_BREACH", "LOW")), changes(("SLA_BREACH:A", "SNOOZED", "2026-10-01T09:00", None, "2026-10-03")))
    row = one(a2, "alert_id", "SLA_BREACH:A")
    assert (row["status"], row["snoozed_until"]) == ("SNOOZED", D3)
    a3, _ = runs.run(D3, fired(("A", "SLA_BREACH", "LOW")))
    row = one(a3, "alert_id", "SLA_BREACH:A")
    assert (row["status"], row["status_reason"], row["snoozed_until"], row["first_seen"]) == ("OPEN", "snooze expired", None, D1)


def test_an_alert_whose_condition_clears_resolves_and_can_come_back():
    runs = Runs()
    runs.run(D1, fired(("A", "PAYMENT_OVERDUE", "LOW"), ("B", "PAYMENT_OVERDUE", "LOW")))
    a2, _ = runs.run(D2, fired(("B", "PAYMENT_OVERDUE", "LOW")))
    row = one(a2, "alert_id", "PAYMENT_OVERDUE:A")
    assert (row["status"], row["resolved_on"], row["status_reason"], row["last_seen"]) == ("RESOLVED", D2, "condition cleared", D1)
    assert one(a2, "alert_id", "PAYMENT_OVERDUE:B")["status"] == "OPEN"
    a3, _ = runs.run(D3, fired(("A", "PAYMENT_OVERDUE", "MEDIUM"), ("B", "PAYMENT_OVERDUE", "LOW")))
    row = one(a3, "alert_id", "PAYMENT_OVERDUE:A")
    assert (row["status"], row["first_seen"], row["resolved_on"], row["status_reason"]) == ("OPEN", D3, None, "condition true again")


def test_acknowledged_and_snoozed_alerts_resolve_when_cleared_and_old_resolved_ones_go():
    runs = Runs()
    runs.run(D1, fired(("A", "CHURN_RISK", "HIGH"), ("B", "CHURN_RISK", "HIGH")))
    user = changes(("CHURN_RISK:A", "ACKNOWLEDGED", "2026-10-01T10:00"), ("CHURN_RISK:B", "SNOOZED", "2026-10-01T10:00", None, "2026-12-01"))
    a2, _ = runs.run(D2, fired(), user)
    assert a2.set_index("alert_id")["status"].to_dict() == {"CHURN_RISK:A": "RESOLVED", "CHURN_RISK:B": "RESOLVED"}
    a_late, _ = runs.run(D2 + timedelta(days=90), fired())
    assert len(a_late) == 2  # 90 days after resolution: still kept
    a_gone, _ = runs.run(D2 + timedelta(days=91), fired())
    assert len(a_gone) == 0


def test_replayed_or_older_user_changes_are_ignored():
    runs = Runs()
    runs.run(D1, fired(("A", "CHURN_RISK", "HIGH")))
    ack = ("CHURN_RISK:A", "ACKNOWLEDGED", "2026-10-01T15:00", "seen")
    a2, _ = runs.run(D2, fired(("A", "CHURN_RISK", "HIGH")), changes(ack))
    stamp = one(a2, "alert_id", "CHURN_RISK:A")["status_changed_at"]
    # The user reopens it at 16:00; the store sends both changes again: the newest wins.
    a3, _ = runs.run(D3, fired(("A", "CHURN_RISK", "HIGH")), changes(ack, ("CHURN_RISK:A", "OPEN", "2026-10-01T16:00", "not mine")))
    row = one(a3, "alert_id", "CHURN_RISK:A")
    assert (row["status"], row["status_reason"]) == ("OPEN", "not mine")
    # Replaying only the older acknowledgement changes nothing.
    a4, _ = runs.run(D3 + timedelta(days=1), fired(("A", "CHURN_RISK", "HIGH")), changes(ack))
    assert one(a4, "alert_id", "CHURN_RISK:A")["status"] == "OPEN"
    assert stamp < one(a4, "alert_id", "CHURN_RISK:A")["status_changed_at"]


@pytest.mark.parametrize(
    "change, problem",
    [
        (("CHURN_RISK:A", "SNOOZED", "2026-10-01T09:00"), "SNOOZED needs 'until'"),
        (("CHURN_RISK:A", "DONE", "2026-10-01T09:00"), "unknown status 'DONE'"),
        (("CHURN_RISK:A", "EXECUTED", "2026-10-01T09:00"), "unknown status 'EXECUTED'"),
        (("R001:A:20261001", "DISMISSED", "2026-10-01T09:00"), "DISMISSED needs a reason"),
    ],
)
def test_malformed_user_changes_are_refused(change, problem):
    runs = Runs()
    runs.run(D1, fired(("A", "CHURN_RISK", "HIGH"), ("A", "R001", "HIGH")))
    with pytest.raises(DataError, match=problem):
        runs.run(D2, fired(), changes(change))


def test_changes_for_unknown_ids_are_ignored():
    runs = Runs()
    runs.run(D1, fired(("A", "CHURN_RISK", "HIGH")))
    a2, _ = runs.run(D2, fired(("A", "CHURN_RISK", "HIGH")), changes(("CHURN_RISK:ZZZ", "ACKNOWLEDGED", "2026-10-01T09:00")))
    assert a2["status"].tolist() == ["OPEN"]


# --------------------------------------------------------------------------- recommendations


def test_a_recommendation_stays_one_instance_while_open():
    runs = Runs()
    _, r1 = runs.run(D1, fired(("A", "R001", "HIGH")))
    _, r2 = runs.run(D2, fired(("A", "R001", "HIGH")))
    assert r1["recommendation_id"].tolist() == r2["recommendation_id"].tolist() == ["R001:A:20261001"]
    row = one(r2, "recommendation_id", "R001:A:20261001")
    assert (row["status"], row["first_seen"], row["last_seen"], row["priority"], row["action"]) == ("OPEN", D1, D2, "HIGH", "call")


def test_an_executed_recommendation_is_not_reissued_during_the_cooldown():
    runs = Runs()
    runs.run(D1, fired(("A", "R001", "HIGH")))
    _, r2 = runs.run(D2, fired(("A", "R001", "HIGH")), changes(("R001:A:20261001", "EXECUTED", "2026-10-01T16:00", "called the CFO")))
    _, r3 = runs.run(D3, fired(("A", "R001", "HIGH")))
    for frame in (r2, r3):
        assert frame["recommendation_id"].tolist() == ["R001:A:20261001"]
        row = one(frame, "recommendation_id", "R001:A:20261001")
        assert (row["status"], row["executed_on"], row["status_reason"], row["last_seen"]) == ("EXECUTED", D1, "called the CFO", D1)
    _, r29 = runs.run(D1 + timedelta(days=29), fired(("A", "R001", "HIGH")))
    assert len(r29) == 1
    _, r30 = runs.run(D1 + timedelta(days=30), fired(("A", "R001", "HIGH")))  # the cool-down is over
    assert r30.set_index("recommendation_id")["status"].to_dict() == {"R001:A:20261001": "EXECUTED", "R001:A:20261031": "OPEN"}


def test_a_dismissed_recommendation_uses_the_rules_own_cooldown():
    runs = Runs()
    runs.run(D1, fired(("A", "R004", "LOW")))
    _, r2 = runs.run(D2, fired(("A", "R004", "LOW")), changes(("R004:A:20261001", "DISMISSED", "2026-10-01T08:00", "disputed invoice")))
    assert one(r2, "recommendation_id", "R004:A:20261001")["status"] == "DISMISSED"
    _, r14 = runs.run(D1 + timedelta(days=13), fired(("A", "R004", "LOW")))
    assert r14["status"].tolist() == ["DISMISSED"]
    _, r15 = runs.run(D1 + timedelta(days=14), fired(("A", "R004", "LOW")))
    assert sorted(r15["status"]) == ["DISMISSED", "OPEN"]


def test_an_open_recommendation_whose_condition_clears_expires():
    runs = Runs()
    runs.run(D1, fired(("A", "R006", "MEDIUM")))
    _, r2 = runs.run(D2, fired())
    row = one(r2, "recommendation_id", "R006:A:20261001")
    assert (row["status"], row["status_reason"], row["last_seen"]) == ("EXPIRED", "condition cleared", D1)
    _, r3 = runs.run(D3, fired(("A", "R006", "MEDIUM")))  # no cool-down after expiry: a new instance
    assert r3.set_index("recommendation_id")["status"].to_dict() == {"R006:A:20261001": "EXPIRED", "R006:A:20261003": "OPEN"}


def test_rerunning_the_same_day_is_stable():
    runs = Runs()
    a1, r1 = runs.run(D1, fired(("A", "CHURN_RISK", "HIGH"), ("A", "R001", "HIGH")))
    a1b, r1b = runs.run(D1, fired(("A", "CHURN_RISK", "HIGH"), ("A", "R001", "HIGH")))
    pd.testing.assert_frame_equal(a1, a1b)
    pd.testing.assert_frame_equal(r1, r1b)


def test_first_run_has_no_previous_tables():
    alerts, recs = apply_lifecycle(fired(), None, None, None, D1, CONFIG)
    assert len(alerts) == 0 and len(recs) == 0
    assert list(alerts.columns) == [c for c in ALERTS_SCHEMA.names if c != "run_id"]
    assert list(recs.columns) == [c for c in RECOMMENDATIONS_SCHEMA.names if c != "run_id"]
