"""The API's own state: one embedded SQLite database (WAL) under the data directory.

What users and integrations change lives here, never in the published
snapshot (which only the pipeline writes):

``status_changes``   every user change of an alert or recommendation status
                     (id, new status, at, reason, until): the overlay the API
                     shows on top of the snapshot, and the frame the rules
                     lifecycle takes on the next pipeline run (view
                     ``lifecycle_status_changes`` has exactly its columns)
``actions``          executed recommendations, one row per recommendation at most
``idempotency``      (operation, idempotency key) -> the first result, so a
                     retried or duplicated call returns it and does nothing again
``link_decisions``   manual must-link / must-not-link decisions for the linker,
                     exported to ``config/manual_account_linkages.json`` format
``outbox``           Salesforce write-backs waiting to be sent (durable; retried)
``audit_log``        who did what, when, with which API key and idempotency key
``api_keys``         SHA-256 hashes of the API keys ``c360 api-key create`` made

Every write runs in one ``BEGIN IMMEDIATE`` transaction, which SQLite
serialises across threads and processes, so a check ("already executed?")
and the write that depends on it can never interleave with another caller's.
Commits are durable (``synchronous=FULL``) before a mutation answers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

STATE_FILE = "c360.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS status_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('alert', 'recommendation')),
    id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    new_status TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT,
    until TEXT,
    actor TEXT NOT NULL,
    api_key_id TEXT,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS status_changes_id ON status_changes (id, seq);
CREATE VIEW IF NOT EXISTS lifecycle_status_changes AS
    SELECT id, new_status, at, reason, until FROM status_changes ORDER BY seq;

CREATE TABLE IF NOT EXISTS actions (
    action_id TEXT PRIMARY KEY,
    recommendation_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    note TEXT,
    executed_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    api_key_id TEXT,
    idempotency_key TEXT,
    outbox_id TEXT,
    write_back TEXT NOT NULL  -- 'pending' (in the outbox) / 'not_configured' / 'disabled'
);

CREATE TABLE IF NOT EXISTS idempotency (
    operation TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL,
    api_key_id TEXT,
    PRIMARY KEY (operation, key)
);

CREATE TABLE IF NOT EXISTS link_decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id TEXT NOT NULL UNIQUE,
    account_a TEXT NOT NULL,
    account_b TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('must_link', 'must_not_link')),
    reason TEXT NOT NULL,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    api_key_id TEXT,
    superseded_by TEXT,
    CHECK (account_a < account_b)
);
CREATE INDEX IF NOT EXISTS link_decisions_pair ON link_decisions (account_a, account_b);

CREATE TABLE IF NOT EXISTS outbox (
    outbox_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    claimed_until TEXT,
    last_error TEXT,
    sent_at TEXT,
    remote_id TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    api_key_id TEXT,
    role TEXT,
    request_id TEXT,
    operation TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    account_id TEXT,
    idempotency_key TEXT,
    outcome TEXT NOT NULL,
    detail TEXT
);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(at: datetime) -> str:
    """A UTC instant as fixed-width ISO text: sorts as it compares."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def parse_stamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Actor:
    """Who is calling: the API key's name and id, its role, and the request id for the logs."""

    name: str
    role: str
    key_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class StatusChange:
    seq: int
    kind: str
    id: str
    account_id: str
    new_status: str
    at: datetime
    reason: str | None
    until: date | None
    actor: str
    api_key_id: str | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> StatusChange:
        return cls(
            seq=r["seq"],
            kind=r["kind"],
            id=r["id"],
            account_id=r["account_id"],
            new_status=r["new_status"],
            at=datetime.fromisoformat(r["at"]),
            reason=r["reason"],
            until=date.fromisoformat(r["until"]) if r["until"] else None,
            actor=r["actor"],
            api_key_id=r["api_key_id"],
        )


@dataclass(frozen=True)
class ActionRecord:
    action_id: str
    recommendation_id: str
    account_id: str
    note: str | None
    executed_at: datetime
    actor: str
    api_key_id: str | None
    idempotency_key: str | None
    outbox_id: str | None
    write_back: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> ActionRecord:
        return cls(**{k: r[k] for k in r.keys() if k != "executed_at"}, executed_at=datetime.fromisoformat(r["executed_at"]))  # noqa: SIM118 - sqlite3.Row


@dataclass(frozen=True)
class OutboxEntry:
    outbox_id: str
    kind: str
    account_id: str
    payload: dict[str, Any]
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    remote_id: str | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> OutboxEntry:
        return cls(
            outbox_id=r["outbox_id"],
            kind=r["kind"],
            account_id=r["account_id"],
            payload=json.loads(r["payload"]),
            state=r["state"],
            attempts=r["attempts"],
            created_at=datetime.fromisoformat(r["created_at"]),
            next_attempt_at=datetime.fromisoformat(r["next_attempt_at"]),
            last_error=r["last_error"],
            sent_at=parse_stamp(r["sent_at"]),
            remote_id=r["remote_id"],
        )


@dataclass(frozen=True)
class LinkDecision:
    decision_id: str
    account_a: str
    account_b: str
    decision: str
    reason: str
    author: str
    at: datetime
    api_key_id: str | None
    superseded_by: str | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> LinkDecision:
        return cls(**{k: r[k] for k in r.keys() if k not in ("seq", "at")}, at=datetime.fromisoformat(r["at"]))  # noqa: SIM118 - sqlite3.Row


@dataclass
class Overlay:
    """Every user status change, by alert/recommendation id, oldest first (an in-memory mirror)."""

    by_id: dict[str, list[StatusChange]] = field(default_factory=lambda: defaultdict(list))
    by_account: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    last_seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, change: StatusChange) -> None:
        with self._lock:  # the write connection and `refresh` may pull the same rows at once
            if change.seq <= self.last_seq:
                return
            self.by_id[change.id].append(change)
            self.by_account[change.account_id].add(change.id)
            self.last_seq = change.seq

    def latest(self, item_id: str) -> StatusChange | None:
        changes = self.by_id.get(item_id)
        return changes[-1] if changes else None

    def history(self, item_id: str) -> list[StatusChange]:
        return list(self.by_id.get(item_id, ()))


class Store:
    """The state database.  Thread-safe: a write connection and a read connection, each behind
    its own lock, so a request reading (WAL: readers never wait for the writer) is not held up by a
    mutation's commit in a worker thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._read_lock = threading.RLock()
        self._read = self._connect()
        self.overlay = Overlay()
        self._data_version = -1
        self.refresh()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")  # a mutation answers only once its commit is on disk
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @classmethod
    def open(cls, data_dir: Path, state_dir: str = "state") -> Store:
        return cls(Path(data_dir) / state_dir / STATE_FILE)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._read_lock:
            self._read.close()

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction (BEGIN IMMEDIATE takes the write lock up front)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._pull_changes(self._conn)
        with self._read_lock:  # our own commit is not news for `refresh`
            self._data_version = self._read.execute("PRAGMA data_version").fetchone()[0]

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._read_lock:
            return self._read.execute(sql, params).fetchall()

    def _pull_changes(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT * FROM status_changes WHERE seq > ? ORDER BY seq", (self.overlay.last_seq,)).fetchall()
        for r in rows:
            self.overlay.add(StatusChange.from_row(r))

    def refresh(self) -> bool:
        """Catch up with commits made by other processes; True when there were any (cheap when none)."""
        with self._read_lock:
            version = self._read.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return False
            self._data_version = version
            self._pull_changes(self._read)
            return True

    # ------------------------------------------------------------------ idempotency

    def idempotent(
        self,
        operation: str,
        key: str | None,
        request_hash: str,
        actor: Actor,
        work: Callable[[sqlite3.Connection], dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:
        """Run `work` once per (operation, key): (result, replayed).

        The lookup, the work and the stored result commit together, so of any
        number of concurrent identical calls exactly one runs `work`; the
        others wait for its commit and get its result.  A key reused with
        different arguments gets ``{"type": "IdempotencyKeyReused"}``.
        """
        with self.transaction() as c:
            if key is not None:
                row = c.execute("SELECT request_hash, result FROM idempotency WHERE operation = ? AND key = ?", (operation, key)).fetchone()
                if row is not None:
                    if row["request_hash"] != request_hash:
                        return {"type": "IdempotencyKeyReused", "key": key}, True
                    return json.loads(row["result"]), True
            result = work(c)
            if key is not None:
                c.execute(
                    "INSERT INTO idempotency (operation, key, request_hash, result, created_at, api_key_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (operation, key, request_hash, json.dumps(result, sort_keys=True), stamp(utcnow()), actor.key_id),
                )
            return result, False

    # ------------------------------------------------------------------ writes (inside a transaction)

    @staticmethod
    def add_status_change(
        c: sqlite3.Connection, kind: str, item_id: str, account_id: str, new_status: str, at: datetime,
        actor: Actor, reason: str | None = None, until: date | None = None,
    ) -> int:
        cur = c.execute(
            "INSERT INTO status_changes (kind, id, account_id, new_status, at, reason, until, actor, api_key_id, request_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, item_id, account_id, new_status, stamp(at), reason, until.isoformat() if until else None,
             actor.name, actor.key_id, actor.request_id),
        )
        return int(cur.lastrowid)

    @staticmethod
    def latest_change(c: sqlite3.Connection, item_id: str) -> StatusChange | None:
        row = c.execute("SELECT * FROM status_changes WHERE id = ? ORDER BY seq DESC LIMIT 1", (item_id,)).fetchone()
        return None if row is None else StatusChange.from_row(row)

    @staticmethod
    def action_for(c: sqlite3.Connection, recommendation_id: str) -> ActionRecord | None:
        row = c.execute("SELECT * FROM actions WHERE recommendation_id = ?", (recommendation_id,)).fetchone()
        return None if row is None else ActionRecord.from_row(row)

    @staticmethod
    def add_action(c: sqlite3.Connection, record: ActionRecord) -> None:
        c.execute(
            "INSERT INTO actions (action_id, recommendation_id, account_id, note, executed_at, actor, api_key_id,"
            " idempotency_key, outbox_id, write_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.action_id, record.recommendation_id, record.account_id, record.note, stamp(record.executed_at),
             record.actor, record.api_key_id, record.idempotency_key, record.outbox_id, record.write_back),
        )

    @staticmethod
    def enqueue(c: sqlite3.Connection, kind: str, account_id: str, payload: dict[str, Any], at: datetime) -> str:
        outbox_id = "ob_" + uuid.uuid4().hex
        c.execute(
            "INSERT INTO outbox (outbox_id, kind, account_id, payload, state, attempts, created_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
            (outbox_id, kind, account_id, json.dumps(payload, sort_keys=True), stamp(at), stamp(at)),
        )
        return outbox_id

    @staticmethod
    def audit(
        c: sqlite3.Connection, actor: Actor, operation: str, outcome: str, *, target_type: str | None = None,
        target_id: str | None = None, account_id: str | None = None, idempotency_key: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        c.execute(
            "INSERT INTO audit_log (at, actor, api_key_id, role, request_id, operation, target_type, target_id, account_id,"
            " idempotency_key, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stamp(utcnow()), actor.name, actor.key_id, actor.role, actor.request_id, operation, target_type, target_id,
             account_id, idempotency_key, outcome, json.dumps(detail, sort_keys=True, default=str) if detail else None),
        )

    def audit_now(self, actor: Actor, operation: str, outcome: str, **kw: Any) -> None:
        with self.transaction() as c:
            self.audit(c, actor, operation, outcome, **kw)

    @staticmethod
    def add_link_decision(c: sqlite3.Connection, decision: LinkDecision) -> None:
        c.execute(
            "UPDATE link_decisions SET superseded_by = ? WHERE account_a = ? AND account_b = ? AND superseded_by IS NULL",
            (decision.decision_id, decision.account_a, decision.account_b),
        )
        c.execute(
            "INSERT INTO link_decisions (decision_id, account_a, account_b, decision, reason, author, at, api_key_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (decision.decision_id, decision.account_a, decision.account_b, decision.decision, decision.reason,
             decision.author, stamp(decision.at), decision.api_key_id),
        )

    # ------------------------------------------------------------------ reads

    def action(self, action_id: str) -> ActionRecord | None:
        rows = self._query("SELECT * FROM actions WHERE action_id = ?", (action_id,))
        return ActionRecord.from_row(rows[0]) if rows else None

    def action_for_recommendation(self, recommendation_id: str) -> ActionRecord | None:
        rows = self._query("SELECT * FROM actions WHERE recommendation_id = ?", (recommendation_id,))
        return ActionRecord.from_row(rows[0]) if rows else None

    def actions_for_account(self, account_id: str) -> list[ActionRecord]:
        return [ActionRecord.from_row(r) for r in self._query("SELECT * FROM actions WHERE account_id = ? ORDER BY executed_at", (account_id,))]

    def count_actions(self, recommendation_id: str) -> int:
        return int(self._query("SELECT count(*) FROM actions WHERE recommendation_id = ?", (recommendation_id,))[0][0])

    def outbox_entry(self, outbox_id: str) -> OutboxEntry | None:
        rows = self._query("SELECT * FROM outbox WHERE outbox_id = ?", (outbox_id,))
        return OutboxEntry.from_row(rows[0]) if rows else None

    def outbox_counts(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self._query("SELECT state, count(*) AS n FROM outbox GROUP BY state")}

    def link_decisions(self, *, active_only: bool = True) -> list[LinkDecision]:
        where = "WHERE superseded_by IS NULL" if active_only else ""
        return [LinkDecision.from_row(r) for r in self._query(f"SELECT * FROM link_decisions {where} ORDER BY seq")]

    def link_decisions_for(self, account_ids: list[str]) -> list[LinkDecision]:
        if not account_ids:
            return []
        marks = ",".join("?" * len(account_ids))
        rows = self._query(
            f"SELECT * FROM link_decisions WHERE superseded_by IS NULL AND (account_a IN ({marks}) OR account_b IN ({marks})) ORDER BY seq",
            tuple(account_ids) * 2,
        )
        return [LinkDecision.from_row(r) for r in rows]

    def audit_entries(self, limit: int = 100, *, target_id: str | None = None, account_id: str | None = None) -> list[sqlite3.Row]:
        where, params = [], []
        if target_id:
            where.append("target_id = ?")
            params.append(target_id)
        if account_id:
            where.append("account_id = ?")
            params.append(account_id)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._query(f"SELECT * FROM audit_log {clause} ORDER BY seq DESC LIMIT ?", (*params, limit))

    def status_changes(self) -> list[StatusChange]:
        return [StatusChange.from_row(r) for r in self._query("SELECT * FROM status_changes ORDER BY seq")]

    # ------------------------------------------------------------------ outbox

    def claim_due(self, now: datetime, lease_seconds: float, limit: int = 20) -> list[OutboxEntry]:
        """Pending entries due now and not leased by another worker; leased to this caller."""
        from datetime import timedelta

        until = stamp(now + timedelta(seconds=lease_seconds))
        with self.transaction() as c:
            rows = c.execute(
                "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at LIMIT ?",
                (stamp(now), stamp(now), limit),
            ).fetchall()
            for r in rows:
                c.execute("UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 WHERE outbox_id = ?", (until, r["outbox_id"]))
        return [OutboxEntry.from_row(r) for r in rows]  # `attempts` as before this attempt

    def mark_sent(self, outbox_id: str, remote_id: str, at: datetime) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE outbox SET state = 'sent', remote_id = ?, sent_at = ?, claimed_until = NULL, last_error = NULL WHERE outbox_id = ?",
                (remote_id, stamp(at), outbox_id),
            )

    def mark_retry(self, outbox_id: str, error: str, next_attempt_at: datetime) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE outbox_id = ?",
                (stamp(next_attempt_at), error[:2000], outbox_id),
            )

    def next_due(self) -> datetime | None:
        rows = self._query("SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'")
        return parse_stamp(rows[0][0]) if rows and rows[0][0] else None

    # ------------------------------------------------------------------ API keys

    def add_api_key(self, key_id: str, name: str, role: str, sha256: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO api_keys (key_id, name, role, sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_id, name, role, sha256, stamp(utcnow())),
            )

    def revoke_api_key(self, key_id: str) -> bool:
        with self.transaction() as c:
            cur = c.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (stamp(utcnow()), key_id))
            return cur.rowcount > 0

    def api_keys(self) -> list[sqlite3.Row]:
        return self._query("SELECT key_id, name, role, sha256, created_at, revoked_at FROM api_keys ORDER BY created_at")
