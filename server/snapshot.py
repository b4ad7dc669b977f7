"""A read-only, in-memory view of the published gold snapshot.

The API never triggers the ETL: it reads what the pipeline published and
swaps to a newer snapshot when ``CURRENT`` changes.  Tables stay columnar
(pandas for filters, Arrow for rows) and sorted by account id; per-account
slices of the timeline, history, alerts and recommendations are found by
binary search on the sorted key column.  Tables the rules stage or the
linker publish are optional: a snapshot made before them still loads, and
`Snapshot.tables` says which it has.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl import storage
from server.search import NameIndex

METRICS = "gold_customer_360_metrics"
TIMELINE = "gold_customer_timeline"
HISTORY = "gold_customer_metric_history"
# Published by the rules stage and the linker; a snapshot may predate them.
ALERTS = "gold_risk_alerts"
RECOMMENDATIONS = "gold_recommendations"
RULE_FACTS = "gold_rule_facts"
MASTER_ACCOUNTS = "gold_master_accounts"
ACCOUNT_LINKS = "gold_account_links"
REVIEW_QUEUE = "gold_link_review_queue"
ROLLUPS = "gold_master_account_rollups"
OPTIONAL_TABLES = (ALERTS, RECOMMENDATIONS, RULE_FACTS, MASTER_ACCOUNTS, ACCOUNT_LINKS, REVIEW_QUEUE, ROLLUPS)


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
    if value.__class__ is date:  # what Arrow's date32 columns give: nothing to clean
        return value
    value = _clean(value)
    if isinstance(value, datetime):
        return value.date()
    return value


class Table:
    """One gold table kept twice in the same row order: pandas for vectorised filters and sorts,
    Arrow for turning a few rows into dicts (about ten times faster than ``DataFrame.to_dict``).

    ``df`` has a RangeIndex, so the index of any filtered or sorted slice of it
    holds row positions that `take` accepts.  With a `key` the rows are sorted
    by it and `span` / `records` find one key's rows by binary search.
    """

    def __init__(self, arrow: pa.Table, sort_by: list[str] | None = None, key: str | None = None):
        df = arrow.to_pandas()
        if sort_by:
            order = df.sort_values(sort_by, kind="stable").index.to_numpy()
            arrow = arrow.take(pa.array(order, pa.int64()))
            df = df.iloc[order].reset_index(drop=True)
        self.arrow = arrow.combine_chunks()
        self.df = df
        self.key = key
        self.keys = df[key].to_numpy(dtype=object) if key else None

    def __len__(self) -> int:
        return len(self.df)

    def span(self, value: str) -> tuple[int, int]:
        lo = int(self.keys.searchsorted(value, "left"))
        hi = int(self.keys.searchsorted(value, "right"))
        return lo, hi

    def rows(self, value: str) -> pd.DataFrame:
        lo, hi = self.span(value)
        return self.df.iloc[lo:hi]

    def records(self, value: str) -> list[dict[str, Any]]:
        lo, hi = self.span(value)
        if hi - lo == 1:
            return [self._row(lo)]
        return _dicts(self._columns(), lambda a: a.slice(lo, hi - lo)) if hi > lo else []

    def take(self, positions) -> list[dict[str, Any]]:
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n <= 1:
            return [self._row(int(positions[0]))] if n else []
        lo, hi = int(positions.min()), int(positions.max()) + 1
        if hi - lo <= 2 * n:  # nearby rows (one customer's page): slice the range, pick in Python; no Arrow take
            rows = _dicts(self._columns(), lambda a: a.slice(lo, hi - lo))
            return [rows[p - lo] for p in positions.tolist()]
        index = pa.array(positions)
        return _dicts(self._columns(), lambda a: a.take(index))

    def _columns(self) -> list[tuple[str, pa.Array, bool]]:
        """(name, the column as one array, whether it is floating point), made on first use."""
        cols = self.__dict__.get("_cols")
        if cols is None:
            cols = [(name, col.chunk(0) if col.num_chunks == 1 else col.combine_chunks(), pa.types.is_floating(col.type))
                    for name, col in zip(self.arrow.column_names, self.arrow.columns, strict=True)]
            self._cols = cols
        return cols

    def _row(self, pos: int) -> dict[str, Any]:
        """One row as a dict, value by value (a one-row slice's to_pylist costs several times more)."""
        out = {}
        for name, arr, is_float in self._columns():
            v = arr[pos].as_py()
            out[name] = None if is_float and v != v else v  # NaN is a null
        return out


def _sort_key(column: pa.ChunkedArray) -> np.ndarray | None:
    """Integers ordered like `column`'s values (strings by their rank among the distinct values); None when unsupported."""
    if column.null_count:
        return None
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        enc = pc.dictionary_encode(column).combine_chunks()
        order = pc.sort_indices(enc.dictionary).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank[enc.indices.to_numpy()]
    if pa.types.is_date32(column.type):
        return column.combine_chunks().cast(pa.int32()).to_numpy()
    if pa.types.is_integer(column.type):
        return column.combine_chunks().to_numpy()
    return None


def _stable_order(arrow: pa.Table, sort_by: list[str]) -> np.ndarray:
    """Row order of a stable sort by `sort_by` (what pandas' stable sort_values gives), with numpy's lexsort."""
    keys = [_sort_key(arrow.column(c)) for c in sort_by]
    if any(k is None for k in keys):
        return pc.sort_indices(arrow, [(c, "ascending") for c in sort_by]).to_numpy()
    return np.lexsort(keys[::-1]) if arrow.num_rows else np.zeros(0, np.int64)


class ArrowTable(Table):
    """A large keyed table kept once, as Arrow only (the timeline, the metric history).

    Sorted by a stable numpy lexsort on integer keys (strings ranked through
    a dictionary), so the same order as `Table`'s stable pandas sort; `within`
    columns are sorted per key when its rows are read.  One key's rows are
    found through the key's run boundaries: no pandas copy and no Python
    string per row.  `rows` builds a frame for one key's rows only, indexed by
    their row positions, as `Table.rows` does.
    """

    def __init__(self, arrow: pa.Table, sort_by: list[str], key: str, within: list[str] | None = None):
        # `within`: sort keys applied to one key's rows when they are read (a global sort on a string
        # column of distinct values, like the timeline's event ids, costs seconds at startup)
        self.within = within
        if sort_by:
            order = pa.array(_stable_order(arrow, sort_by), pa.int64())
            for i, name in enumerate(arrow.column_names):  # one column at a time: never two copies of the table
                arrow = arrow.set_column(i, name, arrow.column(i).take(order).combine_chunks())
        self.arrow = arrow.combine_chunks()
        self.df = None
        self.key = key
        runs = pc.run_end_encode(self.arrow.column(key).combine_chunks()) if self.arrow.num_rows else None
        self.keys = np.asarray(runs.values.to_pylist() if runs is not None else [], dtype=object)  # one per distinct key, sorted
        ends = runs.run_ends.to_numpy().astype(np.int64) if runs is not None else np.zeros(0, np.int64)
        self.starts = np.concatenate([[0], ends])

    def __len__(self) -> int:
        return self.arrow.num_rows

    def span(self, value: str) -> tuple[int, int]:
        i = int(self.keys.searchsorted(value, "left"))
        if i < len(self.keys) and self.keys[i] == value:
            return int(self.starts[i]), int(self.starts[i + 1])
        lo = int(self.starts[i])
        return lo, lo

    def positions(self, value: str) -> np.ndarray:
        """Row positions of one key's rows, in `within` order."""
        lo, hi = self.span(value)
        pos = np.arange(lo, hi, dtype=np.int64)
        if self.within and hi - lo > 1:
            part = self.arrow.slice(lo, hi - lo).select(self.within)
            pos = pos[pc.sort_indices(part, [(c, "ascending") for c in self.within]).to_numpy()]  # stable
        return pos

    def rows(self, value: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One key's rows (only `columns` when given) as a frame indexed by their row positions."""
        pos = self.positions(value)
        table = self.arrow.select(columns) if columns else self.arrow
        df = table.take(pa.array(pos)).to_pandas() if len(pos) else table.schema.empty_table().to_pandas()
        df.index = pd.Index(pos)
        return df

    def records(self, value: str) -> list[dict[str, Any]]:
        if not self.within:
            return super().records(value)
        return self.take(self.positions(value))


def _dicts(columns: list[tuple[str, pa.Array, bool]], pick) -> list[dict[str, Any]]:
    """Rows as dicts of Python values, converted column by column (`pick` selects the rows of each
    column): the same dicts as ``to_pylist`` of those rows in about a third of the time; NaN is a null."""
    names, values = [], []
    for name, arr, is_float in columns:
        vals = pick(arr).to_pylist()
        if is_float:
            vals = [None if v != v else v for v in vals]
        names.append(name)
        values.append(vals)
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a (small) frame as dicts of plain Python values (None for nulls)."""
    return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]


@dataclass
class Snapshot:
    run_id: str
    as_of: date
    published_at: str
    metrics: pd.DataFrame  # indexed by account_id, sorted
    metrics_table: Table  # the same rows, for dicts
    timeline: Table  # by account_id
    history: Table  # by account_id
    names: NameIndex
    tables: frozenset[str] = frozenset()  # the optional tables this snapshot has
    alerts: Table | None = None  # by account_id, then alert_type
    alert_pos: dict[str, int] | None = None  # alert_id -> row
    recommendations: Table | None = None  # by account_id, then rule_id, first_seen
    recommendation_pos: dict[str, int] | None = None
    rule_facts: pd.DataFrame | None = None  # indexed by account_id
    masters: Table | None = None  # gold_master_accounts by account_id
    master_members: Table | None = None  # gold_master_accounts by master_id
    links: Table | None = None  # gold_account_links by master_id
    review_queue: Table | None = None
    rollups: Table | None = None  # by master_id
    loaded_at: float = 0.0  # time.time() when loaded
    positions: dict[str, int] = field(default_factory=dict)  # account_id -> row of metrics

    @classmethod
    def load(cls, snap: storage.Snapshot) -> Snapshot:
        def arrow(name: str) -> pa.Table:
            return pq.read_table(snap.table_path("gold", name))

        metrics_table = Table(arrow(METRICS), ["account_id"], "account_id")
        metrics = metrics_table.df.copy(deep=False)
        metrics.index = pd.Index(metrics["account_id"].to_numpy(dtype=object))  # unnamed: no clash with the column
        present = frozenset(t for t in OPTIONAL_TABLES if t in snap.tables("gold"))
        out = cls(
            run_id=snap.run_id,
            as_of=date.fromisoformat(snap.manifest["as_of"]),
            published_at=snap.manifest.get("published_at", ""),
            metrics=metrics,
            metrics_table=metrics_table,
            timeline=ArrowTable(arrow(TIMELINE), ["account_id", "event_date"], "account_id", within=["event_date", "event_id"]),
            history=ArrowTable(arrow(HISTORY), ["account_id", "as_of"], "account_id"),
            names=NameIndex(metrics["account_id"].to_numpy(dtype=object), metrics["account_name"].fillna("").to_numpy(dtype=object)),
            tables=present,
            loaded_at=time.time(),
        )
        out.positions = {a: i for i, a in enumerate(metrics.index)}
        if ALERTS in present:
            out.alerts = Table(arrow(ALERTS), ["account_id", "alert_type"], "account_id")
            out.alert_pos = {a: i for i, a in enumerate(out.alerts.df["alert_id"].to_numpy(dtype=object))}
        if RECOMMENDATIONS in present:
            out.recommendations = Table(arrow(RECOMMENDATIONS), ["account_id", "rule_id", "first_seen", "recommendation_id"], "account_id")
            out.recommendation_pos = {r: i for i, r in enumerate(out.recommendations.df["recommendation_id"].to_numpy(dtype=object))}
        if RULE_FACTS in present:
            facts = arrow(RULE_FACTS).to_pandas()
            facts.index = pd.Index(facts["account_id"].to_numpy(dtype=object))
            out.rule_facts = facts
        if MASTER_ACCOUNTS in present:
            masters = arrow(MASTER_ACCOUNTS)
            out.masters = Table(masters, ["account_id"], "account_id")
            out.master_members = Table(masters, ["master_id", "account_id"], "master_id")
        if ACCOUNT_LINKS in present:
            out.links = Table(arrow(ACCOUNT_LINKS), ["master_id", "account_id_a", "account_id_b"], "master_id")
        if REVIEW_QUEUE in present:
            out.review_queue = Table(arrow(REVIEW_QUEUE))
        if ROLLUPS in present:
            out.rollups = Table(arrow(ROLLUPS), ["master_id"], "master_id")
        return out

    def has(self, table: str) -> bool:
        return table in self.tables

    # ------------------------------------------------------------------ customers

    def customer(self, account_id: str) -> dict[str, Any] | None:
        pos = self.positions.get(account_id)
        return None if pos is None else self.metrics_table.take([pos])[0]

    def customers(self, account_ids) -> list[dict[str, Any]]:
        """Rows of known ids, in the order given (unknown ids are skipped)."""
        positions = [self.positions[a] for a in account_ids if a in self.positions]
        return self.metrics_table.take(positions)

    def timeline_for(self, account_id: str) -> pd.DataFrame:
        """The account's events as a frame whose index holds row positions for `timeline.take`."""
        return self.timeline.rows(account_id, ["event_type", "event_date"])  # what the timeline resolver filters on

    def history_for(self, account_id: str) -> list[dict[str, Any]]:
        return self.history.records(account_id)

    # ------------------------------------------------------------------ rules

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        if self.alert_pos is None or alert_id not in self.alert_pos:
            return None
        return self.alerts.take([self.alert_pos[alert_id]])[0]

    def alerts_for(self, account_id: str) -> list[dict[str, Any]] | None:
        return None if self.alerts is None else self.alerts.records(account_id)

    def recommendation(self, recommendation_id: str) -> dict[str, Any] | None:
        if self.recommendation_pos is None or recommendation_id not in self.recommendation_pos:
            return None
        return self.recommendations.take([self.recommendation_pos[recommendation_id]])[0]

    def recommendations_for(self, account_id: str) -> list[dict[str, Any]] | None:
        return None if self.recommendations is None else self.recommendations.records(account_id)

    # ------------------------------------------------------------------ linking

    def master_of(self, account_id: str) -> dict[str, Any] | None:
        if self.masters is None:
            return None
        rows = self.masters.records(account_id)
        return rows[0] if rows else None

    def member_ids(self, master_id: str) -> list[str]:
        if self.master_members is None:
            return []
        lo, hi = self.master_members.span(master_id)
        return self.master_members.arrow.column("account_id").slice(lo, hi - lo).to_pylist()

    def members_of(self, master_id: str) -> list[dict[str, Any]]:
        return [] if self.master_members is None else self.master_members.records(master_id)

    def links_of(self, master_id: str) -> list[dict[str, Any]] | None:
        return None if self.links is None else self.links.records(master_id)

    def rollup(self, master_id: str) -> dict[str, Any] | None:
        if self.rollups is None:
            return None
        rows = self.rollups.records(master_id)
        return rows[0] if rows else None


class SnapshotHolder:
    """Holds the current snapshot and swaps in a newer one when CURRENT changes.

    With ``poll=True`` (the default, for scripts and tests) `get` checks
    ``CURRENT`` itself, at most once per ``check_interval`` seconds.  The
    server passes ``poll=False`` and calls `refresh` from a background task
    instead, so no request ever waits for a snapshot to load; readers keep
    the old snapshot meanwhile.  Listeners are called with the new snapshot
    after each swap.
    """

    def __init__(self, data_dir: Path, check_interval: float = 2.0, poll: bool = True):
        self.data_dir = Path(data_dir)
        self.check_interval = check_interval
        self.poll = poll
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._current: Snapshot | None = None
        self._checked = 0.0
        self.listeners: list = []

    def get(self) -> Snapshot | None:
        now = time.monotonic()
        if self._current is None or (self.poll and now - self._checked >= self.check_interval):
            self._checked = now
            self.refresh()
        return self._current

    def refresh(self) -> bool:
        with self._refresh_lock:
            run_id = storage.current_run_id(self.data_dir)
            if run_id is None or (self._current is not None and self._current.run_id == run_id):
                return False
            loaded = Snapshot.load(storage.open_snapshot(self.data_dir, run_id))
            with self._lock:
                self._current = loaded
        for listener in list(self.listeners):
            listener(loaded)
        return True


__all__ = ["Snapshot", "SnapshotHolder", "_as_date", "_clean"]
