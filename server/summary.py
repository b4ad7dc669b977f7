"""The dashboard's figures across the whole book: computed once per snapshot, with the user's changes on top.

`BookSummary.of(snapshot)` runs when a snapshot loads: totals, health and
churn distributions, ARR at risk, the rows of the first 100 at-risk
customers, and the snapshot's OPEN alerts and recommendations by level.  A request then only
applies the state store's status changes (`OpenCounts.counts`): each
changed item moves its level's count into or out of OPEN by the rule
`overlay.effective_status` follows (a user's change wins when it is newer
than the row's last status change).  So a request costs the number of
changed items, not the size of the book, and the figures are the ones the
whole-book computation gives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from server.snapshot import KeyPositions, Snapshot, Table
    from server.store import Overlay

LEVELS = ("HIGH", "MEDIUM", "LOW")
HEALTH_CATEGORIES = ("Healthy", "At-Risk", "Critical")
TOP_AT_RISK = 100  # the most `dashboardSummary(top:)` returns


@dataclass
class OpenCounts:
    """OPEN items of one table (alerts or recommendations) by level, as published."""

    base: dict[str, int]
    status: pd.Series  # the published status per row (the table's own column: no copy)
    level: pd.Series  # severity or priority per row
    changed_at: pd.Series  # the row's last status change
    positions: KeyPositions | dict[str, int]  # item id -> row
    _memo: tuple[int, tuple[int, ...]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, table: Table, level_col: str, positions: KeyPositions | dict[str, int]) -> OpenCounts:
        status, level = table.df["status"], table.df[level_col]
        open_by_level = level[(status == "OPEN").to_numpy(dtype=bool, na_value=False)].value_counts()
        base = {lbl: int(open_by_level.get(lbl, 0)) for lbl in LEVELS}
        return cls(base, status, level, table.df["status_changed_at"], positions)

    def counts(self, overlay: Overlay) -> tuple[int, ...]:
        """OPEN items by level (LEVELS order) with the overlay's changes applied; memoised per overlay state."""
        seq = overlay.last_seq
        memo = self._memo
        if memo is not None and memo[0] == seq:
            return memo[1]
        counts = dict(self.base)
        for item_id, changes in list(overlay.by_id.items()):
            pos = self.positions.get(item_id)
            if pos is None or not changes:
                continue
            change = changes[-1]
            last = self.changed_at.iloc[pos]
            last = None if last is None or last is pd.NaT else last
            if last is not None and not change.at > last:
                continue  # the row changed after the user did: the published status stands
            was, now = self.status.iloc[pos] == "OPEN", change.new_status == "OPEN"
            lvl = self.level.iloc[pos]
            if was != now and lvl in counts:
                counts[lvl] += 1 if now else -1
        out = tuple(counts[lbl] for lbl in LEVELS)
        with self._lock:
            if self._memo is None or self._memo[0] <= seq:
                self._memo = (seq, out)
        return out


@dataclass(frozen=True)
class BookSummary:
    customers: int
    total_mrr_usd: float
    total_arr_usd: float
    average_health: float | None
    by_health_category: tuple[tuple[str, int], ...]
    by_churn_level: tuple[tuple[str, int], ...]
    arr_at_risk_usd: float
    top_at_risk: tuple[dict, ...]  # customer rows: HIGH then MEDIUM churn, largest ARR first, then id; at most TOP_AT_RISK
    alerts: OpenCounts | None
    recommendations: OpenCounts | None

    @classmethod
    def of(cls, snap: Snapshot) -> BookSummary:
        m = snap.metrics
        health = m["health_score"].dropna()
        high = m["churn_level"] == "HIGH"
        risky = m[m["churn_level"].isin(["HIGH", "MEDIUM"])]
        risky = risky.sort_values(["churn_level", "arr_usd", "account_id"], ascending=[True, False, True], na_position="last")

        def counts(col: str, labels: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
            vc = m[col].value_counts()
            return tuple((lbl, int(vc.get(lbl, 0))) for lbl in labels) + (("none", int(m[col].isna().sum())),)

        return cls(
            customers=len(m),
            total_mrr_usd=float(m["mrr_usd"].fillna(0).sum()),
            total_arr_usd=float(m["arr_usd"].fillna(0).sum()),
            average_health=round(float(health.mean()), 1) if len(health) else None,
            by_health_category=counts("health_category", HEALTH_CATEGORIES),
            by_churn_level=counts("churn_level", LEVELS),
            arr_at_risk_usd=float(m.loc[high.fillna(False), "arr_usd"].fillna(0).sum()),
            top_at_risk=tuple(snap.customers(risky.index[:TOP_AT_RISK])),
            alerts=None if snap.alerts is None else OpenCounts.of(snap.alerts, "severity", snap.alert_pos),
            recommendations=None if snap.recommendations is None else OpenCounts.of(
                snap.recommendations, "priority", snap.recommendation_pos),
        )
