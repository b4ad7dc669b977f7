"""Per-request DataLoaders for the fields that fan out (alert -> customer, customer -> alerts, ...).

Made fresh for every request in the view's ``get_context`` (a loader's cache
must not outlive the request: it would serve a mutation's caller stale
statuses).  Each batch reads the snapshot once: one ``.loc`` for many
customers instead of one per alert.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from server.overlay import alert_view, recommendation_view
from server.snapshot import Snapshot
from server.store import Overlay


class Loaders:
    def __init__(self, snapshot_fn, overlay: Overlay, touch):
        self._snapshot = snapshot_fn
        self._overlay = overlay
        self._touch = touch
        self.customer = DataLoader(self._customers)
        self.alerts = DataLoader(self._alerts)
        self.recommendations = DataLoader(self._recommendations)

    def snap(self) -> Snapshot:
        return self._snapshot()

    async def _customers(self, ids: list[str]) -> list[dict[str, Any] | None]:
        snap = self.snap()
        rows = {r["account_id"]: r for r in snap.customers(dict.fromkeys(ids))}
        return [rows.get(i) for i in ids]

    async def _alerts(self, account_ids: list[str]) -> list[list[dict[str, Any]]]:
        snap = self.snap()
        out = []
        for a in account_ids:
            self._touch(a)
            out.append([alert_view(r, self._overlay) for r in snap.alerts_for(a) or []])
        return out

    async def _recommendations(self, account_ids: list[str]) -> list[list[dict[str, Any]]]:
        snap = self.snap()
        out = []
        for a in account_ids:
            self._touch(a)
            out.append([recommendation_view(r, self._overlay) for r in snap.recommendations_for(a) or []])
        return out
