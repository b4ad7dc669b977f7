"""The executive summary across the whole book."""

from __future__ import annotations

import strawberry

from server.context import Info
from server.schema.customers import Customer
from server.schema.types import AsOf
from server.summary import LEVELS, TOP_AT_RISK, BookSummary, OpenCounts


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
        book = snap.summary or BookSummary.of(snap)  # computed when the snapshot loaded
        top_rows = book.top_at_risk[: max(0, min(top, TOP_AT_RISK))]
        overlay = info.context.store.overlay
        return DashboardSummary(
            as_of=AsOf(date=snap.as_of, run_id=snap.run_id),
            customers=book.customers,
            total_mrr_usd=book.total_mrr_usd,
            total_arr_usd=book.total_arr_usd,
            average_health=book.average_health,
            by_health_category=[CountByLabel(label=lbl, count=n) for lbl, n in book.by_health_category],
            by_churn_level=[CountByLabel(label=lbl, count=n) for lbl, n in book.by_churn_level],
            arr_at_risk_usd=book.arr_at_risk_usd,
            top_at_risk=[Customer.from_row(dict(r), snap.run_id) for r in top_rows],  # a copy: the summary's rows stay as loaded
            alerts_available=book.alerts is not None,
            open_alerts_by_severity=_open_counts(book.alerts, overlay),
            recommendations_available=book.recommendations is not None,
            open_recommendations_by_priority=_open_counts(book.recommendations, overlay),
        )


def _open_counts(counts: OpenCounts | None, overlay) -> list[CountByLabel]:
    values = (0,) * len(LEVELS) if counts is None else counts.counts(overlay)
    return [CountByLabel(label=lbl, count=n) for lbl, n in zip(LEVELS, values, strict=True)]
