"""The dashboard's open counts: the published counts plus the user's changes, as the whole-table overlay gives them."""

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from server import overlay
from server.snapshot import Table
from server.store import Overlay, StatusChange
from server.summary import LEVELS, OpenCounts

T0 = datetime(2026, 10, 1, tzinfo=UTC)
ALERTS = Table(pa.table({
    "alert_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
    "severity": ["HIGH", "HIGH", "MEDIUM", "LOW", "LOW", "HIGH"],
    "status": ["OPEN", "OPEN", "OPEN", "ACKNOWLEDGED", "OPEN", "RESOLVED"],
    "status_changed_at": pa.array([None, T0, T0, T0, datetime(2026, 10, 20, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
}))
POSITIONS = {a: i for i, a in enumerate(ALERTS.df["alert_id"])}


def change(seq: int, item: str, status: str, day: int) -> StatusChange:
    return StatusChange(seq, "alert", item, "001", status, datetime(2026, 10, day, tzinfo=UTC), None, None, "test", None)


def whole_table(changes: Overlay) -> tuple[int, ...]:
    """What the dashboard counted before: the overlay applied to every row, then OPEN rows by severity."""
    snap = SimpleNamespace(alerts=ALERTS, alert_pos=POSITIONS)
    status = overlay.effective_status(snap, "alert", changes)
    levels = ALERTS.df["severity"].to_numpy(dtype=object)[status == "OPEN"]
    return tuple(int(np.sum(levels == lbl)) for lbl in LEVELS)


def test_published_counts_then_each_kind_of_change():
    counts = OpenCounts.of(ALERTS, "severity", POSITIONS)
    changes = Overlay()
    assert counts.counts(changes) == (2, 1, 1) == whole_table(changes)
    changes.add(change(1, "A1", "ACKNOWLEDGED", 10))  # OPEN -> not OPEN: HIGH - 1
    changes.add(change(2, "A4", "OPEN", 10))  # back to OPEN, newer than the row's change: LOW + 1
    changes.add(change(3, "A5", "SNOOZED", 10))  # older than the row's last change (Oct 20): ignored
    changes.add(change(4, "A6", "SNOOZED", 10))  # RESOLVED -> SNOOZED: neither is OPEN
    changes.add(change(5, "A9", "SNOOZED", 10))  # not in this snapshot
    assert counts.counts(changes) == (1, 1, 2) == whole_table(changes)
    changes.add(change(6, "A1", "OPEN", 11))  # the latest change counts
    assert counts.counts(changes) == (2, 1, 2) == whole_table(changes)


def test_counts_are_memoised_per_overlay_state():
    counts = OpenCounts.of(ALERTS, "severity", POSITIONS)
    changes = Overlay()
    first = counts.counts(changes)
    assert counts.counts(changes) is first
    changes.add(change(1, "A2", "ACKNOWLEDGED", 10))
    assert counts.counts(changes) == (1, 1, 1)
