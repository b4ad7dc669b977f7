"""Account-clustered Parquet tables: read one account's rows without reading the file.

The timeline and the metric history are the gold tables with many rows per
account (82 million events and 13 million month-ends at a million accounts).
The pipeline writes them partition by partition, each partition sorted by
account, in row groups of `ROW_GROUP_ROWS` rows: every account's rows form one
contiguous range that lies in one or two small row groups.

`ClusterIndex` holds those ranges; the writer records them as it appends
(`IndexBuilder`, kept under ``_index/`` beside the table), and `build_index`
finds them from the key column for a file written without one.
`ClusteredTable` keeps the file memory-mapped and decodes only the row groups
a read touches, behind a small LRU.  The API serves a million accounts'
timelines this way in a few megabytes, and the next pipeline run reads the
previous history of one partition's accounts only.

Decoding a 2,048-row Parquet row group costs about 0.4 ms, far more than the
few rows an API request wants.  So every table the API reads row by row also
gets a *served copy* (`served_path`: ``_serve/<table>.arrow`` beside it): the
same rows in the same order as an Arrow IPC file in uniform record batches:
LZ4-compressed batches of `SERVED_BATCH_ROWS` rows for
the timeline and the history (about 20 us to read a batch from the memory map;
twice the Parquet file's size), uncompressed batches of `UNCOMPRESSED_BATCH_ROWS`
rows for the tables of about a row per account (three times the LZ4 size, but
read without decoding: their batches are views of the memory map, so the reader
keeps every one and a read is a slice; LZ4 would decompress each buffer of each
column separately).  `ServedCopyWriter` writes it, `IpcRowReader` reads it with
`RowGroupReader`'s interface, and `open_served_copy` opens it only when its row
count is the Parquet file's.

The API holds a timeline or history of at most `IN_MEMORY_ROWS` rows whole in
memory (`ClusteredTable.open`'s ``in_memory_rows``, server config
``snapshot_in_memory_rows``) and never opens its copy, so the pipeline writes an
LZ4 copy only for a larger one (``served_copy_above`` in etl.task.CLUSTERED_LAYOUT,
`etl.storage.RunWriter.append`): at 100,000 accounts (8 million events) neither
has one.  A server configured to hold fewer rows reads such a table from the
Parquet file, a row group at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl.arrays import distinct

# About 25 accounts' events per timeline row group: one group decodes in well under a millisecond.
ROW_GROUP_ROWS = 2048
# A timeline or history of at most this many rows is held whole in memory by the API (a 100,000-account
# timeline: 8 million events, 1.3 GB; server.snapshot.IN_MEMORY_ROWS, the default of the server config's
# snapshot_in_memory_rows), so the pipeline writes no served copy of it: only a larger one's is read.
IN_MEMORY_ROWS = 10_000_000
# Rows per record batch of an LZ4 served copy: a batch holds a few accounts' events and decodes in ~20 us.
SERVED_BATCH_ROWS = 256
# ... and of an uncompressed one: nothing to decode, so few batches (each read's cost is per batch, not per row)
UNCOMPRESSED_BATCH_ROWS = 65_536
# Column sets an LZ4 copy keeps a narrow reader for (a query's selection makes one: few in practice)
NARROW_READERS = 8
# How a table read a few rows at a time is written (small row groups, compressed for fast reading),
# with a served copy (`served_path`) the API reads its rows from: uncompressed, for the rules and
# linking tables (about a row per account: 1.8 GB at a million accounts, 0.6 GB in LZ4).  The
# timeline's and the history's are LZ4 (etl.task.CLUSTERED_LAYOUT: uncompressed, 13 GB and 2.3 GB),
# and only above IN_MEMORY_ROWS rows.
SERVED_LAYOUT = {"row_group_rows": ROW_GROUP_ROWS, "compression": "lz4", "served_copy": "uncompressed"}
SERVED_CODECS = ("lz4", "uncompressed")  # what `served_copy` may name
# A file whose row groups are larger than this is not worth reading group by group.
MAX_SERVED_ROW_GROUP_ROWS = 65_536


def fixed_width(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Strings as a numpy array of fixed-width UTF-8 bytes (``S<n>``; null -> empty).

    What binary search over a million keys needs, in 18 bytes per account id
    instead of a Python string's 70.  Byte order of UTF-8 is code point order,
    so the array sorts as the strings do; numpy ignores the padding zeros.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    values = pc.fill_null(values.cast(pa.large_binary()), b"")
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset : values.offset + n + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if n and values.buffers()[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = max(int(lengths.max(initial=0)), 1)
    chars = data[offsets[0] : offsets[-1]] if n else data
    if n and int(lengths.min()) == width:  # ids of one length: the data buffer already is the array
        return chars.copy().view(f"S{width}")
    padded = np.concatenate([chars, np.zeros(width, np.uint8)])
    starts = offsets[:-1] - offsets[0]
    col = np.arange(width)
    out = np.empty((n, width), dtype=np.uint8)
    step = 1 << 18  # rows at a time: bounds the gather's index array
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        block = padded[starts[lo:hi, None] + col]
        block[col >= lengths[lo:hi, None]] = 0
        out[lo:hi] = block
    return out.view(f"S{width}").ravel()


class SortedKeys:
    """Sorted string keys for binary search, stored as `fixed_width` bytes."""

    def __init__(self, values: pa.Array | pa.ChunkedArray):
        self.values = fixed_width(values)

    def __len__(self) -> int:
        return len(self.values)

    def range(self, key: str) -> tuple[int, int]:
        """[lo, hi) of the positions holding `key` (empty at its insertion point)."""
        b = key.encode()  # the array's own searchsorted: np.searchsorted's wrapper costs as much again
        return int(self.values.searchsorted(b, side="left")), int(self.values.searchsorted(b, side="right"))

    def find(self, key: str) -> int:
        """The first position of `key`, or -1 (one binary search, not `range`'s two)."""
        b = key.encode()
        i = int(self.values.searchsorted(b, side="left"))
        return i if i < len(self.values) and self.values[i] == b else -1

    def find_many(self, keys: Sequence[str]) -> np.ndarray:
        """`find` for many keys at once (-1 for the unknown)."""
        wanted = fixed_width(pa.array(list(keys), pa.string()))
        if not len(self.values):
            return np.full(len(wanted), -1, dtype=np.int64)
        i = np.minimum(np.searchsorted(self.values, wanted, side="left"), len(self.values) - 1)
        return np.where(self.values[i] == wanted, i, -1)

    def tolist(self) -> list[str]:
        return [v.decode() for v in self.values]


@dataclass(frozen=True)
class ClusterIndex:
    """Each distinct key's contiguous row range [start, stop), keys sorted."""

    keys: SortedKeys
    starts: np.ndarray  # int64
    stops: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.keys)

    def span(self, key: str) -> tuple[int, int]:
        i = self.keys.find(key)
        return (int(self.starts[i]), int(self.stops[i])) if i >= 0 else (0, 0)

    def spans(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Row ranges of many keys (empty ranges for unknown keys), vectorised."""
        i = self.keys.find_many(keys)
        found = i >= 0
        return np.where(found, self.starts[np.maximum(i, 0)], 0), np.where(found, self.stops[np.maximum(i, 0)], 0)


def index_path(table_path: Path) -> Path:
    """Where the writer keeps a table's index: beside it, out of the layer's table listing."""
    return Path(table_path).parent / "_index" / Path(table_path).name


class IndexBuilder:
    """Builds a table's `ClusterIndex` while its pieces are written (each piece clustered by key).

    Reading a million accounts' keys back from an 82-million-row file takes
    longer than the whole server start-up may; counting them on the way out costs
    a comparison of adjacent keys per piece.
    """

    def __init__(self, key: str):
        self.key = key
        self.keys: list[pa.Array] = []
        self.starts: list[np.ndarray] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        n = table.num_rows
        if n:
            col = table.column(self.key).combine_chunks()
            change = pc.not_equal(col.slice(1), col.slice(0, n - 1)).to_numpy(zero_copy_only=False)
            run_starts = np.flatnonzero(np.concatenate([[True], change]))
            self.keys.append(col.take(pa.array(run_starts)).cast(pa.string()))
            self.starts.append(run_starts + self.rows)
        self.rows += n

    def finish(self) -> pa.Table | None:
        """key, start, stop per key sorted by key; None when a key's rows were split."""
        keys = pa.concat_arrays(self.keys) if self.keys else pa.array([], pa.string())
        starts = np.concatenate(self.starts) if self.starts else np.zeros(0, np.int64)
        stops = np.concatenate([starts[1:], [self.rows]]) if len(starts) else starts
        order = pc.sort_indices(keys)
        keys = keys.take(order)
        if len(keys) > 1 and pc.any(pc.equal(keys.slice(1), keys.slice(0, len(keys) - 1))).as_py():
            return None
        order = order.to_numpy()
        return pa.table({self.key: keys, "start": pa.array(starts[order], pa.int64()), "stop": pa.array(stops[order], pa.int64())})


def read_index(path: Path, key: str, rows: int) -> ClusterIndex | None:
    """The index the writer left beside a table, if it is there and covers the table's `rows`."""
    path = index_path(path)
    if not path.exists():
        return None
    table = pq.read_table(path)
    stops = table.column("stop").to_numpy()
    if table.num_rows and int(stops.max()) != rows:
        return None  # not this file's index
    return ClusterIndex(SortedKeys(table.column(key)), table.column("start").to_numpy(), stops)


def build_index(path: Path, key: str) -> ClusterIndex | None:
    """The index of an account-clustered file; None when some key's rows are not contiguous.

    Works on each row group's dictionary codes: a run of equal codes is one key's rows.
    """
    pf = pq.ParquetFile(path, memory_map=True, read_dictionary=[key])
    if pf.schema_arrow.get_field_index(key) < 0:
        raise ValueError(f"no column {key!r} to index by")
    starts: list[np.ndarray] = []
    keys: list[pa.Array] = []
    offset = 0
    last_key = None
    for g in range(pf.metadata.num_row_groups):
        # one group at a time: the whole key column of a large file would not fit in memory
        chunk = pf.read_row_group(g, columns=[key]).column(0)
        n = len(chunk)
        if n == 0:
            continue
        arr = chunk.combine_chunks()
        if not pa.types.is_dictionary(arr.type):
            arr = pc.dictionary_encode(arr)
        codes = arr.indices.to_numpy(zero_copy_only=False)
        run_starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
        run_keys = arr.dictionary.take(pa.array(codes[run_starts]))
        if last_key is not None and run_keys[0].as_py() == last_key:  # a key continues from the previous group
            run_starts, run_keys = run_starts[1:], run_keys[1:]
        if len(run_keys):
            starts.append(run_starts + offset)
            keys.append(run_keys.cast(pa.string()))
            last_key = run_keys[-1].as_py()
        offset += n
    if not keys:
        empty = np.zeros(0, np.int64)
        return ClusterIndex(SortedKeys(pa.array([], pa.string())), empty, empty)
    all_keys = pa.concat_arrays(keys)
    all_starts = np.concatenate(starts)
    all_stops = np.concatenate([all_starts[1:], [offset]])
    order = pc.sort_indices(all_keys)
    sorted_keys = all_keys.take(order)
    if len(sorted_keys) > 1 and pc.any(pc.equal(sorted_keys.slice(1), sorted_keys.slice(0, len(sorted_keys) - 1))).as_py():
        return None  # some key's rows are split: not clustered
    order = order.to_numpy()
    return ClusterIndex(SortedKeys(sorted_keys), all_starts[order], all_stops[order])


SORTED_BY = b"c360.sorted_by"  # Parquet key-value metadata: the columns a table's rows are sorted by


def sort_for_reading(table: pa.Table, by: list[str]) -> pa.Table:
    """The rows sorted (stably) by `by`, with the order recorded in the schema metadata.

    Rows already in that order (as the pipeline builds the timeline and the history)
    are not copied: only the sort's indices are computed, to check it."""
    if table.num_rows > 1:
        order = pc.sort_indices(table, [(c, "ascending") for c in by]).to_numpy()
        if not (order[1:] > order[:-1]).all():
            table = table.take(pa.array(order))
    return table.replace_schema_metadata({**(table.schema.metadata or {}), SORTED_BY: ",".join(by).encode()})


def small_row_groups(meta: pq.FileMetaData) -> bool:
    """Whether a file's row groups are small enough to be read one at a time."""
    return all(meta.row_group(g).num_rows <= MAX_SERVED_ROW_GROUP_ROWS for g in range(meta.num_row_groups))


def sorted_by(schema: pa.Schema) -> list[str] | None:
    value = (schema.metadata or {}).get(SORTED_BY)
    return value.decode().split(",") if value else None


class _Recent:
    """The last `size` decoded row groups or batches by number (callers hold their own lock)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[int, object] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: int, load):
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = load(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return item


def _positions_of(schema: pa.Schema, columns: Sequence[str]) -> tuple[int, ...]:
    """The positions of the `columns` a schema has, in the schema's order."""
    wanted = set(columns)
    return tuple(i for i, name in enumerate(schema.names) if name in wanted)


def _select(table: pa.Table, columns: Sequence[str] | None) -> pa.Table:
    """`table`'s `columns` (those it has, in its order); all of it for None."""
    return table if columns is None else table.select(list(_positions_of(table.schema, columns)))


class _ChunkedRows:
    """`take` for a file read a chunk at a time (Parquet row groups, IPC record batches): a close span
    as one contiguous `read`, scattered rows from just the chunks they lie in.  A subclass gives
    `read`, `schema`, `_lock` and the chunk arithmetic below."""

    def take(self, positions) -> pa.Table:
        """Rows at file positions, in the order given; only the chunks they lie in are decoded."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return self.schema.empty_table()
        lo, hi = int(positions.min()), int(positions.max()) + 1
        if hi - lo <= 4 * ROW_GROUP_ROWS:  # one key's rows, or close: one contiguous read
            return self.read(lo, hi).take(pa.array(positions - lo))
        chunks = self._chunks_of(positions)
        wanted = distinct(chunks)
        with self._lock:
            parts = [self._chunk(int(c)) for c in wanted]
        table = self._concat(parts)
        # position in the concatenation = offset of its chunk there + position within the chunk
        offsets = np.concatenate([[0], np.cumsum([p.num_rows for p in parts])[:-1]])
        at = offsets[np.searchsorted(wanted, chunks)] + positions - self._chunk_starts(chunks)
        return table.take(pa.array(at))


class RowGroupReader(_ChunkedRows):
    """Rows of a memory-mapped Parquet file by position, decoding only the row groups they lie in.

    Decoded groups are kept in a small LRU.  Thread-safe: reads and the cache are behind a lock.
    """

    def __init__(self, path: Path, cache_groups: int = 64):
        self.path = Path(path)
        self._file = pq.ParquetFile(self.path, memory_map=True)
        meta = self._file.metadata
        sizes = np.array([meta.row_group(g).num_rows for g in range(meta.num_row_groups)], dtype=np.int64)
        self.group_starts = np.concatenate([[0], np.cumsum(sizes)])
        self.schema = self._file.schema_arrow
        self._lock = threading.Lock()
        self._cache = _Recent(cache_groups)

    def __len__(self) -> int:
        return int(self.group_starts[-1])

    def _group(self, g: int) -> pa.Table:
        return self._cache.get(g, self._file.read_row_group)

    def _groups_of(self, positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.group_starts, positions, side="right") - 1

    def read(self, lo: int, hi: int, columns: Sequence[str] | None = None) -> pa.Table:
        """Rows [lo, hi) of the file; only `columns` (those the file has, in the file's order) when given."""
        if hi <= lo:
            return _select(self.schema.empty_table(), columns)
        g0, g1 = (int(g) for g in self._groups_of(np.array([lo, hi - 1])))
        with self._lock:
            groups = [self._group(g) for g in range(g0, g1 + 1)]
        table = groups[0] if len(groups) == 1 else pa.concat_tables(groups)
        return _select(table.slice(lo - int(self.group_starts[g0]), hi - lo), columns)

    def read_ranges(self, starts: np.ndarray, stops: np.ndarray, columns: list[str] | None = None) -> pa.Table:
        """The rows of the ranges [start, stop), in file order, decoding only the groups they lie in
        (uncached: one pass over many ranges, as a pipeline partition reads them)."""
        keep = stops > starts
        starts, stops = starts[keep], stops[keep]
        if not len(starts):
            return self.schema.empty_table().select(columns) if columns else self.schema.empty_table()
        first, last = self._groups_of(starts), self._groups_of(stops - 1)
        spanning = [np.arange(a, b + 1) for a, b in zip(first[last > first], last[last > first])]
        groups = distinct(np.concatenate([first, *spanning]))
        table = self._file.read_row_groups(groups.tolist(), columns=columns)
        # the file position of every row read, then keep those inside a wanted range
        sizes = self.group_starts[groups + 1] - self.group_starts[groups]
        file_pos = np.repeat(self.group_starts[groups] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        file_pos += np.arange(int(sizes.sum()))
        order = np.argsort(starts)
        s_sorted, e_sorted = starts[order], stops[order]
        i = np.searchsorted(s_sorted, file_pos, side="right") - 1
        return table.filter(pa.array((i >= 0) & (file_pos < e_sorted[np.maximum(i, 0)])))

    # the chunks `take` reads are row groups
    _chunk = _group
    _chunks_of = _groups_of
    _concat = staticmethod(pa.concat_tables)

    def _chunk_starts(self, groups: np.ndarray) -> np.ndarray:
        return self.group_starts[groups]


# --------------------------------------------------------------------------- served copies

SERVED_DIR = "_serve"
BATCH_ROWS_KEY = b"c360.batch_rows"  # IPC schema metadata: rows per record batch (the last may have fewer)
CODEC_KEY = b"c360.codec"  # ... and the codec (copies written before it was recorded: treated as compressed)


def served_path(table_path: Path) -> Path:
    """Where a table's served copy is kept: beside it, out of the layer's table listing."""
    table_path = Path(table_path)
    return table_path.parent / SERVED_DIR / f"{table_path.stem}.arrow"


def _ipc_write_options(codec: str) -> pa.ipc.IpcWriteOptions:
    if codec not in SERVED_CODECS:
        raise ValueError(f"a served copy is {' or '.join(SERVED_CODECS)}, not {codec!r}")
    # one thread: compressing a 256-row batch's buffers on a pool costs more than it saves
    return pa.ipc.IpcWriteOptions(compression=None if codec == "uncompressed" else codec, use_threads=False)


class ServedCopyWriter:
    """Writes a served copy piece by piece: every record batch but the last has exactly `batch_rows`
    rows (by default `SERVED_BATCH_ROWS` in LZ4, `UNCOMPRESSED_BATCH_ROWS` uncompressed; a piece's
    leftover rows wait for the next piece), so a row's batch is its position divided by the batch size."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int | None = None, codec: str = "lz4"):
        options = _ipc_write_options(codec)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if batch_rows is None:
            batch_rows = UNCOMPRESSED_BATCH_ROWS if codec == "uncompressed" else SERVED_BATCH_ROWS
        self.batch_rows = batch_rows
        self.schema = schema.with_metadata({**(schema.metadata or {}), BATCH_ROWS_KEY: str(batch_rows).encode(),
                                            CODEC_KEY: codec.encode()})
        self._writer = pa.ipc.new_file(str(self.path), self.schema, options=options)
        self._carry: list[pa.RecordBatch] = []  # fewer than batch_rows rows, in order
        self._carry_rows = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if not table.schema.equals(self.schema):
            table = table.cast(self.schema)
        elif table.schema.metadata != self.schema.metadata:  # batches of one schema, metadata included
            table = table.replace_schema_metadata(self.schema.metadata)
        b = self.batch_rows
        for batch in table.to_batches():  # chunk by chunk: no copy of the piece
            if self._carry_rows:
                head = batch.slice(0, b - self._carry_rows)
                self._carry.append(head)
                self._carry_rows += head.num_rows
                batch = batch.slice(head.num_rows)
                if self._carry_rows < b:
                    continue
                self._writer.write_batch(pa.concat_batches(self._carry))
                self._carry, self._carry_rows = [], 0
            whole = batch.num_rows - batch.num_rows % b
            if whole:
                self._writer.write_table(pa.Table.from_batches([batch.slice(0, whole)]), max_chunksize=b)
            if whole < batch.num_rows:  # copied: a slice would keep the whole piece's buffers alive
                rest = batch.num_rows - whole
                self._carry, self._carry_rows = [batch.slice(whole).take(pa.array(np.arange(rest)))], rest
        self.rows += table.num_rows

    def close(self) -> None:
        if self._carry_rows:
            self._writer.write_batch(pa.concat_batches(self._carry))
            self._carry, self._carry_rows = [], 0
        self._writer.close()


def write_served_copy(table: pa.Table, path: Path, codec: str = "lz4") -> int:
    """A whole table's served copy (`codec`: lz4 or uncompressed); returns its row count."""
    writer = ServedCopyWriter(path, table.schema, codec=codec)
    writer.write(table)
    writer.close()
    return writer.rows


def write_served_copy_of_file(table_path: Path, codec: str = "lz4", rows_at_once: int = 65_536) -> int:
    """The served copy of the Parquet file at `table_path` (at `served_path`), read back from the file a
    few row groups (about `rows_at_once` rows) at a time; returns its row count.  For a table written piece
    by piece whose copy is decided only once all its rows are known (`etl.storage.RunWriter.append`)."""
    pf = pq.ParquetFile(table_path, memory_map=True)
    meta = pf.metadata
    writer = ServedCopyWriter(served_path(table_path), pf.schema_arrow, codec=codec)
    try:
        g = 0
        while g < meta.num_row_groups:
            groups, rows = [], 0
            while g < meta.num_row_groups and (not groups or rows + meta.row_group(g).num_rows <= rows_at_once):
                groups.append(g)
                rows += meta.row_group(g).num_rows
                g += 1
            writer.write(pf.read_row_groups(groups))
    finally:
        writer.close()
    return writer.rows


def _open_ipc(path: Path, memory_map: bool = True) -> tuple[pa.ipc.RecordBatchFileReader, int]:
    source = pa.memory_map(str(path)) if memory_map else pa.OSFile(str(path))
    reader = pa.ipc.open_file(source, options=pa.ipc.IpcReadOptions(use_threads=False))
    value = (reader.schema.metadata or {}).get(BATCH_ROWS_KEY)
    if not value or int(value) <= 0:
        raise ValueError(f"{path}: not a served copy (no {BATCH_ROWS_KEY.decode()} in its schema)")
    return reader, int(value)


def served_copy_rows(path: Path) -> int:
    """The rows of a served copy: from its footer (the batch count) and its first and last batches;
    raises ValueError when those are not the uniform batches `IpcRowReader` needs.

    Read with plain reads, not a memory map: counting every batch (``count_rows``) through
    the map faults in the whole file (6 GB for a million accounts' timeline)."""
    return _copy_rows(path, *_open_ipc(path, memory_map=False))


def _copy_rows(path: Path, reader: pa.ipc.RecordBatchFileReader, b: int) -> int:
    n = reader.num_record_batches
    if not n:
        return 0
    first, last = reader.get_batch(0).num_rows, reader.get_batch(n - 1).num_rows
    if (n > 1 and first != b) or not 0 < last <= b:
        raise ValueError(f"{path}: batches of {first} and {last} rows, not of {b}")
    return (n - 1) * b + last


class IpcRowReader(_ChunkedRows):
    """`RowGroupReader`'s reads over a served copy: rows by position from the memory-mapped
    Arrow IPC file, reading (decompressing) only the record batches they lie in.

    Batch ``i`` holds rows ``[i * batch_rows, (i + 1) * batch_rows)``.  Read batches of a
    compressed copy are kept in a small LRU (one request reads an account's rows more than
    once); an uncompressed copy's are all kept once read (views of the memory map: their
    metadata is all they hold in memory).  Thread-safe.
    """

    def __init__(self, path: Path, cache_batches: int = 64):
        self.path = Path(path)
        self._file, self.batch_rows = _open_ipc(self.path)
        self.schema = self._file.schema
        self._rows = _copy_rows(self.path, self._file, self.batch_rows)
        self._lock = threading.Lock()
        self.uncompressed = (self.schema.metadata or {}).get(CODEC_KEY) == b"uncompressed"
        self._cache = _Recent(max(cache_batches, self._file.num_record_batches) if self.uncompressed else cache_batches)
        # a compressed copy read for some columns only: a reader of the file that decodes just those
        # (IpcReadOptions.included_fields), with its own LRU, by the columns' positions
        self._narrow: OrderedDict[tuple[int, ...], tuple[Callable[[int], pa.RecordBatch], pa.Schema, None]] = OrderedDict()
        self._fields_of: dict[tuple[str, ...], tuple[int, ...]] = {}  # a column selection's positions (few selections)

    def __len__(self) -> int:
        return self._rows

    def _batch(self, i: int) -> pa.RecordBatch:
        return self._cache.get(i, self._file.get_batch)

    def batch(self, i: int) -> pa.RecordBatch:
        """Record batch `i` (rows ``[i * batch_rows, (i + 1) * batch_rows)``)."""
        with self._lock:
            return self._batch(i)

    def read(self, lo: int, hi: int, columns: Sequence[str] | None = None) -> pa.Table:
        """Rows [lo, hi) of the file; only `columns` (those the file has, in the file's order) when given.
        A compressed copy then decompresses only those columns' buffers (a timeline page's four of nine
        columns: 13 instead of 22 us a batch)."""
        lo, hi = max(lo, 0), min(hi, self._rows)
        with self._lock:
            get, schema, pick = self._source(columns)
            if hi <= lo:
                table = schema.empty_table()
            else:
                b0, b1 = lo // self.batch_rows, (hi - 1) // self.batch_rows
                if b0 == b1:  # the usual case: a slice of one batch
                    table = pa.Table.from_batches([get(b0).slice(lo - b0 * self.batch_rows, hi - lo)], schema)
                else:
                    table = pa.Table.from_batches([get(i) for i in range(b0, b1 + 1)], schema).slice(lo - b0 * self.batch_rows, hi - lo)
        return table if pick is None else table.select(list(pick))

    def read_batch(self, lo: int, hi: int, columns: Sequence[str] | None = None) -> pa.RecordBatch:
        """`read` as one record batch: for rows within one batch (an account's page, nearly always), a
        slice of it, without a table around it (whose chunked columns cost more to read: a timeline
        page's four columns as Python values, 33 against 22 us)."""
        lo, hi = max(lo, 0), min(hi, self._rows)
        if hi > lo and lo // self.batch_rows == (hi - 1) // self.batch_rows:
            b = lo // self.batch_rows
            with self._lock:
                get, _, pick = self._source(columns)
                batch = get(b).slice(lo - b * self.batch_rows, hi - lo)
            return batch if pick is None else batch.select(list(pick))
        table = self.read(lo, hi, columns)
        batches = table.combine_chunks().to_batches()  # rows across batches: one batch, joined
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)

    def _fields(self, columns: Sequence[str]) -> tuple[int, ...]:
        """The positions of the `columns` the file has, in its order (memoised: a query's selections are few)."""
        key = tuple(columns)
        fields = self._fields_of.get(key)
        if fields is None:
            if len(self._fields_of) >= 256:
                self._fields_of.clear()
            fields = self._fields_of[key] = _positions_of(self.schema, key)
        return fields

    def _source(self, columns: Sequence[str] | None):
        """How to read `columns` (None: all), under the lock: (batch `i` -> its record batch, their schema, the
        column positions to select from each or None).  A compressed copy decodes just those columns with a
        reader of its own (kept for the column set, with its own LRU: `NARROW_READERS`); an uncompressed
        copy's batches are views of the map, selected from."""
        if columns is None:
            return self._batch, self.schema, None
        fields = self._fields(columns)
        if self.uncompressed or not fields or len(fields) == len(self.schema):
            return self._batch, self.schema, fields
        entry = self._narrow.get(fields)
        if entry is None:
            options = pa.ipc.IpcReadOptions(included_fields=list(fields), use_threads=False)
            file = pa.ipc.open_file(pa.memory_map(str(self.path)), options=options)
            cache = _Recent(self._cache.size)
            entry = self._narrow[fields] = (lambda i: cache.get(i, file.get_batch), file.schema, None)
            if len(self._narrow) > NARROW_READERS:
                self._narrow.popitem(last=False)
        else:
            self._narrow.move_to_end(fields)
        return entry

    # the chunks `take` reads are record batches
    _chunk = _batch

    def _chunks_of(self, positions: np.ndarray) -> np.ndarray:
        return positions // self.batch_rows

    def _chunk_starts(self, batches: np.ndarray) -> np.ndarray:
        return batches * self.batch_rows

    def _concat(self, batches: list[pa.RecordBatch]) -> pa.Table:
        return pa.Table.from_batches(batches, self.schema)


def open_served_copy(table_path: Path, rows: int) -> IpcRowReader | None:
    """The served copy of the table at `table_path` when there is one holding its `rows` rows;
    None otherwise (an older snapshot, or a copy that does not belong to this file)."""
    path = served_path(table_path)
    if not path.exists():
        return None
    try:
        reader = IpcRowReader(path)
    except (pa.ArrowInvalid, OSError, ValueError):
        return None
    return reader if len(reader) == rows else None


class InMemoryRows:
    """`RowGroupReader`'s reads over a table held in memory: slices, no decoding."""

    def __init__(self, table: pa.Table):
        self.table = table.combine_chunks()
        self.schema = self.table.schema

    def __len__(self) -> int:
        return self.table.num_rows

    def read(self, lo: int, hi: int, columns: Sequence[str] | None = None) -> pa.Table:
        return _select(self.table.slice(lo, max(hi - lo, 0)), columns)

    def take(self, positions) -> pa.Table:
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return self.schema.empty_table()
        lo, hi = int(positions.min()), int(positions.max()) + 1
        return self.table.slice(lo, hi - lo).take(pa.array(positions - lo))


class ClusteredTable:
    """An account-clustered Parquet file read account by account.

    Row positions are positions in the file, so `rows` and `take` agree with
    an in-memory table of the same file.  `within` columns order one key's
    rows when they are read, unless the file records that its rows are
    sorted by the key and then by them (`sorted_by`, as the pipeline writes
    the timeline and the history); an older file's order within a key may differ.
    """

    def __init__(self, path: Path, key: str, within: list[str] | None = None, index: ClusterIndex | None = None,
                 cache_groups: int = 64):
        self.path = Path(path)
        self.key = key
        self.within = within
        self.file = RowGroupReader(self.path, cache_groups)
        self.reader: RowGroupReader | IpcRowReader | InMemoryRows = self.file  # what account reads go through
        self.index = index if index is not None else build_index(self.path, key)
        if self.index is None:
            raise ValueError(f"{self.path}: rows of one {key} are not contiguous")
        order = sorted_by(self.file.schema) or []
        # one key's rows already in `within` order: nothing to sort when they are read
        self.presorted = bool(within) and order[: len(within) + 1] == [key, *within]

    @classmethod
    def open(cls, path: Path, key: str, within: list[str] | None = None, in_memory_rows: int = 0) -> ClusteredTable | None:
        """The table, or None when the file is not clustered by `key` in small row groups.

        A table of at most `in_memory_rows` rows is read whole into memory (the same
        reads, without decoding a row group per request); a larger one is read from
        its served copy when it has one (`open_served_copy`), else from the file: the
        pipeline writes no copy of a table of at most `IN_MEMORY_ROWS` rows, so a
        smaller `in_memory_rows` than that reads such a table a row group at a time."""
        meta = pq.read_metadata(path)
        if not small_row_groups(meta):
            return None
        index = read_index(Path(path), key, meta.num_rows) or build_index(Path(path), key)
        if index is None:
            return None
        table = cls(path, key, within, index)
        if meta.num_rows <= in_memory_rows:
            table.reader = InMemoryRows(pq.read_table(path))
        else:
            table.reader = open_served_copy(Path(path), meta.num_rows) or table.file
        return table

    def __len__(self) -> int:
        return len(self.reader)

    def span(self, value: str) -> tuple[int, int]:
        return self.index.span(value)

    def _ordered(self, lo: int, hi: int) -> tuple[pa.Table, np.ndarray]:
        """One key's rows in `within` order, and their file positions."""
        part = self.reader.read(lo, hi)
        pos = np.arange(lo, hi, dtype=np.int64)
        if self.within and hi - lo > 1 and not self.presorted:
            order = pc.sort_indices(part.select(self.within), [(c, "ascending") for c in self.within])  # stable
            part = part.take(order)
            pos = pos[order.to_numpy()]
        return part, pos

    def positions(self, value: str) -> np.ndarray:
        lo, hi = self.span(value)
        if not self.within or self.presorted:  # file order is the order: nothing to read
            return np.arange(lo, hi, dtype=np.int64)
        return self._ordered(lo, hi)[1]

    def rows(self, value: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One key's rows (only `columns` when given) as a frame indexed by their row positions."""
        part, pos = self._ordered(*self.span(value))
        df = (part.select(columns) if columns else part).to_pandas()
        df.index = pd.Index(pos)
        return df

    def table(self, value: str) -> pa.Table:
        return self._ordered(*self.span(value))[0]

    def records(self, value: str) -> list[dict]:
        return self.table(value).to_pylist()

    def take(self, positions) -> list[dict]:
        """Rows at file positions, in the order given (usually one key's rows)."""
        return self.reader.take(positions).to_pylist()

    def read_keys(self, values: Sequence[str], columns: list[str] | None = None) -> pa.Table:
        """Every row of these keys, in file order, decoding only the row groups they lie in."""
        return self.file.read_ranges(*self.index.spans(values), columns=columns)
