"""What the API shows: the snapshot's alerts and recommendations with the store's status on top.

A user's change (acknowledge, snooze, dismiss, execute) is written to the
state store and shown at once, before any pipeline run.  It applies to a
snapshot row when it is newer than the row's last status change: the next
pipeline run folds the change into the published tables (the rules
lifecycle applies it and stamps ``user_changed_at``), and a later change by
the system (a snooze that ran out, a condition that cleared) is newer than
the user's and wins - the same rule the lifecycle itself follows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from server.snapshot import Snapshot
from server.store import Overlay, StatusChange

BASE = "_snapshot_row"  # a view keeps the snapshot's own row under this key


def applies(change: StatusChange | None, row: dict[str, Any]) -> bool:
    if change is None:
        return False
    last = row.get("status_changed_at")
    return last is None or change.at > last


def _user_view(row: dict[str, Any], change: StatusChange) -> dict[str, Any]:
    """The row as the user's change left it; the snapshot's own row is kept under BASE."""
    return {
        **row,
        "status": change.new_status,
        "status_changed_at": change.at,
        "status_changed_by": "user",
        "status_reason": change.reason,
        "user_changed_at": change.at,
        BASE: row,
    }


def alert_view(row: dict[str, Any], overlay: Overlay) -> dict[str, Any]:
    change = overlay.latest(row["alert_id"])
    if not applies(change, row):
        return row
    out = _user_view(row, change)
    out["snoozed_until"] = change.until if change.new_status == "SNOOZED" else None
    if change.new_status == "RESOLVED":
        out["resolved_on"] = change.at.date()
    return out


def recommendation_view(row: dict[str, Any], overlay: Overlay) -> dict[str, Any]:
    change = overlay.latest(row["recommendation_id"])
    if not applies(change, row):
        return row
    out = _user_view(row, change)
    if change.new_status == "EXECUTED":
        out["executed_on"] = change.at.date()
    return out


def history(row: dict[str, Any], key: str, overlay: Overlay) -> list[dict[str, Any]]:
    """The status history the API knows: the snapshot's last change, then the store's newer ones."""
    row = row.get(BASE, row)
    out = [
        {
            "status": row["status"],
            "at": row.get("status_changed_at"),
            "by": row.get("status_changed_by") or "system",
            "reason": row.get("status_reason"),
            "source": "SNAPSHOT",
            "until": row.get("snoozed_until"),
        }
    ]
    for change in overlay.history(row[key]):
        if applies(change, row):
            out.append(
                {"status": change.new_status, "at": change.at, "by": change.actor, "reason": change.reason, "source": "API", "until": change.until}
            )
    return out


def effective_status(snap: Snapshot, kind: str, overlay: Overlay) -> np.ndarray:
    """The status column of a whole table with the overlay applied (memoised per overlay state)."""
    slices = snap.alerts if kind == "alert" else snap.recommendations
    positions = snap.alert_pos if kind == "alert" else snap.recommendation_pos
    memo = snap.__dict__.setdefault("_status_memo", {})
    if (kind, overlay.last_seq) in memo:
        return memo[(kind, overlay.last_seq)]
    df = slices.df
    status = df["status"].to_numpy(dtype=object).copy()
    changed_at = df["status_changed_at"]
    for item_id, changes in list(overlay.by_id.items()):
        pos = positions.get(item_id)
        if pos is None or not changes:
            continue
        last: datetime | pd.Timestamp | None = changed_at.iloc[pos]
        last = None if last is None or last is pd.NaT else last
        if last is None or changes[-1].at > last:
            status[pos] = changes[-1].new_status
    for stale in [k for k in memo if k[0] == kind]:  # one entry per kind: alerts and recommendations alternate
        del memo[stale]
    memo[(kind, overlay.last_seq)] = status
    return status
