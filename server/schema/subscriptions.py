"""Subscriptions over graphql-transport-ws: fired when a snapshot is published or a mutation lands."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from server.context import Info

if TYPE_CHECKING:
    from server.schema.customers import Customer

CustomerRef = Annotated["Customer", strawberry.lazy("server.schema.customers")]


@strawberry.enum
class ChangeReason(Enum):
    SNAPSHOT = "SNAPSHOT"
    MUTATION = "MUTATION"


@strawberry.type(description="Alerts changed: a new snapshot (alertIds and customerIds empty: reload) or a mutation (the alerts it changed)")
class AlertsChangedEvent:
    reason: ChangeReason
    run_id: str | None
    operation: str | None
    alert_ids: list[strawberry.ID]
    customer_ids: list[strawberry.ID]
    at: datetime


@strawberry.type(description="A customer changed: a new snapshot, or a mutation on its alerts, recommendations or links")
class CustomerUpdatedEvent:
    reason: ChangeReason
    run_id: str | None
    operation: str | None
    customer: CustomerRef | None
    at: datetime


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every change to alerts: new snapshots and alert mutations")
    async def alerts_changed(self, info: Info) -> AsyncGenerator[AlertsChangedEvent, None]:
        info.context.require("viewer")
        async for e in info.context.services.broker.subscribe():
            if e.kind not in ("snapshot", "alert"):
                continue
            yield AlertsChangedEvent(
                reason=ChangeReason(e.reason),
                run_id=e.run_id,
                operation=e.operation,
                alert_ids=[strawberry.ID(i) for i in e.ids] if e.kind == "alert" else [],
                customer_ids=[strawberry.ID(i) for i in e.account_ids],
                at=e.at,
            )

    @strawberry.subscription(description="Changes to one customer: new snapshots and mutations touching it")
    async def customer_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[CustomerUpdatedEvent, None]:
        from server.schema.customers import Customer

        ctx = info.context
        ctx.require("viewer")
        async for e in ctx.services.broker.subscribe():
            if e.kind != "snapshot" and str(id) not in e.account_ids:
                continue
            snap = ctx.snapshot()
            row = snap.customer(str(id))
            # Loaders cache per request; a subscription is one long request, so each event reads afresh.
            ctx.loaders.alerts.clear_all()
            ctx.loaders.recommendations.clear_all()
            ctx.loaders.customer.clear_all()
            yield CustomerUpdatedEvent(
                reason=ChangeReason(e.reason),
                run_id=e.run_id,
                operation=e.operation,
                customer=None if row is None else Customer.from_row(row, snap.run_id),
                at=e.at,
            )
