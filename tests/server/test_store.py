"""The state store on its own: idempotency across connections, overlays, the outbox lease."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from server.overlay import alert_view, history
from server.store import Actor, Store

ACTOR = Actor(name="t", role="operator", key_id="k1", request_id="r1")


def test_idempotent_work_runs_once_across_processes(tmp_path):
    """Two Store objects on one file behave like two server processes: BEGIN IMMEDIATE serialises them."""
    stores = [Store(tmp_path / "s.sqlite") for _ in range(2)]
    runs: list[int] = []
    results: list[dict] = []
    barrier = threading.Barrier(16)

    def call(i: int) -> None:
        barrier.wait()

        def work(c) -> dict:
            runs.append(i)
            Store.add_status_change(c, "alert", "A:1", "001", "ACKNOWLEDGED", datetime.now(UTC), ACTOR)
            return {"type": "AlertUpdated", "by": i}

        results.append(stores[i % 2].idempotent("acknowledgeAlert", "key-1", "h", ACTOR, work)[0])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1 and all(r == results[0] for r in results)
    # the other "process" sees the change after a refresh
    other = stores[1 - runs[0] % 2]
    other.refresh()
    assert [c.new_status for c in other.overlay.history("A:1")] == ["ACKNOWLEDGED"]
    assert stores[0].idempotent("acknowledgeAlert", "key-1", "other-args", ACTOR, lambda c: {"type": "x"})[0]["type"] == "IdempotencyKeyReused"
    for s in stores:
        s.close()


def test_an_api_change_overrides_the_snapshot_only_when_newer(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    snapshot_row = {"alert_id": "A:1", "status": "OPEN", "status_changed_at": datetime(2026, 11, 1, tzinfo=UTC),
                    "status_changed_by": "system", "status_reason": "condition true", "snoozed_until": None}
    with store.transaction() as c:
        Store.add_status_change(c, "alert", "A:1", "001", "SNOOZED", datetime(2026, 11, 2, 9, tzinfo=UTC), ACTOR,
                                reason="wait", until=datetime(2026, 11, 20).date())
    view = alert_view(snapshot_row, store.overlay)
    assert (view["status"], view["snoozed_until"], view["status_changed_by"]) == ("SNOOZED", datetime(2026, 11, 20).date(), "user")
    assert [(h["status"], h["source"]) for h in history(view, "alert_id", store.overlay)] == [("OPEN", "SNAPSHOT"), ("SNOOZED", "API")]
    # a later snapshot in which the system reopened the alert after the user's change wins
    reopened = {**snapshot_row, "status_changed_at": datetime(2026, 11, 21, tzinfo=UTC), "status_reason": "snooze expired"}
    assert alert_view(reopened, store.overlay)["status"] == "OPEN"
    assert [h["source"] for h in history(reopened, "alert_id", store.overlay)] == ["SNAPSHOT"]
    store.close()


def test_outbox_entries_are_leased_to_one_worker(tmp_path):
    a, b = Store(tmp_path / "s.sqlite"), Store(tmp_path / "s.sqlite")
    now = datetime.now(UTC)
    with a.transaction() as c:
        oid = Store.enqueue(c, "salesforce_task", "001", {"WhatId": "001"}, now)
    first = a.claim_due(now, lease_seconds=60)
    assert [e.outbox_id for e in first] == [oid] and first[0].attempts == 0
    assert b.claim_due(now, lease_seconds=60) == []  # leased
    a.mark_retry(oid, "boom", now + timedelta(seconds=30))
    assert b.claim_due(now, lease_seconds=60) == []  # not due yet
    again = b.claim_due(now + timedelta(seconds=31), lease_seconds=60)
    assert again[0].attempts == 1 and again[0].last_error == "boom"
    b.mark_sent(oid, "00TXYZ", now)
    assert a.outbox_entry(oid).state == "sent" and a.claim_due(now + timedelta(days=1), 60) == []
    a.close()
    b.close()
