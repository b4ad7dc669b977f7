"""Mutations: expected failures are union members, so integrations can branch on them.

Every error member implements `MutationError { message }`; unexpected
failures are masked (``Unexpected error.``) and logged with the request id.
All of them go through `server.operations.Operations`, which checks roles,
records the audit entry and honours idempotency keys.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry

from server import overlay
from server.context import Info
from server.schema.accounts import LinkDecision
from server.schema.alerts import Alert, ExecutedAction, Recommendation


@strawberry.interface(description="An expected failure of a mutation")
class MutationError:
    message: str


@strawberry.type(description="No such alert, recommendation or account in the published snapshot")
class NotFound(MutationError):
    what: str
    id: strawberry.ID


@strawberry.type(description="The API key's role does not allow this, or the item's status does not")
class NotAllowed(MutationError):
    current_status: str | None


@strawberry.type(description="An argument is missing or out of range")
class InvalidInput(MutationError):
    field: str


@strawberry.type(description="This idempotency key was first used with different arguments; nothing was done")
class IdempotencyKeyReused(MutationError):
    key: str


@strawberry.type(description="The recommendation was already executed (by another call); nothing was done again")
class AlreadyExecuted(MutationError):
    recommendation_id: strawberry.ID
    action: ExecutedAction = strawberry.field(description="The first execution")


@strawberry.type(description="The action was recorded, the recommendation is EXECUTED, and the Salesforce Task is on its way")
class ActionExecuted:
    action: ExecutedAction
    recommendation: Recommendation | None


@strawberry.type
class RecommendationUpdated:
    recommendation: Recommendation


@strawberry.type
class AlertUpdated:
    alert: Alert


@strawberry.type(description="The decision is stored; `c360 links export` writes it for the linker's next run")
class LinkDecisionRecorded:
    decision: LinkDecision


ExecuteActionResult = Annotated[
    ActionExecuted | AlreadyExecuted | NotFound | NotAllowed | InvalidInput | IdempotencyKeyReused,
    strawberry.union("ExecuteActionResult"),
]
RecommendationResult = Annotated[
    RecommendationUpdated | NotFound | NotAllowed | InvalidInput | IdempotencyKeyReused,
    strawberry.union("RecommendationResult"),
]
AlertResult = Annotated[AlertUpdated | NotFound | NotAllowed | InvalidInput | IdempotencyKeyReused, strawberry.union("AlertResult")]
LinkDecisionResult = Annotated[
    LinkDecisionRecorded | NotFound | NotAllowed | InvalidInput | IdempotencyKeyReused,
    strawberry.union("LinkDecisionResult"),
]


def _error(result: dict[str, Any]):
    t = result["type"]
    if t == "NotFound":
        return NotFound(message=result["message"], what=result["what"], id=strawberry.ID(result["id"]))
    if t == "NotAllowed":
        return NotAllowed(message=result["message"], current_status=result.get("current_status"))
    if t == "InvalidInput":
        return InvalidInput(message=result["message"], field=result["field"])
    if t == "IdempotencyKeyReused":
        return IdempotencyKeyReused(message=result["message"], key=result["key"])
    raise ValueError(f"unknown result type {t!r}")  # pragma: no cover - masked, logged


def _recommendation(info: Info, rid: str) -> Recommendation | None:
    row = info.context.snapshot().recommendation(rid)
    return None if row is None else Recommendation.from_row(overlay.recommendation_view(row, info.context.store.overlay))


def _alert(info: Info, aid: str) -> Alert:
    row = info.context.snapshot().alert(aid)
    return Alert.from_row(overlay.alert_view(row, info.context.store.overlay))


def to_execute_result(info: Info, result: dict[str, Any]):
    store = info.context.store
    if result["type"] == "ActionExecuted":
        return ActionExecuted(action=ExecutedAction.from_record(store.action(result["action_id"])),
                              recommendation=_recommendation(info, result["recommendation_id"]))
    if result["type"] == "AlreadyExecuted":
        return AlreadyExecuted(message=result["message"], recommendation_id=strawberry.ID(result["recommendation_id"]),
                               action=ExecutedAction.from_record(store.action(result["action_id"])))
    return _error(result)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Operators: execute a recommendation. The same idempotencyKey always returns the first "
                         "result and never executes twice. Writes a Salesforce Task when Salesforce is configured.")
    async def execute_action(self, info: Info, recommendation_id: strawberry.ID, idempotency_key: str, note: str | None = None) -> ExecuteActionResult:
        ctx = info.context
        result = await ctx.services.operations.execute_action(ctx.actor(), str(recommendation_id), idempotency_key, note)
        return to_execute_result(info, result)

    @strawberry.mutation(description="Operators: dismiss an OPEN recommendation (a reason is required)")
    async def dismiss_recommendation(self, info: Info, id: strawberry.ID, reason: str, idempotency_key: str | None = None) -> RecommendationResult:
        ctx = info.context
        result = await ctx.services.operations.dismiss_recommendation(ctx.actor(), str(id), reason, idempotency_key)
        if result["type"] == "RecommendationUpdated":
            return RecommendationUpdated(recommendation=_recommendation(info, result["recommendation_id"]))
        return _error(result)

    @strawberry.mutation(description="Operators: acknowledge an OPEN or SNOOZED alert")
    async def acknowledge_alert(self, info: Info, id: strawberry.ID, note: str | None = None, idempotency_key: str | None = None) -> AlertResult:
        ctx = info.context
        result = await ctx.services.operations.acknowledge_alert(ctx.actor(), str(id), note, idempotency_key)
        return AlertUpdated(alert=_alert(info, result["alert_id"])) if result["type"] == "AlertUpdated" else _error(result)

    @strawberry.mutation(description="Operators: snooze an alert until a date (it reopens then if its condition still holds)")
    async def snooze_alert(self, info: Info, id: strawberry.ID, until: date, reason: str | None = None, idempotency_key: str | None = None) -> AlertResult:
        ctx = info.context
        result = await ctx.services.operations.snooze_alert(ctx.actor(), str(id), until, reason, idempotency_key)
        return AlertUpdated(alert=_alert(info, result["alert_id"])) if result["type"] == "AlertUpdated" else _error(result)

    @strawberry.mutation(description="Admins: two accounts are the same company (a must-link for the linker's next run)")
    async def link_accounts(self, info: Info, account_id_a: strawberry.ID, account_id_b: strawberry.ID, reason: str,
                            idempotency_key: str | None = None) -> LinkDecisionResult:
        return await _decide(info, "must_link", account_id_a, account_id_b, reason, idempotency_key)

    @strawberry.mutation(description="Admins: two accounts are different companies (a must-not-link for the linker's next run)")
    async def unlink_accounts(self, info: Info, account_id_a: strawberry.ID, account_id_b: strawberry.ID, reason: str,
                              idempotency_key: str | None = None) -> LinkDecisionResult:
        return await _decide(info, "must_not_link", account_id_a, account_id_b, reason, idempotency_key)


async def _decide(info: Info, decision: str, a, b, reason: str, key: str | None):
    ctx = info.context
    result = await ctx.services.operations.decide_link(ctx.actor(), decision, str(a), str(b), reason, key)
    if result["type"] == "LinkDecisionRecorded":
        found = [d for d in ctx.store.link_decisions(active_only=False) if d.decision_id == result["decision_id"]]
        return LinkDecisionRecorded(decision=LinkDecision.from_record(found[0]))
    return _error(result)
