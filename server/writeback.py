"""The Salesforce write-back of executed actions: a durable outbox, drained by one task.

``executeAction`` writes the Task it wants created into the state store's
``outbox`` in the same transaction as the action itself, so it cannot be
lost: if Salesforce is down, or this process dies, the entry waits and is
sent later.  `OutboxWorker` claims due entries (a lease keeps two workers
off the same entry), sends each and marks it sent, or schedules a retry with
exponential backoff.

Never sent twice.  Salesforce has no idempotency key for creates, and an
attempt can fail after Salesforce created the Task (a timeout or a dropped
connection on the response).  So every Task carries the outbox id in its
Subject (``[C360 ob_...]``), each attempt makes exactly one create call (no
retries inside the call), and any attempt after the first looks the Task up
by the account and that marker first, marking the entry sent when it is
already there.  A crash between the create and the "sent" mark is covered
the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anyio
import requests

from server.config import WriteBackConfig
from server.store import OutboxEntry, Store, utcnow

log = logging.getLogger("c360.server.writeback")
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def marker(outbox_id: str) -> str:
    return f"[C360 {outbox_id}]"


class SalesforceTasks:
    """Creates and finds Tasks through etl.extract's client (logins, re-login, redaction, error mapping)."""

    def __init__(self, credentials, sf_config, write_back: WriteBackConfig, session_factory: Callable[[], requests.Session] = requests.Session):
        from etl.extract.config import RetryConfig, TimeoutConfig

        # One call per attempt: a create is not safe to repeat blindly, so retrying is the outbox's job.
        self.config = sf_config.model_copy(
            update={
                "retry": RetryConfig(max_attempts=1, base_seconds=0.01, max_seconds=0.01),
                "timeouts": TimeoutConfig(connect_seconds=min(10.0, write_back.attempt_timeout_seconds), read_seconds=write_back.attempt_timeout_seconds),
            }
        )
        self.credentials = credentials
        self.session_factory = session_factory
        self._client = None

    def client(self):
        from etl.extract.client import SalesforceClient
        from etl.extract.credentials import Redactor, connector

        if self._client is None:
            redact = Redactor(self.credentials.secret_values())
            self._client = SalesforceClient(
                connector(self.credentials, self.config.api_version, redact), self.config,
                refreshable=self.credentials.refreshable, redactor=redact, session=self.session_factory(),
            )
        return self._client

    def reset(self) -> None:
        self._client = None

    def find(self, entry: OutboxEntry) -> str | None:
        """The Id of a Task an earlier attempt already created for this entry, if any."""
        account = entry.payload["WhatId"]
        if not _SF_ID.match(account):
            raise ValueError(f"outbox {entry.outbox_id}: {account!r} is not a Salesforce id")
        since = (entry.created_at - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = f"SELECT Id, Subject FROM Task WHERE AccountId = '{account}' AND CreatedDate >= {since}"
        client = self.client()
        tag = marker(entry.outbox_id)
        for page in client.query_pages(soql, f"find Task for {entry.outbox_id}"):
            for rec in page.get("records", []):
                if tag in (rec.get("Subject") or ""):
                    return str(rec["Id"])
        return None

    def create(self, entry: OutboxEntry) -> str:
        fields = dict(entry.payload)
        fields["Subject"] = f"{fields.get('Subject', '')[:200]} {marker(entry.outbox_id)}".strip()
        client = self.client()
        result = client.call(f"create Task for {entry.outbox_id}", lambda sf: sf.Task.create(fields))
        if not isinstance(result, dict) or not result.get("success") or not result.get("id"):
            raise RuntimeError(f"Salesforce did not confirm the Task: {str(result)[:300]}")
        return str(result["id"])


class OutboxWorker:
    def __init__(self, store: Store, tasks: SalesforceTasks, config: WriteBackConfig, metrics=None):
        self.store = store
        self.tasks = tasks
        self.config = config
        self.metrics = metrics
        self.wake = asyncio.Event()
        self.listeners: list = []  # async callables taking the entry: its write-back status changed
        self._stop = False
        self.sent = 0
        self.failures = 0

    def backoff(self, attempts: int) -> float:
        base = min(self.config.retry_max_seconds, self.config.retry_base_seconds * 2 ** max(0, attempts - 1))
        return base / 2 + random.random() * base / 2

    def send_one(self, entry: OutboxEntry) -> bool:
        """One attempt at one entry (blocking: run in a thread).  True when sent."""
        try:
            remote = self.tasks.find(entry) if entry.attempts > 0 else None
            if remote is None:
                remote = self.tasks.create(entry)
            else:
                log.info("outbox entry already in Salesforce", extra={"outbox_id": entry.outbox_id, "task_id": remote})
            self.store.mark_sent(entry.outbox_id, remote, utcnow())
            self.sent += 1
            if self.metrics:
                self.metrics.inc("writeback_sent")
            log.info("wrote Task to Salesforce", extra={"outbox_id": entry.outbox_id, "task_id": remote, "attempt": entry.attempts + 1})
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means: try again later
            self.failures += 1
            if self.metrics:
                self.metrics.inc("writeback_failures")
            self.tasks.reset()  # log in afresh next time
            delay = self.backoff(entry.attempts + 1)
            self.store.mark_retry(entry.outbox_id, f"{type(exc).__name__}: {exc}", utcnow() + timedelta(seconds=delay))
            log.warning("Salesforce write-back failed; will retry", extra={"outbox_id": entry.outbox_id, "attempt": entry.attempts + 1,
                                                                          "retry_in_seconds": round(delay, 1), "error": f"{type(exc).__name__}: {exc}"})
            return False

    async def drain_once(self) -> int:
        entries = await anyio.to_thread.run_sync(lambda: self.store.claim_due(utcnow(), self.config.lease_seconds))
        for e in entries:
            await anyio.to_thread.run_sync(self.send_one, e)
            for listener in self.listeners:
                await listener(e)
        return len(entries)

    async def run(self) -> None:
        """Drain due entries until `stop`; an entry claimed is always attempted and its outcome recorded."""
        while not self._stop:
            try:
                await self.drain_once()
            except Exception:  # the worker must outlive a bad moment of the database
                log.exception("outbox worker iteration failed")
            if self._stop:
                break
            due = await anyio.to_thread.run_sync(self.store.next_due)
            timeout = self.config.poll_seconds
            if due is not None:
                timeout = max(0.05, min(timeout, (due - utcnow()).total_seconds()))
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop = True
        self.wake.set()


def salesforce_tasks(config_dir: Path, write_back: WriteBackConfig, environ=None, session_factory=None) -> SalesforceTasks | None:
    """A Task writer when write-back is on and C360_SF_* credentials exist; else None (actions are recorded only)."""
    if not write_back.enabled:
        return None
    from etl.extract.config import load_salesforce_config
    from etl.extract.credentials import load_credentials
    from etl.extract.errors import CredentialsError

    try:
        creds = load_credentials(environ)
    except CredentialsError as exc:
        log.info("Salesforce write-back off: %s", exc)
        return None
    sf_config = load_salesforce_config(Path(config_dir) / "salesforce_config.json")
    return SalesforceTasks(creds, sf_config, write_back, session_factory or requests.Session)

