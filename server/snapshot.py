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

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl import storage
from etl.memory import release_memory
from etl.clustered import (IN_MEMORY_ROWS, ClusteredTable, IpcRowReader, RowGroupReader, SortedKeys, open_served_copy,
                           small_row_groups, sorted_by)
from etl.linking.schemas import READ_ORDER as LINK_READ_ORDER
from rules.schemas import READ_ORDER
from server._values import ColumnValues, column_values, pylist, row_reader
from server.search import NameIndex
from server.summary import BookSummary

log = logging.getLogger("c360.server.snapshot")

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
# The columns of the rules tables that filters, sorts, the status overlay and the dashboard
# read for the whole book; the rest (texts, explanations, outcomes) is read from the file
# for the rows a request renders.
ALERT_FRAME = ["alert_id", "account_id", "alert_type", "category", "severity", "status", "first_seen", "last_seen",
               "snoozed_until", "status_changed_at", "user_changed_at", "impact_usd"]
RECOMMENDATION_FRAME = ["recommendation_id", "account_id", "rule_id", "category", "priority", "status", "first_seen",
                        "last_seen", "executed_on", "status_changed_at", "user_changed_at", "impact_usd"]
# The metrics columns the customer filters and sorts, search and the dashboard read for the whole
# book; a customer's full row (facts, components) comes from the Arrow table.
METRICS_FRAME = ["account_id", "account_name", "parent_id", "region", "country_code", "industry", "owner_id",
                 "owner_name", "health_score", "health_category", "churn_risk", "churn_level", "mrr_usd", "arr_usd",
                 "active_services", "annual_revenue_usd", "yoy_growth", "win_rate", "clv_usd",
                 "next_contract_end_date", "days_to_contract_end"]
# Up to this many rows of an in-memory table are read value by value, row by row (a search's 8 hits of 6 columns:
# 27 against 38 us column by column, whose numpy calls cost ~5 us a column however few the rows; even at 16) ...
ROW_BY_ROW = 12
# ... and up to this many scattered rows column by column from its buffers (server._values), more by Arrow's take.
SCATTERED_FROM_BUFFERS = 64
# Row functions kept per table (`Table._reader`) before they are dropped and made again: a query's column
# selections are few, and a malicious stream of distinct ones must not grow memory
ROW_READERS = 256
# Up to this many rows of one key of a served copy are read value by value (`FileTable.records`), more column by column.
FEW_ROWS = 16
REVIEW_TEXT = frozenset({"account_name_a", "account_name_b", "member_account_ids", "evidence", "reason"})
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

    def __init__(self, arrow: pa.Table, sort_by: list[str] | None = None, key: str | None = None,
                 frame_columns: list[str] | None = None):
        if sort_by and arrow.num_rows and sorted_by(arrow.schema) != sort_by:  # else published in that order
            arrow = _take_columns(arrow, _stable_order(arrow, sort_by))
        self.arrow = arrow.combine_chunks()
        # `frame_columns`: only what filters and sorts read goes to pandas (rows come from Arrow);
        # one block per column: no consolidation copy of a million-row table
        frame = self.arrow.select([c for c in frame_columns if c in self.arrow.column_names]) if frame_columns else self.arrow
        self.df = frame.to_pandas(split_blocks=True)
        self.key = key
        self.keys = SortedKeys(self.arrow.column(key)) if key else None

    def __len__(self) -> int:
        return len(self.df)

    def span(self, value: str) -> tuple[int, int]:
        return self.keys.range(value)

    def rows(self, value: str) -> pd.DataFrame:
        lo, hi = self.span(value)
        return self.df.iloc[lo:hi]

    def records(self, value: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The key's rows, with every column or only `columns` (those the table has)."""
        lo, hi = self.span(value)
        if hi - lo == 1:
            return [self._reader(columns)(lo)]
        return _dicts(self._columns(columns), lambda a: a.slice(lo, hi - lo)) if hi > lo else []

    def take(self, positions, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows at `positions`, in that order, with every column or only `columns` (those the table has)."""
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n <= ROW_BY_ROW:
            read = self._reader(columns)
            return [read(p) for p in positions.tolist()]
        cols = self._columns(columns)
        lo, hi = int(positions.min()), int(positions.max()) + 1
        if hi - lo <= 2 * n:  # nearby rows (one customer's page): slice the range, pick in Python; no Arrow take
            rows = _dicts(cols, lambda a: a.slice(lo, hi - lo))
            return [rows[p - lo] for p in positions.tolist()]
        if n <= SCATTERED_FROM_BUFFERS:  # a few rows here and there (search hits): from the buffers (server._values)
            return _dicts(cols, lambda a: a.take(pa.array(positions)), lambda reader: reader.many(positions))
        index = pa.array(positions)
        return _dicts(cols, lambda a: a.take(index))

    def column(self, name: str) -> pa.ChunkedArray:
        return self.arrow.column(name)

    def _columns(self, only: Sequence[str] | None = None) -> list[tuple[str, pa.Array, bool, ColumnValues | None]]:
        """(name, the column as one array, whether it is floating point, its reader from the buffers or
        None) of every column, or of those of `only` the table has; made on first use."""
        cols = self.__dict__.get("_cols")
        if cols is None:
            cols = [_column(name, col.chunk(0) if col.num_chunks == 1 else col.combine_chunks())
                    for name, col in zip(self.arrow.column_names, self.arrow.columns, strict=True)]
            self._cols = cols
            self._col_by_name = {c[0]: c for c in cols}
        if only is None:
            return cols
        by_name = self._col_by_name
        return [by_name[c] for c in only if c in by_name]

    def _reader(self, only: Sequence[str] | None = None) -> Callable[[int], dict[str, Any]]:
        """A function of a row position giving that row as a dict of `only`'s columns (those the table has;
        every column for None), value by value (`server._values.row_reader`; a one-row slice's to_pylist
        costs several times more); made on first use for each column selection (a query's are few)."""
        readers = self.__dict__.get("_readers")
        if readers is None:
            readers = self._readers = {}
        return _kept_reader(readers, None if only is None else tuple(only), lambda: self._columns(only))


def _kept_reader(readers: dict, key, columns: Callable[[], list]) -> Callable[[int], dict[str, Any]]:
    """The row function kept in `readers` under `key`, made from `columns()` (`server._values.row_reader`)
    the first time; at most `ROW_READERS` are kept (two threads may both make one: the same function)."""
    read = readers.get(key)
    if read is None:
        if len(readers) >= ROW_READERS:
            readers.clear()
        read = readers[key] = row_reader(columns())
    return read


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


def _take_columns(arrow: pa.Table, order: np.ndarray) -> pa.Table:
    """`arrow.take(order)` one column at a time: never two copies of the whole table."""
    order = pa.array(order, pa.int64())
    for i, name in enumerate(arrow.column_names):
        arrow = arrow.set_column(i, name, arrow.column(i).take(order).combine_chunks())
    return arrow


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
            arrow = _take_columns(arrow, _stable_order(arrow, sort_by))
        self.arrow = arrow.combine_chunks()
        self.df = None
        self.key = key
        runs = pc.run_end_encode(self.arrow.column(key).combine_chunks()) if self.arrow.num_rows else None
        self.keys = SortedKeys(runs.values if runs is not None else pa.array([], pa.string()))  # one per distinct key, sorted
        ends = runs.run_ends.to_numpy().astype(np.int64) if runs is not None else np.zeros(0, np.int64)
        self.starts = np.concatenate([[0], ends])

    def __len__(self) -> int:
        return self.arrow.num_rows

    def span(self, value: str) -> tuple[int, int]:
        i = self.keys.find(value)
        return (int(self.starts[i]), int(self.starts[i + 1])) if i >= 0 else (0, 0)

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

    def records(self, value: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if not self.within:
            return super().records(value, columns)
        return self.take(self.positions(value), columns)


class FileTable(Table):
    """A gold table served from its memory-mapped file, with only `frame columns` in memory.

    The columns filters and sorts need are a pandas frame (``df``, RangeIndex =
    row positions in the file, as `Table`'s); whole rows are read from the
    table's served copy (etl.clustered.IpcRowReader) when a page or an
    account's rows are rendered, or, for a snapshot without one, from the
    Parquet file, decoding only their row groups.  The file must have been
    written sorted by `sort_by` (etl.clustered.sort_for_reading) in small row
    groups; `open` gives None otherwise and the caller loads the table whole.
    """

    def __init__(self, path: Path, frame: pa.Table, key: str | None, reader: IpcRowReader | None = None):
        self.path = Path(path)
        self.reader = reader if reader is not None else RowGroupReader(path)
        self.df = frame.to_pandas(split_blocks=True)
        self.key = key
        self.keys = SortedKeys(frame.column(key)) if key else None
        # An uncompressed served copy keeps its few large batches (views of the map): their columns'
        # readers (server._values), by batch, are kept too, so a key's few rows are read value by value.
        self._kept = isinstance(self.reader, IpcRowReader) and self.reader.uncompressed
        self._batch_columns: dict[int, dict[str, tuple]] = {}
        self._batch_readers: dict[tuple, Callable[[int], dict[str, Any]]] = {}  # (batch, columns): `_batch_rows`

    @classmethod
    def open(cls, path: Path, sort_by: list[str] | None, key: str | None, leave_out: frozenset[str] = frozenset(),
             columns: list[str] | None = None) -> FileTable | None:
        """The table with its columns but `leave_out` (or only `columns`) in memory; None if
        the file is not sorted by `sort_by` in small row groups."""
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
        if not small_row_groups(meta) or (sort_by is not None and sorted_by(schema) != sort_by):
            return None
        keep = columns if columns is not None else [c for c in schema.names if c not in leave_out]
        return cls(path, pq.read_table(path, columns=keep), key, open_served_copy(Path(path), meta.num_rows))

    # __len__, span and rows: Table's, on the in-memory frame and keys

    def records(self, value: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        lo, hi = self.span(value)
        if hi <= lo:
            return []
        if self._kept and hi - lo <= FEW_ROWS:
            b = lo // self.reader.batch_rows
            if (hi - 1) // self.reader.batch_rows == b:  # in one batch (rows of one key nearly always are)
                return self._batch_rows(b, lo - b * self.reader.batch_rows, hi - lo, columns)
        return _pylist(self.reader.read(lo, hi, columns), columns)

    def _batch_rows(self, b: int, start: int, n: int, columns: Sequence[str] | None) -> list[dict[str, Any]]:
        """Rows [start, start + n) of kept batch `b`, value by value (as `Table._reader`)."""
        def batch_columns() -> list[tuple[str, pa.Array, bool, ColumnValues | None]]:
            by_name = self._batch_columns.get(b)
            if by_name is None:  # two threads may both make them: the same readers, one kept
                batch = self.reader.batch(b)
                by_name = self._batch_columns[b] = {name: _column(name, arr) for name, arr in zip(batch.schema.names, batch.columns, strict=True)}
            return list(by_name.values()) if columns is None else [by_name[c] for c in columns if c in by_name]

        read = _kept_reader(self._batch_readers, (b, None if columns is None else tuple(columns)), batch_columns)
        return [read(start + i) for i in range(n)]

    def take(self, positions, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return []
        if self._kept and len(positions) == 1:  # one row (an account's master row, one alert)
            p = int(positions[0])
            b = p // self.reader.batch_rows
            return self._batch_rows(b, p - b * self.reader.batch_rows, 1, columns)
        return _reader_rows(self.reader, positions, columns)

    def column(self, name: str) -> pa.ChunkedArray:
        """One whole column, as Arrow, read from the file."""
        return pq.read_table(self.path, columns=[name]).column(0)


class KeyPositions:
    """Row position of each key of a column with unique keys: a read-only mapping.

    Sorted keys and binary search instead of a dict: built by one Arrow sort,
    and a fraction of a dict's memory for a million keys.
    """

    def __init__(self, column: pa.ChunkedArray | pa.Array):
        column = pa.chunked_array([column]) if isinstance(column, pa.Array) else column
        order = pc.sort_indices(column)
        self.keys = SortedKeys(column.take(order))
        self.rows = order.to_numpy()

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, key: str) -> int | None:
        i = self.keys.find(key)
        return int(self.rows[i]) if i >= 0 else None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __getitem__(self, key: str) -> int:
        pos = self.get(key)
        if pos is None:
            raise KeyError(key)
        return pos


def _column(name: str, arr: pa.Array) -> tuple[str, pa.Array, bool, ColumnValues | None]:
    """How rows are read from one array: (name, the array, whether it is floating point, its reader from
    the buffers or None: `server._values`)."""
    return name, arr, arr.type.id in _FLOATS, column_values(arr)


def _dicts(columns: list[tuple], pick, read=None) -> list[dict[str, Any]]:
    """Rows as dicts of Python values, converted column by column: `pick` selects the rows of each
    column's array (a column is (name, array, is floating point[, reader])), or, given, `read` takes
    them from a column's reader from the buffers when it has one.  The same dicts as ``to_pylist`` of
    those rows in about a third of the time; NaN is a null."""
    names, values = [], []
    for name, arr, is_float, *reader in columns:
        if read is not None and reader and reader[0] is not None:
            vals = read(reader[0])
        else:
            vals = pylist(pick(arr))
            if is_float:
                vals = [None if v != v else v for v in vals]
        names.append(name)
        values.append(vals)
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


_FLOATS = frozenset({pa.float16().id, pa.float32().id, pa.float64().id})


def _pylist(table: pa.Table, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Arrow rows as dicts of Python values (only `columns`, those the table has, when given); a float
    NaN is a null like any other.  Column by column (`_dicts`), record batch by record batch (a table's
    chunked columns cost more per call, and joining the batches would copy them): the same dicts as
    ``table.to_pylist()``, faster."""
    if not table.num_rows:
        return []
    schema = table.schema
    names = schema.names
    if columns is None:
        wanted = range(len(names))
    else:
        at = {name: i for i, name in enumerate(names)}
        wanted = [at[c] for c in columns if c in at]
    if not wanted:  # nothing selected but the rows themselves (say only __typename)
        return [{} for _ in range(table.num_rows)]
    floats = [schema.field(i).type.id in _FLOATS for i in wanted]
    out: list[dict[str, Any]] = []
    for batch in table.to_batches():
        if batch.num_rows:
            out += _dicts([(names[i], batch.column(i), f) for i, f in zip(wanted, floats, strict=True)], lambda a: a)
    return out


def _reader_columns(reader, positions: np.ndarray, columns: Sequence[str] | None) -> dict[str, list[Any]]:
    """The values of a file reader's (etl.clustered: `read` and `take`) columns at these positions, in that
    order, column by column (only `columns`, those it has, when given; a float NaN is None).  Nearby
    rows (one account's page, newest first) are one read (a record batch when the reader gives one,
    `read_batch`), picked in Python as `Table.take` picks them - a run in either direction by slicing;
    others the reader's `take`."""
    at: list[int] | slice | None = None
    pl = positions.tolist()
    n = len(pl)
    lo, hi = (min(pl), max(pl) + 1) if n else (0, 0)
    if hi - lo <= 2 * n:
        at = [p - lo for p in pl]
        read_batch = getattr(reader, "read_batch", None)
        data = read_batch(lo, hi, columns) if read_batch is not None else reader.read(lo, hi, columns)
        if n and hi - lo == n == data.num_rows:  # every row read, once each: a run either way (a page) is a slice
            if at == list(range(n)):
                at = slice(None)
            elif at == list(range(n - 1, -1, -1)):
                at = slice(None, None, -1)
    else:
        data = reader.take(positions)
    out = {}
    wanted = None if columns is None else set(columns)
    for name, col in zip(data.schema.names, data.columns, strict=True):
        if wanted is not None and name not in wanted:
            continue
        vals = pylist(col)
        if col.type.id in _FLOATS:
            vals = [None if v != v else v for v in vals]
        if at is not None:
            vals = vals[at] if at.__class__ is slice else [vals[i] for i in at]
        out[name] = vals
    return out


def _reader_rows(reader, positions: np.ndarray, columns: Sequence[str] | None) -> list[dict[str, Any]]:
    """`_reader_columns` as one dict a row."""
    cols = _reader_columns(reader, positions, columns)
    if not cols:  # nothing selected but the rows themselves
        return [{} for _ in range(len(positions))]
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a (small) frame as dicts of plain Python values (None for nulls)."""
    return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]


# Per-account tables up to IN_MEMORY_ROWS rows are held in memory (a 100,000-account timeline: 8 million
# events, 1.3 GB); larger ones are read from their served copy, or from the file a row group at a time
# (server config snapshot_in_memory_rows, whose default it is).  It is etl.clustered's: the pipeline
# writes the served copy only of a timeline or history larger than that.
def _per_account(snap: storage.Snapshot, name: str, sort_by: list[str], within: list[str],
                 in_memory_rows: int = IN_MEMORY_ROWS) -> ClusteredTable | ArrowTable:
    """A table with many rows per account: clustered by account (etl.clustered), from memory or
    from the memory-mapped file by its size; an older, unclustered file is loaded and sorted."""
    path = snap.table_path("gold", name)
    table = ClusteredTable.open(path, "account_id", within=within, in_memory_rows=in_memory_rows)
    if table is not None:
        return table
    log.info("%s of run %s is not clustered by account: loading it into memory", name, snap.run_id)
    return ArrowTable(pq.read_table(path), sort_by, "account_id", within=within)


@dataclass
class Snapshot:
    run_id: str
    as_of: date
    published_at: str
    metrics: pd.DataFrame  # indexed by account_id, sorted
    metrics_table: Table  # the same rows, for dicts
    timeline: ClusteredTable | ArrowTable  # by account_id
    history: ClusteredTable | ArrowTable  # by account_id
    names: NameIndex
    tables: frozenset[str] = frozenset()  # the optional tables this snapshot has
    alerts: Table | None = None  # by account_id, then alert_type
    alert_pos: KeyPositions | None = None  # alert_id -> row
    recommendations: Table | None = None  # by account_id, then rule_id, first_seen
    recommendation_pos: KeyPositions | None = None
    rule_facts: FileTable | Table | None = None  # by account_id
    masters: KeyPositions | None = None  # account_id -> its row of master_members
    master_members: FileTable | Table | None = None  # gold_master_accounts by master_id
    links: FileTable | Table | None = None  # gold_account_links by master_id
    review_queue: FileTable | Table | None = None
    rollups: FileTable | Table | None = None  # by master_id
    loaded_at: float = 0.0  # time.time() when loaded
    positions: KeyPositions | None = None  # account_id -> row of metrics
    summary: BookSummary | None = None  # the dashboard's book-level figures, computed at load

    @classmethod
    def load(cls, snap: storage.Snapshot, in_memory_rows: int = IN_MEMORY_ROWS) -> Snapshot:
        def arrow(name: str) -> pa.Table:
            return pq.read_table(snap.table_path("gold", name))

        def served(name: str, key: str, leave_out: frozenset[str] = frozenset(), frame_columns: list[str] | None = None):
            """A table from its file when published in its read order, else loaded whole and sorted."""
            order = READ_ORDER.get(name) or LINK_READ_ORDER[name]
            table = FileTable.open(snap.table_path("gold", name), order, key, leave_out, frame_columns)
            return table if table is not None else Table(arrow(name), order, key)  # (an empty table is falsy)

        metrics_table = Table(arrow(METRICS), ["account_id"], "account_id", METRICS_FRAME)
        metrics = metrics_table.df.copy(deep=False)
        metrics.index = pd.Index(metrics["account_id"]).rename(None)  # unnamed: no clash with the column
        present = frozenset(t for t in OPTIONAL_TABLES if t in snap.tables("gold"))
        out = cls(
            run_id=snap.run_id,
            as_of=date.fromisoformat(snap.manifest["as_of"]),
            published_at=snap.manifest.get("published_at", ""),
            metrics=metrics,
            metrics_table=metrics_table,
            timeline=_per_account(snap, TIMELINE, ["account_id", "event_date"], ["event_date", "event_id"], in_memory_rows),
            history=_per_account(snap, HISTORY, ["account_id", "as_of"], ["as_of"], in_memory_rows),
            names=NameIndex(metrics.index.to_numpy(), metrics_table.arrow.column("account_name"), metrics["arr_usd"].to_numpy(dtype=float, na_value=np.nan)),
            tables=present,
            loaded_at=time.time(),
        )
        out.positions = KeyPositions(metrics_table.arrow.column("account_id"))
        if ALERTS in present:
            out.alerts = served(ALERTS, "account_id", frame_columns=ALERT_FRAME)
            out.alert_pos = KeyPositions(out.alerts.column("alert_id"))
        if RECOMMENDATIONS in present:
            out.recommendations = served(RECOMMENDATIONS, "account_id", frame_columns=RECOMMENDATION_FRAME)
            out.recommendation_pos = KeyPositions(out.recommendations.column("recommendation_id"))
        if RULE_FACTS in present:
            out.rule_facts = served(RULE_FACTS, "account_id", frame_columns=["account_id"])
        if MASTER_ACCOUNTS in present:
            out.master_members = served(MASTER_ACCOUNTS, "master_id", frame_columns=["master_id", "account_id"])
            out.masters = KeyPositions(out.master_members.column("account_id"))  # account -> its row
        if ACCOUNT_LINKS in present:
            out.links = served(ACCOUNT_LINKS, "master_id", frame_columns=["master_id"])
        if REVIEW_QUEUE in present:
            out.review_queue = FileTable.open(snap.table_path("gold", REVIEW_QUEUE), None, None, REVIEW_TEXT)
            if out.review_queue is None:
                out.review_queue = Table(arrow(REVIEW_QUEUE))
        if ROLLUPS in present:
            out.rollups = served(ROLLUPS, "master_id", frame_columns=["master_id"])
        out.summary = BookSummary.of(out)
        release_memory()  # the load's temporaries: resident size is what the snapshot holds
        return out

    def has(self, table: str) -> bool:
        return table in self.tables

    # ------------------------------------------------------------------ customers

    def customer(self, account_id: str, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The account's metrics row (only `columns` when given); None when unknown."""
        pos = self.positions.get(account_id)
        return None if pos is None else self.metrics_table.take([pos], columns)[0]

    def customers_at(self, positions, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Metrics rows at these row positions (`names.search_positions` gives them), in that order."""
        return self.metrics_table.take(positions, columns)

    def customers(self, account_ids, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows of known ids, in the order given (unknown ids are skipped); only `columns` when given."""
        positions = [p for p in map(self.positions.get, account_ids) if p is not None]
        return self.metrics_table.take(positions, columns)

    def timeline_positions(self, account_id: str, types: list[str] | None = None, since: date | None = None,
                           until: date | None = None) -> np.ndarray:
        """Row positions of the account's events, oldest first; only those of `types` (event type values)
        dated within [since, until] when given.  Filtered with Arrow on the account's rows (no pandas frame)."""
        timeline = self.timeline
        pos = timeline.positions(account_id)
        if not len(pos) or not (types or since is not None or until is not None):
            return pos
        if isinstance(timeline, ClusteredTable):
            part = timeline.table(account_id)  # the same rows in the same order as `pos`
            kind, day = part.column("event_type"), part.column("event_date")
        else:  # an older, unclustered snapshot held as ArrowTable
            frame = timeline.rows(account_id, ["event_type", "event_date"])
            kind, day = pa.array(frame["event_type"]), pa.array(frame["event_date"].map(_as_date), pa.date32())
        keep = np.ones(len(pos), dtype=bool)
        if types:
            keep &= pc.is_in(kind, value_set=pa.array(types, kind.type)).to_numpy(zero_copy_only=False)
        if since is not None:
            keep &= pc.fill_null(pc.greater_equal(day, pa.scalar(since, pa.date32())), False).to_numpy(zero_copy_only=False)
        if until is not None:
            keep &= pc.fill_null(pc.less_equal(day, pa.scalar(until, pa.date32())), False).to_numpy(zero_copy_only=False)
        return pos[keep]

    def timeline_columns(self, positions, columns: Sequence[str] | None = None) -> dict[str, list[Any]]:
        """The timeline's values at these positions (as `timeline_positions` gives them), in that order,
        column by column; only `columns` (those the table has) when given.  A page of events is made
        from these without a dict a row."""
        positions = np.asarray(positions, dtype=np.int64)
        if isinstance(self.timeline, ClusteredTable):
            return _reader_columns(self.timeline.reader, positions, columns)
        rows = self.timeline.take(positions, columns)  # an older, unclustered snapshot held as ArrowTable
        names = [c for c in self.timeline.arrow.column_names if columns is None or c in columns]
        return {c: [r.get(c) for r in rows] for c in names}

    def history_for(self, account_id: str) -> list[dict[str, Any]]:
        return self.history.records(account_id)

    # ------------------------------------------------------------------ rules

    def rule_facts_of(self, account_id: str) -> dict[str, Any] | None:
        """The account's row of gold_rule_facts (None without one)."""
        if self.rule_facts is None:
            return None
        rows = self.rule_facts.records(account_id)
        return rows[0] if rows else None

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        pos = None if self.alert_pos is None else self.alert_pos.get(alert_id)
        return None if pos is None else self.alerts.take([pos])[0]

    def alerts_for(self, account_id: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]] | None:
        """The account's alerts rows (only `columns` when given); None when the snapshot has no alerts table."""
        return None if self.alerts is None else self.alerts.records(account_id, columns)

    def recommendation(self, recommendation_id: str) -> dict[str, Any] | None:
        pos = None if self.recommendation_pos is None else self.recommendation_pos.get(recommendation_id)
        return None if pos is None else self.recommendations.take([pos])[0]

    def recommendations_for(self, account_id: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]] | None:
        """The account's recommendations rows (only `columns` when given); None when the snapshot has none."""
        return None if self.recommendations is None else self.recommendations.records(account_id, columns)

    # ------------------------------------------------------------------ linking

    def master_of(self, account_id: str, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The account's row of the linker's master accounts (only `columns` when given); None without one."""
        pos = None if self.masters is None else self.masters.get(account_id)
        return None if pos is None else self.master_members.take([pos], columns)[0]

    def member_ids(self, master_id: str) -> list[str]:
        if self.master_members is None:
            return []
        lo, hi = self.master_members.span(master_id)
        ids = self.__dict__.get("_member_ids")
        if ids is None:  # the frame's account_id column as Arrow (no copy): a slice of it, not a pandas row frame
            ids = self._member_ids = pa.array(self.master_members.df["account_id"].array)
        return ids.slice(lo, hi - lo).to_pylist()

    def members_of(self, master_id: str) -> list[dict[str, Any]]:
        return [] if self.master_members is None else self.master_members.records(master_id)

    def links_of(self, master_id: str) -> list[dict[str, Any]] | None:
        return None if self.links is None else self.links.records(master_id)

    def rollup(self, master_id: str, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The master's roll-ups row (only `columns` when given); None without one."""
        if self.rollups is None:
            return None
        rows = self.rollups.records(master_id, columns)
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

    def __init__(self, data_dir: Path, check_interval: float = 2.0, poll: bool = True, in_memory_rows: int = IN_MEMORY_ROWS):
        self.data_dir = Path(data_dir)
        self.in_memory_rows = in_memory_rows
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
            loaded = Snapshot.load(storage.open_snapshot(self.data_dir, run_id), self.in_memory_rows)
            with self._lock:
                self._current = loaded
        for listener in list(self.listeners):
            listener(loaded)
        return True


__all__ = ["Snapshot", "SnapshotHolder", "_as_date", "_clean"]
