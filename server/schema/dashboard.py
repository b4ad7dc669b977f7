"""The executive summary across the whole book."""

from __future__ import annotations

import numpy as np
import strawberry

from server import overlay
from server.context import Info
from server.schema.customers import Customer
from server.schema.types import AsOf


@strawberry.type
class CountByLabel:
    label: str
    count: int


@strawberry.type
class DashboardSummary:
    as_of: AsOf
    customers: int
    total_mrr_usd: float
    total_arr_usd: float
    average_health: float | None = strawberry.field(description="Mean health over customers that have a score")
    by_health_category: list[CountByLabel]
    by_churn_level: list[CountByLabel]
    arr_at_risk_usd: float = strawberry.field(description="ARR of customers at HIGH churn risk")
    top_at_risk: list[Customer] = strawberry.field(description="HIGH and MEDIUM churn risk customers, largest ARR first")
    alerts_available: bool = strawberry.field(description="False when the snapshot has no alerts table (the counts are then zero)")
    open_alerts_by_severity: list[CountByLabel] = strawberry.field(description="OPEN alerts (after changes made through this API) by severity")
    recommendations_available: bool
    open_recommendations_by_priority: list[CountByLabel] = strawberry.field(description="OPEN recommendations by priority")


@strawberry.type
class DashboardQuery:
    @strawberry.field
    def dashboard_summary(self, info: Info, top: int = 10) -> DashboardSummary:
        snap = info.context.snapshot()
        info.context.touch_all()
        m = snap.metrics
        health = m["health_score"].dropna()
        high = m["churn_level"] == "HIGH"
        risky = m[m["churn_level"].isin(["HIGH", "MEDIUM"])]
        risky = risky.sort_values(["churn_level", "arr_usd", "account_id"], ascending=[True, False, True], na_position="last")
        top_rows = snap.customers(risky.head(max(0, min(top, 100))).index)

        def counts(col: str, labels: list[str]) -> list[CountByLabel]:
            vc = m[col].value_counts()
            return [CountByLabel(label=lbl, count=int(vc.get(lbl, 0))) for lbl in labels] + [
                CountByLabel(label="none", count=int(m[col].isna().sum()))
            ]

        return DashboardSummary(
            as_of=AsOf(date=snap.as_of, run_id=snap.run_id),
            customers=len(m),
            total_mrr_usd=float(m["mrr_usd"].fillna(0).sum()),
            total_arr_usd=float(m["arr_usd"].fillna(0).sum()),
            average_health=round(float(health.mean()), 1) if len(health) else None,
            by_health_category=counts("health_category", ["Healthy", "At-Risk", "Critical"]),
            by_churn_level=counts("churn_level", ["HIGH", "MEDIUM", "LOW"]),
            arr_at_risk_usd=float(m.loc[high.fillna(False), "arr_usd"].fillna(0).sum()),
            top_at_risk=[Customer.from_row(r, snap.run_id) for r in top_rows],
            alerts_available=snap.alerts is not None,
            open_alerts_by_severity=_open_counts(snap, "alert", "severity", info),
            recommendations_available=snap.recommendations is not None,
            open_recommendations_by_priority=_open_counts(snap, "recommendation", "priority", info),
        )


def _open_counts(snap, kind: str, col: str, info: Info) -> list[CountByLabel]:
    slices = snap.alerts if kind == "alert" else snap.recommendations
    if slices is None:
        return [CountByLabel(label=lbl, count=0) for lbl in ("HIGH", "MEDIUM", "LOW")]
    status = overlay.effective_status(snap, kind, info.context.store.overlay)
    levels = slices.df[col].to_numpy(dtype=object)[status == "OPEN"]
    return [CountByLabel(label=lbl, count=int(np.sum(levels == lbl))) for lbl in ("HIGH", "MEDIUM", "LOW")]
