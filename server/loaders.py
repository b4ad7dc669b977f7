"""Per-request loaders for the fields that fan out (alert -> customer, customer -> alerts, ...).

Made fresh for every request in the view (a loader's cache must not outlive
the request: it would serve a mutation's caller stale statuses).

* `customer` is a DataLoader: a page of alerts asking for their customers
  becomes one Arrow ``take`` of all their rows instead of one per alert.
* `alerts` and `recommendations` are synchronous per-request caches
  (`Memo`): the snapshot keeps those tables sorted by account, so one
  customer's rows are a binary search and a slice, and a batch could only
  repeat that search per key - while a DataLoader would cost every
  customer's field a future, a task and two turns of the event loop (about
  a tenth of the customer 360 profile's time).  Still one lookup per
  customer per request, however many fields ask.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader

from server.overlay import alert_view, recommendation_view
from server.snapshot import Snapshot
from server.store import Overlay

# what `master_for` and `linked_accounts` (server.schema.accounts) read of an account's master row
MASTER_COLUMNS = ("master_id", "cluster_size", "needs_review")

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A per-request cache in front of a synchronous lookup (DataLoader's `load` and `clear_all`, without awaiting)."""

    def __init__(self, fn: Callable[[K], V]):
        self._fn = fn
        self._cache: dict[K, V] = {}

    def load(self, key: K) -> V:
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = self._fn(key)
            return value

    def clear_all(self) -> None:
        self._cache.clear()


class Loaders:
    def __init__(self, snapshot_fn, overlay: Overlay, touch):
        self._snapshot = snapshot_fn
        self._overlay = overlay
        self._touch = touch
        # keyed by (account id, the columns to read or None for all): one read per account and selection
        self.alerts: Memo[tuple[str, tuple[str, ...] | None], list[dict[str, Any]]] = Memo(self._alerts)
        self.recommendations: Memo[tuple[str, tuple[str, ...] | None], list[dict[str, Any]]] = Memo(self._recommendations)
        # an account's row of the linker's master accounts: both masterAccount and linkedAccounts read it, these columns
        self.master: Memo[str, dict[str, Any] | None] = Memo(lambda account_id: self.snap().master_of(account_id, MASTER_COLUMNS))

    @cached_property
    def customer(self) -> DataLoader[str, dict[str, Any] | None]:
        """Made on first use: most requests (a profile, a search) never batch customers."""
        return DataLoader(self._customers)

    def snap(self) -> Snapshot:
        return self._snapshot()

    async def _customers(self, ids: list[str]) -> list[dict[str, Any] | None]:
        snap = self.snap()
        rows = {r["account_id"]: r for r in snap.customers(dict.fromkeys(ids))}
        return [rows.get(i) for i in ids]

    def _alerts(self, key: tuple[str, tuple[str, ...] | None]) -> list[dict[str, Any]]:
        return self._account_rows(key, self.snap().alerts_for, alert_view)

    def _recommendations(self, key: tuple[str, tuple[str, ...] | None]) -> list[dict[str, Any]]:
        return self._account_rows(key, self.snap().recommendations_for, recommendation_view)

    def _account_rows(self, key: tuple[str, tuple[str, ...] | None], read, view) -> list[dict[str, Any]]:
        """An account's rows of a rules table (`read`: account id, columns -> rows or None), with the store's
        status on top (`view`).  Their account id is the key's: set, not read (a column less from the file)."""
        account_id, columns = key
        self._touch(account_id)
        rows = read(account_id, columns) or []
        for r in rows:
            r["account_id"] = account_id
        return [view(r, self._overlay) for r in rows]
