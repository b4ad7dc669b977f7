"""What followed an executed recommendation, and the per-rule report built on it.

An account team wants to know whether acting on a rule helps.  For every
EXECUTED recommendation the churn risk and health score measured 30 and 90
days after the execution date (the first row of
``gold_customer_metric_history`` on or after that day) are compared with the
values on the last day the recommendation was seen open.  Until such a
history row exists the change is null; once known it is kept.
"""

from __future__ import annotations

from collections.abc import Callable

from datetime import date

import numpy as np
import pandas as pd

from etl.errors import DataError

OUTCOME_DAYS = (30, 90)
_SCORES = (("health_score", "health_score"), ("churn_risk", "churn_risk"))


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).astype("datetime64[s]")


# The metric history as a frame, or as a function giving the history of some accounts
# (a large book's history is read only for the accounts that executed a recommendation).
History = pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None


def track_outcomes(recommendations: pd.DataFrame, metrics: pd.DataFrame, history: History, as_of: date) -> pd.DataFrame:
    """Fill the *_at_last_seen and *_change_30d/_90d columns of a recommendations frame."""
    out = recommendations.copy()
    if len(out) == 0:
        return out
    today = pd.Timestamp(as_of).as_unit("s")
    # Scores on the day a recommendation was last seen open: today's metrics for today's rows.
    seen_today = (out["last_seen"] == today).to_numpy()
    scores = metrics.set_index("account_id")[["health_score", "churn_risk"]]
    for col in ("health_score", "churn_risk"):
        values = out.loc[seen_today, "account_id"].map(scores[col]).to_numpy(dtype=float, na_value=np.nan)
        out.loc[seen_today, f"{col}_at_last_seen"] = values

    executed = out["executed_on"].notna().to_numpy()
    if callable(history) and executed.any():
        history = history(sorted(set(out.loc[executed, "account_id"])))
    if history is None or callable(history) or len(history) == 0 or not executed.any():
        return out
    missing = [c for c in ("account_id", "as_of", "health_score", "churn_risk") if c not in history.columns]
    if missing:
        raise DataError(f"gold_customer_metric_history lacks column(s) {missing}")
    hist = history[["account_id", "as_of", "health_score", "churn_risk"]].copy()
    hist["as_of"] = _dates(hist["as_of"])
    hist = hist[hist["as_of"] <= today].sort_values("as_of", kind="stable")
    for days in OUTCOME_DAYS:
        todo = executed & out[f"churn_risk_change_{days}d"].isna().to_numpy()
        if not todo.any():
            continue
        left = pd.DataFrame(
            {
                "row": np.flatnonzero(todo),
                "account_id": out.loc[todo, "account_id"].to_numpy(),
                "target": (_dates(out.loc[todo, "executed_on"]) + pd.Timedelta(days=days)).astype("datetime64[s]").to_numpy(),
            }
        ).sort_values("target", kind="stable")
        left = left[left["target"] <= today]
        if len(left) == 0:
            continue
        found = pd.merge_asof(left, hist, left_on="target", right_on="as_of", by="account_id", direction="forward")
        found = found[found["as_of"].notna()]
        rows = found["row"].to_numpy()
        for col in ("health_score", "churn_risk"):
            base = out[f"{col}_at_last_seen"].to_numpy(dtype=float, na_value=np.nan)[rows]
            out.loc[out.index[rows], f"{col}_change_{days}d"] = found[col].to_numpy(dtype=float) - base
    return out


def rule_report(alerts: pd.DataFrame, recommendations: pd.DataFrame) -> pd.DataFrame:
    """Per rule: how often it fired, what users did with it, and what followed executions.

    Counts cover what the published tables still hold (see the retention
    parameters); high/medium/low count the alerts not resolved and the open
    recommendations by severity/priority; change columns are means over executed recommendations whose
    30- or 90-day outcome is known (negative churn change = risk went down).
    """
    rows = []
    for alert_type, g in alerts.groupby("alert_type", sort=True):
        status = g["status"].value_counts()
        current = g[g["status"] != "RESOLVED"]["severity"].value_counts()
        rows.append(
            {
                "rule_id": alert_type,
                "kind": "alert",
                "fired": len(g),
                "open": int(status.get("OPEN", 0)),
                "acknowledged": int(status.get("ACKNOWLEDGED", 0)),
                "snoozed": int(status.get("SNOOZED", 0)),
                "resolved": int(status.get("RESOLVED", 0)),
                "high": int(current.get("HIGH", 0)),
                "medium": int(current.get("MEDIUM", 0)),
                "low": int(current.get("LOW", 0)),
            }
        )
    for rule_id, g in recommendations.groupby("rule_id", sort=True):
        status = g["status"].value_counts()
        done = g[g["status"] == "EXECUTED"]
        current = g[g["status"] == "OPEN"]["priority"].value_counts()
        row: dict[str, object] = {
            "rule_id": rule_id,
            "kind": "recommendation",
            "fired": len(g),
            "open": int(status.get("OPEN", 0)),
            "high": int(current.get("HIGH", 0)),
            "medium": int(current.get("MEDIUM", 0)),
            "low": int(current.get("LOW", 0)),
            "executed": int(status.get("EXECUTED", 0)),
            "dismissed": int(status.get("DISMISSED", 0)),
            "expired": int(status.get("EXPIRED", 0)),
            "executed_share": len(done) / len(g),
        }
        for days in OUTCOME_DAYS:
            known = done[f"churn_risk_change_{days}d"].notna()
            row[f"outcomes_{days}d"] = int(known.sum())
            row[f"churn_risk_change_{days}d"] = done.loc[known, f"churn_risk_change_{days}d"].mean() if known.any() else np.nan
            row[f"health_score_change_{days}d"] = done.loc[known, f"health_score_change_{days}d"].mean() if known.any() else np.nan
        rows.append(row)
    columns = [
        "rule_id", "kind", "fired", "open", "acknowledged", "snoozed", "resolved", "high", "medium", "low",
        "executed", "dismissed", "expired", "executed_share",
        *[f"{m}_{d}d" for d in OUTCOME_DAYS for m in ("outcomes", "churn_risk_change", "health_score_change")],
    ]
    report = pd.DataFrame(rows, columns=columns)
    counts = [c for c in columns[2:13] if c != "executed_share"] + [f"outcomes_{d}d" for d in OUTCOME_DAYS]
    report[counts] = report[counts].fillna(0).astype("int64")
    return report
