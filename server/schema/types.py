"""GraphQL types of the customer domain, built from gold rows in one place each."""

from __future__ import annotations

import base64
import functools
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

import numpy as np
import strawberry

from server.explain import ComponentValue
from server.snapshot import _as_date


@strawberry.enum
class HealthCategory(Enum):
    HEALTHY = "Healthy"
    AT_RISK = "At-Risk"
    CRITICAL = "Critical"


@strawberry.enum
class ChurnLevel(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@strawberry.enum
class TimelineEventType(Enum):
    RENEWAL = "RENEWAL"
    SUPPORT = "SUPPORT"
    BILLING = "BILLING"
    USAGE = "USAGE"
    SALES = "SALES"
    ENGAGEMENT = "ENGAGEMENT"


@strawberry.type(description="How fresh a figure is: the date it was computed as of, and the pipeline run.")
class AsOf:
    date: date
    run_id: str


@functools.lru_cache(maxsize=256)
def as_of_for(value: Any, run_id: str) -> AsOf:
    """A row's AsOf, from its as-of value and run: one object per pair, shared (the same few for every
    customer, alert and recommendation of a snapshot; a search page makes 8, a profile a dozen)."""
    return AsOf(date=_as_date(value), run_id=run_id)


@strawberry.type(description="One fact a score component was computed from.")
class Fact:
    name: str
    label: str
    value: str | None = strawberry.field(description="The value as text (numbers, dates, booleans), null when undefined")

    @staticmethod
    def text(value: Any) -> str | None:
        if value is None:
            return None
        cls = value.__class__
        if cls is int or cls is str:  # most facts (counts, days): one test, not the chain below
            return str(value)
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
        if isinstance(value, (date, datetime)):
            return value.isoformat()[:10]
        return str(value)


@strawberry.type(description="A score component: its 0-100 score, its weight, and the facts behind it.")
class ScoreComponent:
    name: str
    score: float | None = strawberry.field(description="Null when the customer has no data for this component")
    weight: float = strawberry.field(description="Configured weight")
    effective_weight: float | None = strawberry.field(description="Weight after rescaling for components without data")
    facts: list[Fact]

    @classmethod
    def from_value(cls, c: ComponentValue) -> ScoreComponent:
        return cls(
            name=c.name,
            score=c.score,
            weight=c.weight,
            effective_weight=c.effective_weight,
            facts=[Fact(name=f.name, label=f.label, value=Fact.text(f.value)) for f in c.facts],
        )


@strawberry.type
class ScoreBreakdown:
    score: float | None
    components: list[ScoreComponent]


@strawberry.type(description="The customer's metrics as of one month-end (or the current as-of date).")
class MetricPoint:
    as_of: date
    run_id: str
    mrr_usd: float | None
    arr_usd: float | None
    health_score: float | None
    health_category: HealthCategory | None
    churn_risk: float | None
    churn_level: ChurnLevel | None
    clv_usd: float | None
    active_services: int | None


@strawberry.type
class TimelineEvent:
    id: strawberry.ID
    date: date
    type: TimelineEventType
    title: str
    status: str | None
    amount_usd: float | None
    source_table: str
    source_id: str

    @classmethod
    def from_columns(cls, columns: dict[str, list[Any]], n: int) -> list[TimelineEvent]:
        """`n` events from the timeline's values column by column, which may hold only the columns the
        request selects (`EVENT_COLUMNS`): a field whose column was not read is None here and never shown."""
        missing = [None] * n

        def col(name: str) -> list[Any]:
            return columns.get(name, missing)

        # dates and known types looked up in line: a call a value is a fifth of a page's cost here
        dates = [v if v.__class__ is date else _as_date(v) for v in columns["event_date"]] if "event_date" in columns else missing
        members = TimelineEventType._value2member_map_
        types = [members.get(v) or enum_or_none(TimelineEventType, v) for v in columns["event_type"]] if "event_type" in columns else missing
        return [cls(id=i, date=d, type=t, title=ti, status=st, amount_usd=a, source_table=tb, source_id=si)
                for i, d, t, ti, st, a, tb, si in zip(col("event_id"), dates, types, col("title"), col("status"),
                                                      col("amount_usd"), col("source_table"), col("source_id"), strict=True)]


# The timeline columns each TimelineEvent field shows (`TimelineEvent.from_columns`)
EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (), "id": ("event_id",), "date": ("event_date",), "type": ("event_type",), "title": ("title",),
    "status": ("status",), "amountUsd": ("amount_usd",), "sourceTable": ("source_table",), "sourceId": ("source_id",),
}


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class TimelineConnection:
    total_count: int
    page_info: PageInfo
    events: list[TimelineEvent]


def enum_or_none(enum_cls, value):
    """The member of `enum_cls` with this value (None for None); a value of none raises ValueError, as
    ``enum_cls(value)`` does.  Found in the class's value map first: the call costs several times more."""
    if value is None:
        return None
    member = enum_cls._value2member_map_.get(value)
    return member if member is not None else enum_cls(value)


@functools.lru_cache(maxsize=1024)  # a page's end: the same few offsets again and again
def cursor_encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def cursor_decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"invalid cursor {cursor!r}") from None
