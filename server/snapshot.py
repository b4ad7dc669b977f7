"""A read-only, in-memory view of the published gold snapshot.

The API never triggers the ETL: it reads what the pipeline published and
swaps to a newer snapshot when ``CURRENT`` changes.  Tables stay columnar
(pandas) and are indexed by account id; per-account slices of the timeline
and history are found by binary search on the sorted ``account_id`` column,
so memory stays close to the Parquet size even at a million accounts.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from etl import storage
from server.search import NameIndex

METRICS = "gold_customer_360_metrics"
TIMELINE = "gold_customer_timeline"
HISTORY = "gold_customer_metric_history"


def _clean(value: Any) -> Any:
    """Parquet nulls (NaN, NaT, pd.NA) become None; numpy scalars become Python values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _as_date(value: Any) -> date | None:
    value = _clean(value)
    if isinstance(value, datetime):
        return value.date()
    return value


class _Slices:
    """Row ranges of a table sorted by account_id."""

    def __init__(self, df: pd.DataFrame):
        self.df = df.reset_index(drop=True)
        self.keys = self.df["account_id"].to_numpy(dtype=object)

    def rows(self, account_id: str) -> pd.DataFrame:
        lo = np.searchsorted(self.keys, account_id, side="left")
        hi = np.searchsorted(self.keys, account_id, side="right")
        return self.df.iloc[lo:hi]


@dataclass
class Snapshot:
    run_id: str
    as_of: date
    published_at: str
    metrics: pd.DataFrame  # indexed by account_id, sorted
    timeline: _Slices
    history: _Slices
    names: NameIndex

    @classmethod
    def load(cls, snap: storage.Snapshot) -> Snapshot:
        metrics = snap.read("gold", METRICS).sort_values("account_id", kind="stable")
        metrics.index = pd.Index(metrics["account_id"].to_numpy(dtype=object))  # unnamed: no clash with the column
        timeline = snap.read("gold", TIMELINE).sort_values(["account_id", "event_date", "event_id"], kind="stable")
        history = snap.read("gold", HISTORY).sort_values(["account_id", "as_of"], kind="stable")
        return cls(
            run_id=snap.run_id,
            as_of=date.fromisoformat(snap.manifest["as_of"]),
            published_at=snap.manifest.get("published_at", ""),
            metrics=metrics,
            timeline=_Slices(timeline),
            history=_Slices(history),
            names=NameIndex(metrics["account_id"].to_numpy(dtype=object), metrics["account_name"].fillna("").to_numpy(dtype=object)),
        )

    def customer(self, account_id: str) -> dict[str, Any] | None:
        try:
            row = self.metrics.loc[account_id]
        except KeyError:
            return None
        return {k: _clean(v) for k, v in row.items()}

    def customers(self, account_ids) -> list[dict[str, Any]]:
        rows = self.metrics.loc[list(account_ids)]
        return [{k: _clean(v) for k, v in rec.items()} for rec in rows.to_dict("records")]

    def timeline_for(self, account_id: str) -> pd.DataFrame:
        return self.timeline.rows(account_id)

    def history_for(self, account_id: str) -> pd.DataFrame:
        return self.history.rows(account_id)


class SnapshotHolder:
    """Holds the current snapshot and swaps in a newer one when CURRENT changes.

    The check is a cheap read of a small file, done at most once per
    ``check_interval`` seconds; loading happens outside the lock so readers
    keep the old snapshot meanwhile.
    """

    def __init__(self, data_dir: Path, check_interval: float = 2.0):
        self.data_dir = Path(data_dir)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._checked = 0.0

    def get(self) -> Snapshot | None:
        now = time.monotonic()
        if self._current is None or now - self._checked >= self.check_interval:
            self._checked = now
            self.refresh()
        return self._current

    def refresh(self) -> bool:
        run_id = storage.current_run_id(self.data_dir)
        if run_id is None or (self._current is not None and self._current.run_id == run_id):
            return False
        loaded = Snapshot.load(storage.open_snapshot(self.data_dir, run_id))
        with self._lock:
            self._current = loaded
        return True


__all__ = ["Snapshot", "SnapshotHolder", "_as_date", "_clean"]
