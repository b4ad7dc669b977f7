"""Alerts and recommendations: the rules' output, with the state store's statuses on top."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
import strawberry

from server import overlay
from server.context import Info
from server.schema.types import AsOf, PageInfo, as_of_for, cursor_decode, cursor_encode, enum_or_none
from server.snapshot import ALERTS, RECOMMENDATIONS, _as_date
from server.store import ActionRecord

if TYPE_CHECKING:
    from server.schema.customers import Customer

CustomerRef = Annotated["Customer", strawberry.lazy("server.schema.customers")]
SEVERITY_ORDER = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}


@strawberry.enum
class Severity(Enum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


@strawberry.enum
class AlertStatus(Enum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    SNOOZED = "SNOOZED"
    RESOLVED = "RESOLVED"


@strawberry.enum
class RecommendationStatus(Enum):
    OPEN = "OPEN"
    EXECUTED = "EXECUTED"
    DISMISSED = "DISMISSED"
    EXPIRED = "EXPIRED"


@strawberry.enum(description="Where a status came from: the published snapshot, or a change made through this API since")
class StatusSource(Enum):
    SNAPSHOT = "SNAPSHOT"
    API = "API"


@strawberry.type(description="One test of a rule with the customer's actual value: the unit of an explanation.")
class ConditionCheck:
    field: str
    op: str = strawberry.field(description="'>=', 'between', 'is null', 'not <', ...")
    threshold: str = strawberry.field(description="'' for null checks; 'other_field (value)' against another field")
    actual: str = strawberry.field(description="The customer's value as text; 'n/a' when null")
    met: bool


@strawberry.type(description="Why a rule fired: each test with its threshold and the actual value, and the same as one line.")
class Explanation:
    text: str
    conditions: list[ConditionCheck]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Explanation:
        conds = row.get("conditions")
        conds = [] if conds is None else list(conds)
        return cls(
            text=row.get("explanation") or "",
            conditions=[ConditionCheck(field=c["field"], op=c["op"], threshold=c["threshold"], actual=c["actual"], met=bool(c["met"])) for c in conds],
        )


@strawberry.type
class StatusChange:
    status: str
    at: datetime | None
    by: str = strawberry.field(description="'system', 'user', or the API key's name for changes made through this API")
    reason: str | None
    until: date | None = strawberry.field(description="Snoozed until (SNOOZED only)")
    source: StatusSource


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _as_of(r: dict[str, Any]) -> AsOf | None:
    return None if "as_of" not in r else as_of_for(r["as_of"], r.get("run_id") or "")


# What the customer's alerts and recommendations read of their rows whatever is selected (the store's status
# on top - it compares its change with status_changed_at -, the status filter, the order), and the columns each
# field shows: `Customer.alerts` and `Customer.recommendations` read only those (see server.schema.selection);
# a field not listed reads them all.  The account id is the customer's own (server.loaders sets it, unread):
# at a million accounts each column read from the served copy costs about a microsecond a row.
_STATUS = ("status", "status_changed_at")
_CHANGE = ("status_changed_by", "status_reason")  # the last change's author and reason, and the history's
ALERT_ALWAYS = ("alert_id", "severity", "impact_usd", *_STATUS)
ALERT_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (), "id": (), "type": ("alert_type",), "name": ("rule_name",), "category": ("category",), "severity": (),
    "status": (), "firstSeen": ("first_seen",), "lastSeen": ("last_seen",), "resolvedOn": ("resolved_on",),
    "snoozedUntil": ("snoozed_until",), "message": ("message",), "explanation": ("explanation", "conditions"),
    "impactUsd": (), "ruleVersion": ("rule_version",), "statusChangedAt": (), "statusChangedBy": ("status_changed_by",),
    "statusReason": ("status_reason",), "customerId": (), "asOf": ("as_of", "run_id"),
    "statusHistory": ("snoozed_until", *_CHANGE), "customer": (),
}
RECOMMENDATION_ALWAYS = ("recommendation_id", "priority", "impact_usd", *_STATUS)
RECOMMENDATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (), "id": (), "ruleId": ("rule_id",), "title": ("rule_name",), "category": ("category",), "priority": (),
    "status": (), "action": ("action",), "expectedOutcome": ("expected_outcome",), "message": ("message",),
    "explanation": ("explanation", "conditions"), "impactUsd": (), "ruleVersion": ("rule_version",),
    "firstSeen": ("first_seen",), "lastSeen": ("last_seen",), "executedOn": ("executed_on",), "statusChangedAt": (),
    "statusChangedBy": ("status_changed_by",), "statusReason": ("status_reason",),
    "outcome": ("health_score_at_last_seen", "churn_risk_at_last_seen", "health_score_change_30d", "churn_risk_change_30d",
                "health_score_change_90d", "churn_risk_change_90d"),
    "customerId": (), "asOf": ("as_of", "run_id"), "statusHistory": ("snoozed_until", *_CHANGE), "executedAction": (),
    "customer": (),
}


def _history(row: dict[str, Any], key: str, info: Info) -> list[StatusChange]:
    return [
        StatusChange(status=h["status"], at=h["at"], by=h["by"], reason=h["reason"], until=_as_date(h["until"]), source=enum_or_none(StatusSource, h["source"]))
        for h in overlay.history(row, key, info.context.store.overlay)
    ]


@strawberry.type(description="A risk alert on a customer (id '<type>:<account id>', stable across runs).")
class Alert:
    id: strawberry.ID
    type: str = strawberry.field(description="The alert rule id: CHURN_RISK, SLA_BREACH, PAYMENT_OVERDUE, ...")
    name: str
    category: str
    severity: Severity
    status: AlertStatus
    first_seen: date = strawberry.field(description="First day of the current episode")
    last_seen: date = strawberry.field(description="Last day the condition held")
    resolved_on: date | None
    snoozed_until: date | None
    message: str
    explanation: Explanation
    impact_usd: float | None
    rule_version: int
    status_changed_at: datetime | None
    status_changed_by: str | None
    status_reason: str | None
    customer_id: strawberry.ID
    as_of: AsOf
    row: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Alert:
        """From an alerts row; a row read with only the columns a request selects (`ALERT_COLUMNS`)
        leaves the fields it does not show None."""
        return cls(
            id=strawberry.ID(r["alert_id"]),
            type=r.get("alert_type"),
            name=r.get("rule_name"),
            category=r.get("category"),
            severity=enum_or_none(Severity, r["severity"]),
            status=enum_or_none(AlertStatus, r["status"]),
            first_seen=_as_date(r.get("first_seen")),
            last_seen=_as_date(r.get("last_seen")),
            resolved_on=_as_date(r.get("resolved_on")),
            snoozed_until=_as_date(r.get("snoozed_until")),
            message=r.get("message"),
            explanation=Explanation.from_row(r),
            impact_usd=r.get("impact_usd"),
            rule_version=_int(r.get("rule_version")),
            status_changed_at=r.get("status_changed_at"),
            status_changed_by=r.get("status_changed_by"),
            status_reason=r.get("status_reason"),
            customer_id=strawberry.ID(r["account_id"]),
            as_of=_as_of(r),
            row=r,
        )

    @strawberry.field(description="The snapshot's last status change, then every change made through this API since")
    def status_history(self, info: Info) -> list[StatusChange]:
        return _history(self.row, "alert_id", info)

    @strawberry.field
    async def customer(self, info: Info) -> CustomerRef | None:
        from server.schema.customers import Customer

        row = await info.context.loaders.customer.load(str(self.customer_id))
        return None if row is None else Customer.from_row(row, info.context.snapshot().run_id)


@strawberry.enum
class WriteBackStatus(Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    DISABLED = "DISABLED"


@strawberry.type(description="The Salesforce Task an executed action is written back as.")
class WriteBack:
    status: WriteBackStatus
    attempts: int
    last_error: str | None
    salesforce_task_id: str | None
    sent_at: datetime | None


@strawberry.type(description="An executed recommendation, as recorded in the state store.")
class ExecutedAction:
    id: strawberry.ID
    recommendation_id: strawberry.ID
    customer_id: strawberry.ID
    note: str | None
    executed_at: datetime
    executed_by: str
    record: strawberry.Private[ActionRecord]

    @classmethod
    def from_record(cls, a: ActionRecord) -> ExecutedAction:
        return cls(
            id=strawberry.ID(a.action_id),
            recommendation_id=strawberry.ID(a.recommendation_id),
            customer_id=strawberry.ID(a.account_id),
            note=a.note,
            executed_at=a.executed_at,
            executed_by=a.actor,
            record=a,
        )

    @strawberry.field
    def write_back(self, info: Info) -> WriteBack:
        a = self.record
        if a.outbox_id is None:
            status = WriteBackStatus.DISABLED if a.write_back == "disabled" else WriteBackStatus.NOT_CONFIGURED
            return WriteBack(status=status, attempts=0, last_error=None, salesforce_task_id=None, sent_at=None)
        entry = info.context.store.outbox_entry(a.outbox_id)
        return WriteBack(
            status=WriteBackStatus.SENT if entry.state == "sent" else WriteBackStatus.PENDING,
            attempts=entry.attempts,
            last_error=entry.last_error,
            salesforce_task_id=entry.remote_id,
            sent_at=entry.sent_at,
        )


@strawberry.type(description="What happened to health and churn risk after an executed recommendation (null until known).")
class RecommendationOutcome:
    health_score_at_last_seen: float | None
    churn_risk_at_last_seen: float | None
    health_score_change_30d: float | None
    churn_risk_change_30d: float | None
    health_score_change_90d: float | None
    churn_risk_change_90d: float | None


@strawberry.type(description="A next-best action for a customer (id '<rule>:<account id>:<first day>', one per instance).")
class Recommendation:
    id: strawberry.ID
    rule_id: str
    title: str = strawberry.field(description="The rule's name, e.g. 'Executive retention call'")
    category: str
    priority: Severity
    status: RecommendationStatus
    action: str = strawberry.field(description="What to do, in words")
    expected_outcome: str
    message: str
    explanation: Explanation
    impact_usd: float | None = strawberry.field(description="Estimated USD at stake (the rule's impact formula)")
    rule_version: int
    first_seen: date
    last_seen: date
    executed_on: date | None
    status_changed_at: datetime | None
    status_changed_by: str | None
    status_reason: str | None
    outcome: RecommendationOutcome
    customer_id: strawberry.ID
    as_of: AsOf
    row: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Recommendation:
        """From a recommendations row; a row read with only the columns a request selects
        (`RECOMMENDATION_COLUMNS`) leaves the fields it does not show None."""
        return cls(
            id=strawberry.ID(r["recommendation_id"]),
            rule_id=r.get("rule_id"),
            title=r.get("rule_name"),
            category=r.get("category"),
            priority=enum_or_none(Severity, r["priority"]),
            status=enum_or_none(RecommendationStatus, r["status"]),
            action=r.get("action"),
            expected_outcome=r.get("expected_outcome"),
            message=r.get("message"),
            explanation=Explanation.from_row(r),
            impact_usd=r.get("impact_usd"),
            rule_version=_int(r.get("rule_version")),
            first_seen=_as_date(r.get("first_seen")),
            last_seen=_as_date(r.get("last_seen")),
            executed_on=_as_date(r.get("executed_on")),
            status_changed_at=r.get("status_changed_at"),
            status_changed_by=r.get("status_changed_by"),
            status_reason=r.get("status_reason"),
            outcome=RecommendationOutcome(
                health_score_at_last_seen=r.get("health_score_at_last_seen"),
                churn_risk_at_last_seen=r.get("churn_risk_at_last_seen"),
                health_score_change_30d=r.get("health_score_change_30d"),
                churn_risk_change_30d=r.get("churn_risk_change_30d"),
                health_score_change_90d=r.get("health_score_change_90d"),
                churn_risk_change_90d=r.get("churn_risk_change_90d"),
            ),
            customer_id=strawberry.ID(r["account_id"]),
            as_of=_as_of(r),
            row=r,
        )

    @strawberry.field(description="The snapshot's last status change, then every change made through this API since")
    def status_history(self, info: Info) -> list[StatusChange]:
        return _history(self.row, "recommendation_id", info)

    @strawberry.field(description="The executed action and its Salesforce write-back; null unless executed through this API")
    def executed_action(self, info: Info) -> ExecutedAction | None:
        if self.status != RecommendationStatus.EXECUTED:
            return None
        record = info.context.store.action_for_recommendation(str(self.id))
        return None if record is None else ExecutedAction.from_record(record)

    @strawberry.field
    async def customer(self, info: Info) -> CustomerRef | None:
        from server.schema.customers import Customer

        row = await info.context.loaders.customer.load(str(self.customer_id))
        return None if row is None else Customer.from_row(row, info.context.snapshot().run_id)


# --------------------------------------------------------------------------- lists


@strawberry.input
class AlertFilter:
    customer_id: strawberry.ID | None = None
    severities: list[Severity] | None = None
    statuses: list[AlertStatus] | None = None
    types: list[str] | None = None
    categories: list[str] | None = None


@strawberry.input
class RecommendationFilter:
    customer_id: strawberry.ID | None = None
    priorities: list[Severity] | None = None
    statuses: list[RecommendationStatus] | None = None
    rule_ids: list[str] | None = None
    categories: list[str] | None = None


@strawberry.type
class AlertEdge:
    cursor: str
    node: Alert


@strawberry.type(description="A page of alerts. `available` is false when the snapshot has no alerts table (rules not run): then the list is empty.")
class AlertConnection:
    available: bool
    as_of: AsOf
    total_count: int
    page_info: PageInfo
    edges: list[AlertEdge]


@strawberry.type
class RecommendationEdge:
    cursor: str
    node: Recommendation


@strawberry.type(description="A page of recommendations. `available` is false when the snapshot has no recommendations table.")
class RecommendationConnection:
    available: bool
    as_of: AsOf
    total_count: int
    page_info: PageInfo
    edges: list[RecommendationEdge]


def _mask(slices, status: np.ndarray, customer_id, statuses, levels_col: str, levels, groups: list[tuple[str, list[str] | None]]):
    df = slices.df
    if customer_id:  # the table is sorted by account: one binary search, not a million comparisons
        lo, hi = slices.span(str(customer_id))
        mask = np.zeros(len(df), dtype=bool)
        mask[lo:hi] = True
    else:
        mask = np.ones(len(df), dtype=bool)
    if statuses:
        mask &= np.isin(status, [s.value for s in statuses])
    if levels:
        mask &= df[levels_col].isin([s.value for s in levels]).to_numpy()
    for col, values in groups:
        if values:
            mask &= df[col].isin(values).to_numpy()
    return mask


def _order(df, level_col: str, date_col: str, id_col: str) -> np.ndarray:
    """Most severe first, then the largest impact, then the latest, then id (a total order: stable pages)."""
    rank = df[level_col].map(SEVERITY_ORDER).fillna(9).to_numpy()
    impact = -df["impact_usd"].fillna(-1.0).to_numpy(dtype=float)
    day = -pd.to_datetime(df[date_col]).to_numpy(dtype="datetime64[s]").astype(np.int64)
    ids = df[id_col].to_numpy(dtype=object)
    return np.lexsort((ids, day, impact, rank))


def _page(info: Info, table: str, kind: str, f, first: int, after: str | None):
    ctx = info.context
    snap = ctx.snapshot()
    ctx.touch_all()
    first = ctx.page_size(first)
    offset = cursor_decode(after)
    as_of = AsOf(date=snap.as_of, run_id=snap.run_id)
    slices = snap.alerts if kind == "alert" else snap.recommendations
    if slices is None:
        return False, as_of, 0, PageInfo(has_next_page=False, end_cursor=after), []
    df = slices.df
    status = overlay.effective_status(snap, kind, ctx.store.overlay)
    if kind == "alert":
        mask = _mask(slices, status, f.customer_id, f.statuses, "severity", f.severities, [("alert_type", f.types), ("category", f.categories)])
        order_cols = ("severity", "last_seen", "alert_id")
    else:
        mask = _mask(slices, status, f.customer_id, f.statuses, "priority", f.priorities, [("rule_id", f.rule_ids), ("category", f.categories)])
        order_cols = ("priority", "last_seen", "recommendation_id")
    sub = df[mask]
    ordered = sub.iloc[_order(sub, *order_cols)] if len(sub) else sub
    page = ordered.iloc[offset : offset + first]
    view = overlay.alert_view if kind == "alert" else overlay.recommendation_view
    rows = [view(r, ctx.store.overlay) for r in slices.take(page.index)]
    end = offset + len(page)
    return True, as_of, len(ordered), PageInfo(has_next_page=end < len(ordered), end_cursor=cursor_encode(end) if len(page) else after), [
        (cursor_encode(offset + i + 1), r) for i, r in enumerate(rows)
    ]


@strawberry.type
class AlertQuery:
    @strawberry.field(description="Alerts across the book, most severe and largest impact first; statuses include changes made through this API")
    def alerts(self, info: Info, filter: AlertFilter | None = None, first: int = 50, after: str | None = None) -> AlertConnection:
        available, as_of, total, page_info, rows = _page(info, ALERTS, "alert", filter or AlertFilter(), first, after)
        return AlertConnection(available=available, as_of=as_of, total_count=total, page_info=page_info,
                               edges=[AlertEdge(cursor=c, node=Alert.from_row(r)) for c, r in rows])

    @strawberry.field(description="One alert by id; null when unknown")
    def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        snap = info.context.snapshot()
        row = snap.alert(str(id))
        if row is None:
            return None
        info.context.touch(row["account_id"])
        return Alert.from_row(overlay.alert_view(row, info.context.store.overlay))

    @strawberry.field(description="Recommendations across the book, highest priority and largest impact first")
    def recommendations(
        self, info: Info, filter: RecommendationFilter | None = None, first: int = 50, after: str | None = None
    ) -> RecommendationConnection:
        available, as_of, total, page_info, rows = _page(info, RECOMMENDATIONS, "recommendation", filter or RecommendationFilter(), first, after)
        return RecommendationConnection(available=available, as_of=as_of, total_count=total, page_info=page_info,
                                        edges=[RecommendationEdge(cursor=c, node=Recommendation.from_row(r)) for c, r in rows])

    @strawberry.field(description="One recommendation by id; null when unknown")
    def recommendation(self, info: Info, id: strawberry.ID) -> Recommendation | None:
        snap = info.context.snapshot()
        row = snap.recommendation(str(id))
        if row is None:
            return None
        info.context.touch(row["account_id"])
        return Recommendation.from_row(overlay.recommendation_view(row, info.context.store.overlay))


# --------------------------------------------------------------------------- per-customer re-evaluation


@strawberry.type(description="A rule that holds for the customer now, as the per-customer re-evaluation found it.")
class RuleFiring:
    rule_id: str
    rule_name: str
    kind: str = strawberry.field(description="alert / recommendation")
    category: str
    severity: Severity = strawberry.field(description="The level that holds (a recommendation's priority)")
    message: str
    action: str | None
    expected_outcome: str | None
    impact_usd: float | None
    explanation: Explanation


@strawberry.type(description="The customer's rules evaluated again after a mutation (facts from the published snapshot, rules as they are now).")
class RuleEvaluation:
    evaluated_at: datetime
    trigger: str = strawberry.field(description="The mutation that caused it")
    rules_fingerprint: str = strawberry.field(description="Identifies the rule files' content used")
    firings: list[RuleFiring]

    @classmethod
    def from_evaluation(cls, ev) -> RuleEvaluation:
        return cls(
            evaluated_at=ev.evaluated_at,
            trigger=ev.trigger,
            rules_fingerprint=ev.rules_fingerprint,
            firings=[
                RuleFiring(
                    rule_id=f.rule_id, rule_name=f.rule_name, kind=f.kind, category=f.category, severity=Severity(f.severity),
                    message=f.message, action=f.action, expected_outcome=f.expected_outcome, impact_usd=f.impact_usd,
                    explanation=Explanation(
                        text=f.explanation,
                        conditions=[ConditionCheck(field=c.field, op=c.op, threshold=c.threshold, actual=c.actual, met=c.met) for c in f.conditions],
                    ),
                )
                for f in ev.firings
            ],
        )
