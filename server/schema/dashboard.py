"""The executive summary across the whole book."""

from __future__ import annotations

import strawberry

from server.context import Info
from server.schema.customers import Customer
from server.schema.types import AsOf
from server.snapshot import _clean


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


@strawberry.type
class DashboardQuery:
    @strawberry.field
    def dashboard_summary(self, info: Info, top: int = 10) -> DashboardSummary:
        snap = info.context.snapshot()
        m = snap.metrics
        health = m["health_score"].dropna()
        high = m["churn_level"] == "HIGH"
        risky = m[m["churn_level"].isin(["HIGH", "MEDIUM"])]
        risky = risky.sort_values(["churn_level", "arr_usd", "account_id"], ascending=[True, False, True], na_position="last")
        top_rows = [{k: _clean(v) for k, v in r.items()} for r in risky.head(max(0, min(top, 100))).to_dict("records")]

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
        )
