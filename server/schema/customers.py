"""Customers: the 360 view, the paginated list, and name search."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry

from server import explain
from server.context import Info
from server.schema.accounts import (
    LinkedAccount,
    MasterAccount,
    linked_accounts,
    master_for,
)
from server.schema.alerts import (
    ALERT_ALWAYS,
    ALERT_COLUMNS,
    RECOMMENDATION_ALWAYS,
    RECOMMENDATION_COLUMNS,
    SEVERITY_ORDER,
    Alert,
    AlertStatus,
    Recommendation,
    RecommendationStatus,
    RuleEvaluation,
)
from server.schema.types import (
    EVENT_COLUMNS,
    AsOf,
    ChurnLevel,
    HealthCategory,
    MetricPoint,
    PageInfo,
    ScoreBreakdown,
    ScoreComponent,
    TimelineConnection,
    TimelineEvent,
    TimelineEventType,
    as_of_for,
    cursor_decode,
    cursor_encode,
    enum_or_none,
)
from server.schema.selection import selected_columns
from server.snapshot import _as_date

# The metrics columns each Customer field shows (see `Customer.from_row`, and `explain.components` for the
# breakdowns); fields whose resolvers read only the id map to nothing.  A field not listed here makes a read
# take every column: a field added later is right before it is fast.
ALWAYS = ("account_id",)  # from_row needs it
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (), "id": (), "asOf": ("as_of", "run_id"),
    "name": ("account_name",), "region": ("region",), "country": ("country_code",), "industry": ("industry",),
    "owner": ("owner_name",), "ownerId": ("owner_id",), "parentId": ("parent_id",),
    "mrrUsd": ("mrr_usd",), "arrUsd": ("arr_usd",), "annualRevenueUsd": ("annual_revenue_usd",), "yoyGrowth": ("yoy_growth",),
    "winRate": ("win_rate",), "clvUsd": ("clv_usd",), "activeServices": ("active_services",),
    "healthScore": ("health_score",), "healthCategory": ("health_category",), "churnRisk": ("churn_risk",),
    "churnLevel": ("churn_level",),
    "healthBreakdown": ("health_score", *explain.columns(explain.HEALTH_COMPONENTS)),
    "churnBreakdown": ("churn_risk", *explain.columns(explain.CHURN_COMPONENTS)),
    "metricHistory": (), "timeline": (), "alerts": (), "recommendations": (), "ruleEvaluation": (),
    "masterAccount": (), "linkedAccounts": (),
}


def customer_columns(info: Info, *path: str) -> tuple[str, ...] | None:
    """The metrics columns the Customer selected at `path` below this resolver's field shows; None: all."""
    return selected_columns(info, FIELD_COLUMNS, ALWAYS, *path)


@strawberry.type(description="A business customer (one Salesforce account) and everything known about it.")
class Customer:
    id: strawberry.ID
    name: str | None
    region: str | None
    country: str | None
    industry: str | None
    owner: str | None
    owner_id: str | None
    parent_id: str | None
    as_of: AsOf
    mrr_usd: float | None = strawberry.field(description="Monthly recurring revenue from active won lines (USD)")
    arr_usd: float | None = strawberry.field(description="12 x MRR (USD)")
    annual_revenue_usd: float | None = strawberry.field(description="USD won in the 12 months to as-of")
    yoy_growth: float | None = strawberry.field(description="Annual revenue against the 12 months before, as a fraction; null when that year is zero")
    win_rate: float | None = strawberry.field(description="Won / (won + lost) over 24 months; null with none closed")
    clv_usd: float | None = strawberry.field(description="ARR x gross margin x expected lifetime (USD)")
    active_services: int | None
    health_score: float | None
    health_category: HealthCategory | None
    churn_risk: float | None
    churn_level: ChurnLevel | None
    row: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: dict[str, Any], run_id: str) -> Customer:
        return cls(
            id=strawberry.ID(row["account_id"]),
            name=row.get("account_name"),
            region=row.get("region"),
            country=row.get("country_code"),
            industry=row.get("industry"),
            owner=row.get("owner_name"),
            owner_id=row.get("owner_id"),
            parent_id=row.get("parent_id"),
            as_of=as_of_for(row.get("as_of"), row.get("run_id") or run_id),
            mrr_usd=row.get("mrr_usd"),
            arr_usd=row.get("arr_usd"),
            annual_revenue_usd=row.get("annual_revenue_usd"),
            yoy_growth=row.get("yoy_growth"),
            win_rate=row.get("win_rate"),
            clv_usd=row.get("clv_usd"),
            active_services=row.get("active_services"),
            health_score=row.get("health_score"),
            health_category=enum_or_none(HealthCategory, row.get("health_category")),
            churn_risk=row.get("churn_risk"),
            churn_level=enum_or_none(ChurnLevel, row.get("churn_level")),
            row=row,
        )

    @strawberry.field(description="Health 0-100 = weighted payment, support, usage and engagement, with the facts behind each")
    def health_breakdown(self, info: Info) -> ScoreBreakdown:
        w = info.context.health_weights
        comps = explain.components(self.row, explain.HEALTH_COMPONENTS, w)
        return ScoreBreakdown(score=self.health_score, components=[ScoreComponent.from_value(c) for c in comps])

    @strawberry.field(description="Churn risk 0-100 = weighted usage decline, payment, support and engagement, with the facts behind each")
    def churn_breakdown(self, info: Info) -> ScoreBreakdown:
        w = info.context.churn_weights
        comps = explain.components(self.row, explain.CHURN_COMPONENTS, w)
        return ScoreBreakdown(score=self.churn_risk, components=[ScoreComponent.from_value(c) for c in comps])

    @strawberry.field(description="Metrics at each month-end computed so far, oldest first")
    def metric_history(self, info: Info) -> list[MetricPoint]:
        out = []
        for r in info.context.snapshot().history_for(str(self.id)):
            out.append(
                MetricPoint(
                    as_of=_as_date(r["as_of"]),
                    run_id=r.get("run_id") or "",
                    mrr_usd=r.get("mrr_usd"),
                    arr_usd=r.get("arr_usd"),
                    health_score=r.get("health_score"),
                    health_category=enum_or_none(HealthCategory, r.get("health_category")),
                    churn_risk=r.get("churn_risk"),
                    churn_level=enum_or_none(ChurnLevel, r.get("churn_level")),
                    clv_usd=r.get("clv_usd"),
                    active_services=r.get("active_services"),
                )
            )
        return out

    @strawberry.field(description="The customer journey, newest first, filterable by event type and date")
    def timeline(
        self,
        info: Info,
        types: list[TimelineEventType] | None = None,
        since: date | None = None,
        until: date | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> TimelineConnection:
        snap = info.context.snapshot()
        positions = snap.timeline_positions(str(self.id), [t.value for t in types] if types else None, since, until)
        positions = positions[::-1]  # newest first
        offset = cursor_decode(after)
        first = info.context.page_size(first)
        page = positions[offset : offset + first]
        events = TimelineEvent.from_columns(snap.timeline_columns(page, selected_columns(info, EVENT_COLUMNS, (), "events")), len(page))
        end = offset + len(page)
        return TimelineConnection(
            total_count=len(positions),
            page_info=PageInfo(has_next_page=end < len(positions), end_cursor=cursor_encode(end) if len(page) else after),
            events=events,
        )

    @strawberry.field(description="The customer's alerts (all statuses unless filtered), most severe first; empty when the snapshot has no alerts table")
    def alerts(self, info: Info, statuses: list[AlertStatus] | None = None) -> list[Alert]:
        rows = info.context.loaders.alerts.load((str(self.id), selected_columns(info, ALERT_COLUMNS, ALERT_ALWAYS)))
        wanted = {s.value for s in statuses} if statuses else None
        rows = [r for r in rows if wanted is None or r["status"] in wanted]
        rows.sort(key=lambda r: (SEVERITY_ORDER.get(r["severity"], 9), -(r.get("impact_usd") or 0), r["alert_id"]))
        return [Alert.from_row(r) for r in rows]

    @strawberry.field(description="The customer's recommendations (all statuses unless filtered), highest priority first; empty when the snapshot has none")
    def recommendations(self, info: Info, statuses: list[RecommendationStatus] | None = None) -> list[Recommendation]:
        rows = info.context.loaders.recommendations.load((str(self.id), selected_columns(info, RECOMMENDATION_COLUMNS, RECOMMENDATION_ALWAYS)))
        wanted = {s.value for s in statuses} if statuses else None
        rows = [r for r in rows if wanted is None or r["status"] in wanted]
        rows.sort(key=lambda r: (SEVERITY_ORDER.get(r["priority"], 9), -(r.get("impact_usd") or 0), r["recommendation_id"]))
        return [Recommendation.from_row(r) for r in rows]

    @strawberry.field(description="The latest re-evaluation of the customer's rules after a mutation on this snapshot; null when none ran")
    def rule_evaluation(self, info: Info) -> RuleEvaluation | None:
        reeval = info.context.services.reevaluator
        ev = None if reeval is None else reeval.get(str(self.id))
        return None if ev is None else RuleEvaluation.from_evaluation(ev)

    @strawberry.field(description="The real company this account belongs to (the linker's master account); null when the snapshot has no linker output")
    def master_account(self, info: Info) -> MasterAccount | None:
        return master_for(info, str(self.id))

    @strawberry.field(description="The other accounts of the same company, each with the direct link evidence when there is one")
    def linked_accounts(self, info: Info) -> list[LinkedAccount]:
        return linked_accounts(info, str(self.id))


@strawberry.enum
class CustomerSortField(Enum):
    NAME = "account_name"
    ARR = "arr_usd"
    MRR = "mrr_usd"
    HEALTH = "health_score"
    CHURN_RISK = "churn_risk"
    CLV = "clv_usd"


@strawberry.input
class CustomerFilter:
    region: str | None = None
    industry: str | None = None
    owner_id: str | None = None
    health_category: HealthCategory | None = None
    churn_level: ChurnLevel | None = None
    min_arr_usd: float | None = None


@strawberry.input
class CustomerSort:
    field: CustomerSortField = CustomerSortField.ARR
    descending: bool = True


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    total_count: int
    page_info: PageInfo
    edges: list[CustomerEdge]


@strawberry.type
class SearchHit:
    score: float
    customer: Customer


def _filtered(df, f: CustomerFilter | None):
    if f is None:
        return df
    mask = None

    def both(m):
        return m if mask is None else (mask & m)

    if f.region:
        mask = both(df["region"] == f.region)
    if f.industry:
        mask = both(df["industry"] == f.industry)
    if f.owner_id:
        mask = both(df["owner_id"] == f.owner_id)
    if f.health_category:
        mask = both(df["health_category"] == f.health_category.value)
    if f.churn_level:
        mask = both(df["churn_level"] == f.churn_level.value)
    if f.min_arr_usd is not None:
        mask = both(df["arr_usd"] >= f.min_arr_usd)
    return df if mask is None else df[mask.fillna(False)]


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="One customer by Salesforce Account Id; null when unknown")
    def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        snap = info.context.snapshot()
        info.context.touch(str(id))
        row = snap.customer(str(id), customer_columns(info))
        return None if row is None else Customer.from_row(row, snap.run_id)

    @strawberry.field(description="Customers, filtered and sorted, as a Relay-style connection")
    def customers(
        self,
        info: Info,
        filter: CustomerFilter | None = None,
        sort: CustomerSort | None = None,
        first: int = 25,
        after: str | None = None,
    ) -> CustomerConnection:
        snap = info.context.snapshot()
        info.context.touch_all()
        first = info.context.page_size(first)
        sort = sort or CustomerSort()
        df = _filtered(snap.metrics, filter)
        df = df.sort_values([sort.field.value, "account_id"], ascending=[not sort.descending, True], na_position="last", kind="stable")
        offset = cursor_decode(after)
        page = df.iloc[offset : offset + first]
        rows = snap.customers(page.index, customer_columns(info, "edges", "node"))
        edges = [
            CustomerEdge(cursor=cursor_encode(offset + i + 1), node=Customer.from_row(r, snap.run_id))
            for i, r in enumerate(rows)
        ]
        end = offset + len(page)
        return CustomerConnection(
            total_count=len(df),
            page_info=PageInfo(has_next_page=end < len(df), end_cursor=edges[-1].cursor if edges else after),
            edges=edges,
        )

    @strawberry.field(description="Autocomplete: prefix matches first, then typo-tolerant matches, ranked")
    def search_customers(self, info: Info, query: str, limit: int = 10) -> list[SearchHit]:
        snap = info.context.snapshot()
        info.context.touch_all()
        hits = snap.names.search_positions(query, max(1, min(limit, 50)))
        rows = snap.customers_at([p for p, _ in hits], customer_columns(info, "customer")) if hits else []
        return [SearchHit(score=s, customer=Customer.from_row(r, snap.run_id)) for (_, s), r in zip(hits, rows)]
