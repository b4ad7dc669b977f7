"""Everything a caller can change, checked and recorded in one place.

GraphQL mutations and the REST routes both call `Operations`; each method
checks the caller's role, validates its input against the published
snapshot, and then - in one store transaction - checks the current state,
writes the change, the audit entry and (for executeAction) the Salesforce
outbox entry, and remembers the result under the idempotency key.

Results are plain dicts with a ``type``: the success types, or an expected
failure (``NotFound``, ``NotAllowed``, ``InvalidInput``, ``AlreadyExecuted``,
``IdempotencyKeyReused``) that the schema turns into a union member.  They
are what the idempotency table stores, so a replay returns the first answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio

from server.config import WriteBackConfig
from server.keys import allows
from server.overlay import alert_view, applies
from server.snapshot import Snapshot, SnapshotHolder
from server.store import ActionRecord, Actor, LinkDecision, Store, utcnow

log = logging.getLogger("c360.server.operations")

MAX_KEY_LENGTH = 200
MAX_TEXT = 2000
MAX_SNOOZE_DAYS = 365


@dataclass(frozen=True)
class Change:
    """What a successful mutation touched, for cache invalidation, subscriptions and re-evaluation."""

    operation: str
    kind: str  # alert / recommendation / link
    ids: tuple[str, ...]
    account_ids: tuple[str, ...]
    at: datetime = field(default_factory=utcnow)


Listener = Callable[[Change], Awaitable[None] | None]


def _hash(args: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()


def not_found(what: str, item_id: str) -> dict[str, Any]:
    return {"type": "NotFound", "what": what, "id": item_id, "message": f"no {what} {item_id!r} in the published snapshot"}


def not_allowed(message: str, current_status: str | None = None) -> dict[str, Any]:
    return {"type": "NotAllowed", "message": message, "current_status": current_status}


def invalid(field_name: str, message: str) -> dict[str, Any]:
    return {"type": "InvalidInput", "field": field_name, "message": message}


def reused(key: str) -> dict[str, Any]:
    return {"type": "IdempotencyKeyReused", "key": key, "message": f"idempotency key {key!r} was first used with other arguments"}


def _text(value: str | None, name: str, *, required: bool = False, min_length: int = 1) -> tuple[str | None, dict[str, Any] | None]:
    v = (value or "").strip()
    if not v:
        return None, invalid(name, f"{name} is required") if required else None
    if len(v) < min_length:
        return None, invalid(name, f"{name} must be at least {min_length} characters")
    if len(v) > MAX_TEXT:
        return None, invalid(name, f"{name} must be at most {MAX_TEXT} characters")
    return v, None


def _key(value: str | None, required: bool) -> tuple[str | None, dict[str, Any] | None]:
    if value is None or value == "":
        return None, invalid("idempotencyKey", "idempotencyKey is required") if required else None
    if len(value) > MAX_KEY_LENGTH or not value.isprintable():
        return None, invalid("idempotencyKey", f"idempotencyKey must be 1-{MAX_KEY_LENGTH} printable characters")
    return value, None


class Operations:
    def __init__(self, holder: SnapshotHolder, store: Store, write_back: WriteBackConfig, salesforce_configured: bool):
        self.holder = holder
        self.store = store
        self.write_back = write_back
        self.salesforce_configured = salesforce_configured
        self.listeners: list[Listener] = []

    # ------------------------------------------------------------------ plumbing

    def _snapshot(self) -> Snapshot:
        snap = self.holder.get()
        if snap is None:
            from server.context import NoSnapshotError

            raise NoSnapshotError("no published snapshot yet: run `c360 pipeline run` first")
        return snap

    async def _run(
        self, operation: str, actor: Actor, key: str | None, args: dict[str, Any],
        work: Callable[[Any], dict[str, Any]], target: tuple[str, str, str | None],
    ) -> dict[str, Any]:
        """`work` in one idempotent store transaction (in a worker thread), audited."""
        target_type, target_id, account_id = target

        def run() -> tuple[dict[str, Any], bool]:
            def audited(c) -> dict[str, Any]:
                result = work(c)
                self.store.audit(c, actor, operation, result["type"], target_type=target_type, target_id=target_id,
                                 account_id=account_id, idempotency_key=key, detail={**args, "result": result})
                return result

            result, replayed = self.store.idempotent(operation, key, _hash(args), actor, audited)
            if replayed:
                self.store.audit_now(actor, operation, "replayed:" + result["type"], target_type=target_type,
                                     target_id=target_id, account_id=account_id, idempotency_key=key)
            return result, replayed

        result, replayed = await anyio.to_thread.run_sync(run)
        if replayed and result["type"] == "IdempotencyKeyReused":
            result = reused(key or "")
        return result, replayed

    async def _refuse(self, operation: str, actor: Actor, needed: str, target: tuple[str, str, str | None]) -> dict[str, Any]:
        result = not_allowed(f"{operation} needs the {needed} role; this API key is {actor.role}")
        await anyio.to_thread.run_sync(
            lambda: self.store.audit_now(actor, operation, "NotAllowed", target_type=target[0], target_id=target[1], account_id=target[2])
        )
        return result

    async def notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            try:
                out = listener(change)
                if out is not None:
                    await out
            except Exception:  # a listener must never undo a committed mutation
                log.exception("listener failed after %s", change.operation)

    # ------------------------------------------------------------------ recommendations

    async def execute_action(self, actor: Actor, recommendation_id: str, idempotency_key: str | None, note: str | None) -> dict[str, Any]:
        op = "executeAction"
        snap = self._snapshot()
        row = snap.recommendation(recommendation_id)
        target = ("recommendation", recommendation_id, row["account_id"] if row else None)
        if not allows(actor.role, "operator"):
            return await self._refuse(op, actor, "operator", target)
        key, err = _key(idempotency_key, required=True)
        note, err2 = _text(note, "note")
        if err or err2:
            return err or err2  # type: ignore[return-value]
        customer = snap.customer(row["account_id"]) if row else None
        args = {"recommendationId": recommendation_id, "note": note}

        def work(c) -> dict[str, Any]:
            if row is None:
                return not_found("recommendation", recommendation_id)
            done = Store.action_for(c, recommendation_id)
            if done is not None:
                return {"type": "AlreadyExecuted", "recommendation_id": recommendation_id, "action_id": done.action_id,
                        "message": f"recommendation {recommendation_id} was executed at {done.executed_at.isoformat()} by {done.actor}"}
            change = Store.latest_change(c, recommendation_id)
            status = change.new_status if applies(change, row) else row["status"]
            if status != "OPEN":
                return not_allowed(f"recommendation {recommendation_id} is {status}; only an OPEN one can be executed", status)
            now = utcnow()
            action_id = "act_" + uuid.uuid4().hex
            outbox_id = None
            if not self.write_back.enabled:
                write_back = "disabled"
            elif not self.salesforce_configured:
                write_back = "not_configured"
            else:
                write_back = "pending"
                outbox_id = Store.enqueue(c, "salesforce_task", row["account_id"], self._task(row, customer, note, actor, now, action_id), now)
            Store.add_action(c, ActionRecord(action_id, recommendation_id, row["account_id"], note, now, actor.name, actor.key_id, key, outbox_id, write_back))
            Store.add_status_change(c, "recommendation", recommendation_id, row["account_id"], "EXECUTED", now, actor, reason=note)
            return {"type": "ActionExecuted", "action_id": action_id, "recommendation_id": recommendation_id}

        result, replayed = await self._run(op, actor, key, args, work, target)
        if result["type"] == "ActionExecuted" and not replayed:
            await self.notify(Change(op, "recommendation", (recommendation_id,), (row["account_id"],)))
        return result

    def _task(self, row: dict[str, Any], customer: dict[str, Any] | None, note: str | None, actor: Actor, now: datetime, action_id: str) -> dict[str, Any]:
        """The Salesforce Task an executed recommendation becomes (fields as the REST API takes them)."""
        lines = [row.get("action") or row.get("message") or "", "", f"Why: {row.get('message') or ''}"]
        if row.get("expected_outcome"):
            lines.append(f"Expected outcome: {row['expected_outcome']}")
        if note:
            lines.append(f"Note: {note}")
        lines.append(f"Executed by {actor.name} in Customer 360 at {now.isoformat(timespec='seconds')} (recommendation {row['recommendation_id']}, action {action_id})")
        fields = {
            "WhatId": row["account_id"],
            "Subject": f"{row.get('rule_name') or row['rule_id']}: {row.get('action') or ''}"[:200],
            "Description": "\n".join(lines)[:32000],
            "Status": self.write_back.task_status,
            "Priority": self.write_back.task_priority,
            "ActivityDate": (now.date() + timedelta(days=self.write_back.due_in_days)).isoformat(),
        }
        if customer and customer.get("owner_id"):
            fields["OwnerId"] = customer["owner_id"]
        return fields

    async def dismiss_recommendation(self, actor: Actor, recommendation_id: str, reason: str | None, idempotency_key: str | None = None) -> dict[str, Any]:
        op = "dismissRecommendation"
        snap = self._snapshot()
        row = snap.recommendation(recommendation_id)
        target = ("recommendation", recommendation_id, row["account_id"] if row else None)
        if not allows(actor.role, "operator"):
            return await self._refuse(op, actor, "operator", target)
        key, err = _key(idempotency_key, required=False)
        reason, err2 = _text(reason, "reason", required=True, min_length=3)
        if err or err2:
            return err or err2  # type: ignore[return-value]

        def work(c) -> dict[str, Any]:
            if row is None:
                return not_found("recommendation", recommendation_id)
            change = Store.latest_change(c, recommendation_id)
            status = change.new_status if applies(change, row) else row["status"]
            if status != "OPEN":
                return not_allowed(f"recommendation {recommendation_id} is {status}; only an OPEN one can be dismissed", status)
            Store.add_status_change(c, "recommendation", recommendation_id, row["account_id"], "DISMISSED", utcnow(), actor, reason=reason)
            return {"type": "RecommendationUpdated", "recommendation_id": recommendation_id}

        result, replayed = await self._run(op, actor, key, {"id": recommendation_id, "reason": reason}, work, target)
        if result["type"] == "RecommendationUpdated" and not replayed:
            await self.notify(Change(op, "recommendation", (recommendation_id,), (row["account_id"],)))
        return result

    # ------------------------------------------------------------------ alerts

    async def _alert_change(
        self, op: str, actor: Actor, alert_id: str, new_status: str, allowed_from: tuple[str, ...],
        idempotency_key: str | None, until: date | None = None, reason: str | None = None, extra_args: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        snap = self._snapshot()
        row = snap.alert(alert_id)
        target = ("alert", alert_id, row["account_id"] if row else None)
        if not allows(actor.role, "operator"):
            return await self._refuse(op, actor, "operator", target)
        key, err = _key(idempotency_key, required=False)
        if err:
            return err

        def work(c) -> dict[str, Any]:
            if row is None:
                return not_found("alert", alert_id)
            current = alert_view(row, _one(Store.latest_change(c, alert_id)))["status"]
            if current not in allowed_from:
                return not_allowed(f"alert {alert_id} is {current}; {op} needs it {' or '.join(allowed_from)}", current)
            Store.add_status_change(c, "alert", alert_id, row["account_id"], new_status, utcnow(), actor, reason=reason, until=until)
            return {"type": "AlertUpdated", "alert_id": alert_id}

        result, replayed = await self._run(op, actor, key, {"id": alert_id, **(extra_args or {})}, work, target)
        if result["type"] == "AlertUpdated" and not replayed:
            await self.notify(Change(op, "alert", (alert_id,), (row["account_id"],)))
        return result

    async def acknowledge_alert(self, actor: Actor, alert_id: str, note: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        note, err = _text(note, "note")
        if err:
            return err
        return await self._alert_change("acknowledgeAlert", actor, alert_id, "ACKNOWLEDGED", ("OPEN", "SNOOZED"),
                                        idempotency_key, reason=note, extra_args={"note": note})

    async def snooze_alert(self, actor: Actor, alert_id: str, until: date, reason: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        today = datetime.now(UTC).date()
        if until <= today:
            return invalid("until", f"until must be after today ({today.isoformat()})")
        if until > today + timedelta(days=MAX_SNOOZE_DAYS):
            return invalid("until", f"an alert can be snoozed for at most {MAX_SNOOZE_DAYS} days")
        reason, err = _text(reason, "reason")
        if err:
            return err
        return await self._alert_change("snoozeAlert", actor, alert_id, "SNOOZED", ("OPEN", "ACKNOWLEDGED", "SNOOZED"),
                                        idempotency_key, until=until, reason=reason, extra_args={"until": until.isoformat(), "reason": reason})

    # ------------------------------------------------------------------ manual links

    async def decide_link(self, actor: Actor, decision: str, account_a: str, account_b: str, reason: str | None,
                          idempotency_key: str | None = None) -> dict[str, Any]:
        op = "linkAccounts" if decision == "must_link" else "unlinkAccounts"
        a, b = sorted((account_a.strip(), account_b.strip()))
        target = ("account_pair", f"{a}/{b}", None)
        if not allows(actor.role, "admin"):
            return await self._refuse(op, actor, "admin", target)
        key, err = _key(idempotency_key, required=False)
        if err:
            return err
        if a == b:
            return invalid("accountB", "a manual decision needs two different accounts")
        reason, err = _text(reason, "reason", required=True, min_length=3)
        if err:
            return err
        snap = self._snapshot()
        missing = [x for x in (a, b) if snap.customer(x) is None]

        def work(c) -> dict[str, Any]:
            if missing:
                return not_found("account", missing[0])
            d = LinkDecision("ld_" + uuid.uuid4().hex, a, b, decision, reason, actor.name, utcnow(), actor.key_id, None)
            Store.add_link_decision(c, d)
            return {"type": "LinkDecisionRecorded", "decision_id": d.decision_id}

        result, replayed = await self._run(op, actor, key, {"a": a, "b": b, "decision": decision, "reason": reason}, work, target)
        if result["type"] == "LinkDecisionRecorded" and not replayed:
            await self.notify(Change(op, "link", (result["decision_id"],), (a, b)))
        return result


def _one(change):
    """An Overlay holding just one change (for checking a row inside a transaction)."""
    from server.store import Overlay

    o = Overlay()
    if change is not None:
        o.add(change)
    return o
