"""Where the layers live on disk, and how they are written without ever
exposing a half-written state.

Layout under the data directory::

    bronze/<Object>/batch_id=<id>/part-00000.parquet   raw extracts, immutable batches
    bronze/<feed>/*.csv | *.parquet                     file feeds, as dropped
    runs/<run_id>/silver/<table>.parquet                one pipeline run's output
    runs/<run_id>/quarantine/<table>.parquet
    runs/<run_id>/gold/<table>.parquet
    runs/<run_id>/gold/_serve/<table>.arrow             served copies (etl.clustered.served_path)
    runs/<run_id>/manifest.json                         written last
    CURRENT                                             the published run id
    runs.lock                                           held while a run is published or runs are pruned

A run writes into ``runs/.staging-<run_id>`` and becomes visible only when
the staging directory is renamed into place and ``CURRENT`` is replaced, both
atomic renames on a POSIX filesystem.  A run killed at any point leaves the
previously published snapshot untouched.  The renames happen under
`runs_lock`, and the manifest records the run's place in publish order
(``publish_seq``), which is what `etl.runs` lists and prunes runs by.

The data directory may also be an fsspec URL (`etl.location`): the same
layout under a prefix.  An object store has no atomic rename, so a run is
staged in a local temporary directory and published by copying every file
under ``runs/<run_id>/``, then ``manifest.json``, then writing ``CURRENT``
last: ``CURRENT`` is the commit point, and readers only follow it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl import clustered, location
from etl.contracts import BRONZE_FEEDS, BRONZE_METADATA, BRONZE_TABLES
from etl.errors import DataError
from etl.location import Location

CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
RUNS_LOCK_FILE = "runs.lock"
LAYERS = ("silver", "quarantine", "gold")
# Names under runs/ that are not published runs (readers skip every name starting with a dot):
STAGING_PREFIX = ".staging-"  # a run being written: .staging-<run_id>
WORK_PREFIX = ".work-"  # a run's split bronze and part files: .work-<run_id>
TRASH_PREFIX = ".trash-"  # a run renamed out of the way, being deleted: .trash-<run_id>-<hex>
# How long publishing waits for a prune (or another publish) holding the runs lock;
# both hold it for a few renames only.
PUBLISH_LOCK_TIMEOUT = 300.0


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC timestamp plus a short random suffix."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a small file so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _as_table(df: pd.DataFrame | pa.Table, schema: pa.Schema | None) -> pa.Table:
    """What `write_parquet` writes for `df`: the frame in `schema`, or the table cast to it."""
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    if schema is not None and isinstance(df, pa.Table):
        table = table.select(schema.names).cast(schema)
    return table


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_parquet(
    df: pd.DataFrame | pa.Table, path: Path, schema: pa.Schema | None = None, compression: str = "zstd",
    row_group_rows: int | None = None,
) -> int:
    """Write one Parquet file (fsynced); returns the row count."""
    table = _as_table(df, schema)
    if location.is_remote(path):
        fs, where = location.fs_path(path)
        pq.write_table(table, where, compression=compression, filesystem=fs, row_group_size=row_group_rows)
        return table.num_rows
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression=compression, row_group_size=row_group_rows)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return table.num_rows


def write_ipc(table: pa.Table, path: Location, make_parents: bool = True) -> int:
    """Write one Arrow IPC file, LZ4 (fsynced when local); returns the row count.  What the
    pipeline's workers hand their tables over in: faster to write and to read back than Parquet.
    Without `make_parents`, a missing directory is an error (FileNotFoundError), not created."""
    options = pa.ipc.IpcWriteOptions(compression="lz4", use_threads=False)
    if location.is_remote(path):
        fs, where = location.fs_path(path)
        with fs.open(where, "wb") as fh, pa.ipc.new_file(fh, table.schema, options=options) as writer:
            writer.write_table(table)
        return table.num_rows
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    with pa.ipc.new_file(str(path), table.schema, options=options) as writer:
        writer.write_table(table)
    _fsync_file(path)
    return table.num_rows


def read_ipc(path: Location) -> pa.Table:
    """The table of one Arrow IPC file (`write_ipc`)."""
    path = location.as_location(path)
    with pa.OSFile(str(path)) if isinstance(path, Path) else location.open_input(path) as fh:
        return pa.ipc.open_file(fh).read_all()


# --------------------------------------------------------------------------- bronze


def bronze_dir(data_dir: Location, table: str) -> Location:
    return location.join(location.as_location(data_dir), "bronze", table)


def write_bronze_batch(
    data_dir: Path,
    table: str,
    data: pd.DataFrame | pa.Table,
    *,
    batch_id: str,
    source: str,
    extracted_at: datetime | None = None,
) -> Path:
    """Land one immutable batch of a bronze table, visible only once complete.

    ``data`` must hold the contract's columns for ``table`` (missing ones are
    written as nulls); the metadata columns are added here.
    """
    schema = BRONZE_TABLES[table]
    tbl = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    n = tbl.num_rows
    cols = []
    for field in schema:
        if field.name in tbl.column_names:
            cols.append(tbl.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(n, field.type))
    stamp = (extracted_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    meta = [pa.array([batch_id] * n, pa.string()), pa.array([stamp] * n, pa.string()), pa.array([source] * n, pa.string())]
    out = pa.Table.from_arrays(cols + meta, schema=pa.schema(list(schema) + list(BRONZE_METADATA)))

    final = bronze_dir(data_dir, table) / f"batch_id={batch_id}"
    if final.exists():
        raise DataError(f"bronze batch {final} already exists; batches are immutable")
    staging = final.with_name(f".staging-{final.name}-{uuid.uuid4().hex[:6]}")
    write_parquet(out, staging / "part-00000.parquet")
    os.rename(staging, final)
    fsync_dir(final.parent)
    return final


def _bronze_files(directory: Location) -> list[Location]:
    if isinstance(directory, str):
        return [f for f, rel in location.files_under(directory)
                if rel[-1].endswith((".parquet", ".csv")) and not any(part.startswith(".") for part in rel)]
    if not directory.is_dir():
        return []
    files = [
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.suffix in (".parquet", ".csv")
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]
    return sorted(files)


def _suffix(path: Location) -> str:
    return path.suffix if isinstance(path, Path) else "." + location.name(path).rsplit(".", 1)[-1]


def _source(path: Location):
    """What pyarrow's readers take: a local path as is, a URL as an open fsspec file."""
    return path if isinstance(path, Path) else location.open_input(path)


# Rows per batch when bronze is streamed (`iter_bronze_batches`); CSV feeds are
# streamed in blocks of about this many bytes.
BRONZE_BATCH_ROWS = 131_072
BRONZE_CSV_BLOCK_BYTES = 16 << 20


def _csv_options(path: Path, columns: list[str] | None) -> tuple[list[str], pacsv.ConvertOptions]:
    """The header of a CSV feed, and options reading (the wanted columns of) it all as text."""
    # Feeds are text: read every column as a string and let silver parse it,
    # so a bad value is quarantined rather than failing the whole file.
    try:
        header = pacsv.read_csv(_source(path), read_options=pacsv.ReadOptions(skip_rows_after_names=10**9)).column_names
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: unreadable CSV: {exc}") from exc
    opts = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header},
        strings_can_be_null=True,
        null_values=[""],
        include_columns=_columns_to_read(header, columns),
    )
    return header, opts


def _columns_to_read(present: list[str], columns: list[str] | None) -> list[str]:
    """Columns of a file to read for ``columns`` (all when None); at least one, so rows are counted."""
    if columns is None:
        return []  # pyarrow: every column
    wanted = [c for c in present if c in set(columns)]
    return wanted or present[:1]


def _check_required(present: list[str], path: Path, table: str, schema: pa.Schema) -> None:
    missing = [f.name for f in schema if f.name not in present and f.name != "IsDeleted"]
    required = {"Id"} if "Id" in schema.names else set(schema.names[:1])
    if required & set(missing):
        raise DataError(f"{path}: bronze table {table} lacks required column(s) {sorted(required & set(missing))}")


def _conform(raw: pa.Table | pa.RecordBatch, present: list[str], path: Path, table: str, schema: pa.Schema,
             columns: list[str] | None = None) -> pa.Table:
    """Rows of one bronze file in the contract's schema plus metadata (or just ``columns`` of it).

    ``present`` lists every column the file has, read or not: the required-column
    check is about the file, not about which columns were asked for.
    """
    _check_required(present, path, table, schema)
    full = pa.schema(list(schema) + list(BRONZE_METADATA))
    out_schema = full if columns is None else pa.schema([full.field(c) for c in columns])
    n = raw.num_rows
    cols = []
    for field in out_schema:
        if field.name in raw.column_names:
            col = raw.column(field.name)
            if col.type != field.type:
                try:
                    col = col.cast(field.type) if field.type != pa.bool_() or col.type != pa.string() else _str_to_bool(col)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DataError(f"{path}: column {field.name} cannot be read as {field.type}: {exc}") from exc
            cols.append(col)
        elif field.name == "_source":
            cols.append(pa.array([f"feed:{location.name(path)}"] * n, pa.string()))
        elif field.name == "IsDeleted":
            cols.append(pa.array([False] * n, pa.bool_()))
        else:
            cols.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(cols, schema=out_schema)


def _iter_bronze_file(path: Path, table: str, schema: pa.Schema, columns: list[str] | None, batch_rows: int) -> Iterator[pa.Table]:
    """One bronze file in batches, each already in `_conform`'s schema; never the whole file at once."""
    if _suffix(path) == ".csv":
        header, opts = _csv_options(path, columns)
        _check_required(header, path, table, schema)  # also for a file without rows
        read_opts = pacsv.ReadOptions(block_size=BRONZE_CSV_BLOCK_BYTES)
        try:
            reader = pacsv.open_csv(_source(path), read_options=read_opts, convert_options=opts)
            for batch in reader:
                yield _conform(batch, header, path, table, schema, columns)
        except pa.ArrowInvalid as exc:
            raise DataError(f"{path}: unreadable CSV: {exc}") from exc
        return
    try:
        pf = pq.ParquetFile(_source(path))
        present = pf.schema_arrow.names
        _check_required(present, path, table, schema)  # also for a file without rows
        batches = pf.iter_batches(batch_size=batch_rows, columns=_columns_to_read(present, columns) or None)
        for batch in batches:
            yield _conform(batch, present, path, table, schema, columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: unreadable Parquet: {exc}") from exc


def _read_bronze_file(path: Path, table: str, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    if _suffix(path) == ".csv":
        header, opts = _csv_options(path, columns)
        try:
            raw = pacsv.read_csv(_source(path), convert_options=opts)
        except pa.ArrowInvalid as exc:
            raise DataError(f"{path}: unreadable CSV: {exc}") from exc
        return _conform(raw, header, path, table, schema, columns)
    try:
        if isinstance(path, Path):
            present = pq.read_schema(path).names
            raw = pq.read_table(path, columns=_columns_to_read(present, columns) or None)
        else:
            with location.open_input(path) as fh:
                pf = pq.ParquetFile(fh)
                present = pf.schema_arrow.names
                raw = pf.read(columns=_columns_to_read(present, columns) or None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: unreadable Parquet: {exc}") from exc
    return _conform(raw, present, path, table, schema, columns)


def _str_to_bool(col: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(col)
    return pc.is_in(lowered, value_set=pa.array(["true", "1", "yes", "t"]))


def read_schema(table: str) -> pa.Schema:
    """The schema `read_bronze` returns: the contract's, except that feed
    columns are all text, so that one bad value in a CSV is quarantined by
    silver instead of failing the whole file."""
    schema = BRONZE_TABLES[table]
    if table in BRONZE_FEEDS:
        return pa.schema([(f.name, pa.string()) for f in schema])
    return schema


def read_bronze_arrow(data_dir: Path, table: str, columns: list[str] | None = None) -> pa.Table:
    """Every batch and feed file of one bronze table as one Arrow table in `read_schema(table)`.

    An empty table with the right columns when nothing has landed yet.
    """
    schema = read_schema(table)
    files = _bronze_files(bronze_dir(data_dir, table))
    full = pa.schema(list(schema) + list(BRONZE_METADATA))
    if not files:
        out = full.empty_table()
        return out.select(columns) if columns is not None else out
    # only the wanted columns are read from each file
    return pa.concat_tables([_read_bronze_file(p, table, schema, columns) for p in files])


def iter_bronze_batches(
    data_dir: Path, table: str, columns: list[str] | None = None, batch_rows: int | None = None
) -> Iterator[pa.Table]:
    """`read_bronze_arrow` in pieces: the same rows in the same order and schema, one
    batch at a time (Parquet by row batch, CSV feeds by block), so a table far larger
    than memory can be streamed.  Nothing when nothing has landed yet."""
    schema = read_schema(table)
    for path in _bronze_files(bronze_dir(data_dir, table)):
        yield from _iter_bronze_file(path, table, schema, columns, batch_rows or BRONZE_BATCH_ROWS)


def bronze_schema(table: str) -> pa.Schema:
    """The schema of `read_bronze_arrow(table)`: `read_schema` plus the metadata columns."""
    return pa.schema(list(read_schema(table)) + list(BRONZE_METADATA))


def read_bronze(data_dir: Path, table: str) -> pd.DataFrame:
    """`read_bronze_arrow` as a pandas frame."""
    return read_bronze_arrow(data_dir, table).to_pandas()


def bronze_tables_present(data_dir: Location) -> list[str]:
    return [t for t in BRONZE_TABLES if _bronze_files(bronze_dir(data_dir, t))]


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Snapshot:
    """A published run: a directory of silver, quarantine and gold tables."""

    run_id: str
    path: Location
    manifest: dict

    def table_path(self, layer: str, name: str) -> Location:
        return location.join(self.path, layer, f"{name}.parquet")

    def read(self, layer: str, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        path = self.table_path(layer, name)
        if not location.exists(path):
            raise DataError(f"snapshot {self.run_id} has no {layer} table {name!r} ({path})")
        fs, where = location.fs_path(path)
        # one chunk per column: tables appended partition by partition have many row groups
        return pq.read_table(where, columns=list(columns) if columns else None, filesystem=fs).combine_chunks().to_pandas()

    def tables(self, layer: str) -> list[str]:
        d = location.join(self.path, layer)
        if isinstance(d, Path):
            return sorted(p.stem for p in d.glob("*.parquet")) if d.is_dir() else []
        return [n[: -len(".parquet")] for n in location.list_names(d) if n.endswith(".parquet")]


def runs_dir(data_dir: Location) -> Location:
    return location.join(location.as_location(data_dir), "runs")


@contextmanager
def runs_lock(data_dir: Path, timeout: float = PUBLISH_LOCK_TIMEOUT) -> Iterator[Path]:
    """Hold the data directory's runs lock (``<data_dir>/runs.lock``, an exclusive flock).

    Publishing a run holds it while it renames the run into place and replaces
    ``CURRENT``; pruning holds it while it reads ``CURRENT`` and renames old runs
    out of ``runs/``.  So a prune never sees a half-published state and never
    removes a run that is becoming current.  Waits up to `timeout` seconds, then
    raises `DataError` naming the lock file.  Local data directories only.
    """
    path = Path(data_dir) / RUNS_LOCK_FILE
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DataError(
                        f"another c360 process is publishing or pruning runs in {data_dir} "
                        f"(lock {path} still held after {timeout:g} s)"
                    ) from None
                time.sleep(0.05)
        try:
            yield path
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_manifest(run_path: Location) -> dict | None:
    """The manifest of a run directory; None when it has none or it is not a JSON object."""
    try:
        body = json.loads(location.read_text(location.join(run_path, MANIFEST_FILE)))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def next_publish_seq(data_dir: Location) -> int:
    """One more than the highest ``publish_seq`` of the runs under ``runs/`` (1 for the first)."""
    runs = runs_dir(data_dir)
    seqs = [0]
    for name in location.list_names(runs):
        if not name.startswith("."):
            seq = (read_manifest(location.join(runs, name)) or {}).get("publish_seq")
            if isinstance(seq, int):
                seqs.append(seq)
    return max(seqs) + 1


def current_run_id(data_dir: Location) -> str | None:
    path = location.join(location.as_location(data_dir), CURRENT_FILE)
    if not location.exists(path):
        return None
    return json.loads(location.read_text(path))["run_id"]


def open_snapshot(data_dir: Path, run_id: str | None = None) -> Snapshot | None:
    """The published snapshot (or a named earlier run); None before the first publish."""
    run_id = run_id or current_run_id(data_dir)
    if run_id is None:
        return None
    path = location.join(runs_dir(data_dir), run_id)
    manifest_path = location.join(path, MANIFEST_FILE)
    if not location.exists(manifest_path):
        raise DataError(f"run {run_id} at {path} is incomplete (no {MANIFEST_FILE})")
    return Snapshot(run_id, path, json.loads(location.read_text(manifest_path)))


def _codec(served_copy: bool | str) -> str | None:
    """The codec of a served copy from a layout's ``served_copy``; None for no copy."""
    if served_copy is True:
        return "lz4"
    return served_copy or None


class RunWriter:
    """Collects one run's tables in a staging directory and publishes them at once.

    A table written with ``served_copy`` (the layouts of tables the API reads
    row by row: etl.clustered.SERVED_LAYOUT, etl.task.CLUSTERED_LAYOUT) also gets
    a served copy, an Arrow IPC file of the same rows in the same order
    (`etl.clustered.served_path`; ``served_copy`` names its codec, lz4 or
    uncompressed, True meaning lz4), written alongside it and validated with it
    on publish.  A table appended with ``served_copy_above`` gets one only when
    it ends up with more rows than that (`append`); publish checks that too.
    """

    def __init__(self, data_dir: Location, run_id: str):
        self.data_dir = location.as_location(data_dir)
        self.run_id = run_id
        self.final = location.join(runs_dir(self.data_dir), run_id)
        if location.is_remote(self.data_dir):  # staged here, copied out on publish (see the module docstring)
            self.staging = Path(tempfile.mkdtemp(prefix=f"c360-staging-{run_id}-"))
        else:
            self.staging = runs_dir(self.data_dir) / f"{STAGING_PREFIX}{run_id}"
        if self.staging.exists():  # left behind by a killed attempt at the same run id
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        self.row_counts: dict[str, dict[str, int]] = {layer: {} for layer in LAYERS}
        self._writers: dict[tuple[str, str], pq.ParquetWriter] = {}
        self._indexes: dict[tuple[str, str], clustered.IndexBuilder] = {}
        self._copy_writers: dict[tuple[str, str], clustered.ServedCopyWriter] = {}
        self.served: dict[tuple[str, str], str] = {}  # the tables with a served copy: its codec
        # appended tables whose copy depends on their total rows: the rows above which they have one
        self.copy_above: dict[tuple[str, str], int] = {}
        self._later_copies: dict[tuple[str, str], str] = {}  # ... not being written as they come: the codec

    def path(self, layer: str, name: str) -> Path:
        return self.staging / layer / f"{name}.parquet"

    def served_path(self, layer: str, name: str) -> Path:
        return clustered.served_path(self.path(layer, name))

    def write(self, layer: str, name: str, df: pd.DataFrame | pa.Table, schema: pa.Schema | None = None,
              row_group_rows: int | None = None, compression: str = "zstd", sorted_by: list[str] | None = None,
              served_copy: bool | str = False) -> int:
        """Write a whole table.  With `sorted_by` (an Arrow table) its rows are sorted by
        those columns and the order is recorded (etl.clustered.sorted_by); with
        `row_group_rows` its row groups are small enough to be read one by one; with
        `served_copy` the same rows also go to its served copy."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}")
        if sorted_by:
            df = clustered.sort_for_reading(df, sorted_by)
        table = _as_table(df, schema)
        n = write_parquet(table, self.path(layer, name), None, compression, row_group_rows)
        self._write_copy(layer, name, table, _codec(served_copy))
        self.row_counts[layer][name] = n
        return n

    def _write_copy(self, layer: str, name: str, table: pa.Table, codec: str | None) -> None:
        """The table's served copy of these rows (fsynced); with no codec, no copy (an earlier one is removed)."""
        path = self.served_path(layer, name)
        if codec is None:
            path.unlink(missing_ok=True)
            self.served.pop((layer, name), None)
            return
        clustered.write_served_copy(table, path, codec)
        _fsync_file(path)
        self.served[(layer, name)] = codec

    def append(self, layer: str, name: str, table: pa.Table, row_group_rows: int | None = None,
               compression: str = "zstd", cluster_key: str | None = None, served_copy: bool | str = False,
               served_copy_above: int | None = None, pieces: int = 1) -> int:
        """Add rows to a table written piece by piece (one partition at a time).

        Each call becomes at least one row group of a single Parquet file, so
        memory stays bounded by one partition however large the table grows.
        `row_group_rows` caps the row groups (small groups for tables read
        account by account, see etl.clustered); `compression` applies from the
        first call on.  With `cluster_key` (each piece sorted by it, no key in
        two pieces) the table's index of key ranges is written beside it.  With
        `served_copy` (from the first call on) the rows also go to its served copy.

        With `served_copy_above` as well (etl.clustered.IN_MEMORY_ROWS: the API
        holds a smaller table in memory and never reads its copy), the table gets
        a copy only if it ends up with more rows than that.  Its total is known
        only when it is closed, and the earlier pieces are gone by then (held,
        they would cost the memory a partition's bound saves), so the first piece
        with rows decides, by the total it predicts for `pieces` pieces (the run's
        partitions, of about equal size): above, the pieces go to the copy as they
        come, as without `served_copy_above`; else none do.  A wrong guess is put
        right when the table is closed: a copy of no more rows than that is
        deleted, and a table that passed it unexpectedly gets its copy then, read
        back from the Parquet file (a 100,000-account timeline's: about 5 s,
        against about 3 s as the pieces come).
        """
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}")
        key = (layer, name)
        writer = self._writers.get(key)
        if writer is None:
            if name in self.row_counts[layer]:
                raise ValueError(f"{layer}/{name} was already written whole")
            path = self.path(layer, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writers[key] = pq.ParquetWriter(path, table.schema, compression=compression)
            if cluster_key:
                self._indexes[key] = clustered.IndexBuilder(cluster_key)
            codec = _codec(served_copy)
            if codec is not None and served_copy_above is not None:
                self.copy_above[key] = served_copy_above
                self._later_copies[key] = codec  # until a piece with rows decides
            elif codec is not None:
                self._start_copy(key, codec)
        elif not table.schema.equals(writer.schema):
            table = table.cast(writer.schema)
        if key in self._later_copies and table.num_rows and not self.row_counts[layer].get(name):
            # the table's first rows: a copy as they come if the table is expected to pass its bound
            if table.num_rows * pieces > self.copy_above[key]:
                self._start_copy(key, self._later_copies.pop(key))
        writer.write_table(table, row_group_size=row_group_rows)
        if key in self._copy_writers:
            self._copy_writers[key].write(table)
        if key in self._indexes:
            self._indexes[key].add(table)
        self.row_counts[layer][name] = self.row_counts[layer].get(name, 0) + table.num_rows
        return table.num_rows

    def _start_copy(self, key: tuple[str, str], codec: str) -> None:
        """The served copy of a table being appended to, written as its pieces come."""
        self._copy_writers[key] = clustered.ServedCopyWriter(self.served_path(*key), self._writers[key].schema, codec=codec)
        self.served[key] = codec

    def finish_appends(self) -> None:
        """Close the tables written piece by piece, so they can be read back before publishing."""
        self._close_writers()

    def _close_writers(self) -> None:
        for (layer, name), writer in self._writers.items():
            writer.close()
            _fsync_file(self.path(layer, name))
            rows, above = self.row_counts[layer][name], self.copy_above.get((layer, name))
            copy = self._copy_writers.pop((layer, name), None)
            if copy is not None:
                copy.close()
                if above is not None and rows <= above:  # fewer rows than its first piece promised: never read
                    copy.path.unlink()
                    del self.served[(layer, name)]
                else:
                    _fsync_file(copy.path)
            codec = self._later_copies.pop((layer, name), None)
            if codec is not None and rows > above:  # more rows than its first piece promised
                clustered.write_served_copy_of_file(self.path(layer, name), codec)
                _fsync_file(self.served_path(layer, name))
                self.served[(layer, name)] = codec
            builder = self._indexes.pop((layer, name), None)
            index = builder.finish() if builder else None
            if index is not None:  # without one, readers index the file themselves
                write_parquet(index, clustered.index_path(self.path(layer, name)))
        self._writers.clear()

    def sort_written(self, layer: str, name: str, by: list[str], served_copy: bool | str = False, **layout) -> pa.Table:
        """Rewrite a table written piece by piece sorted by `by` (recorded, etl.clustered.sorted_by);
        returns the sorted rows.  Its served copy, if any, is rewritten too (`served_copy`) or removed."""
        if (layer, name) in self._writers:
            raise ValueError(f"{layer}/{name} is still being appended to")
        table = clustered.sort_for_reading(pq.read_table(self.path(layer, name)).combine_chunks(), by)
        write_parquet(table, self.path(layer, name), **layout)
        self._write_copy(layer, name, table, _codec(served_copy) or self.served.get((layer, name)))
        return table

    def publish(self, manifest: dict) -> Snapshot:
        """Validate what was written, then make it the current snapshot."""
        self._close_writers()
        for layer, counts in self.row_counts.items():
            for name, n in counts.items():
                meta = pq.read_metadata(self.path(layer, name))
                if meta.num_rows != n:
                    raise DataError(f"run {self.run_id}: {layer}/{name} has {meta.num_rows} rows, expected {n}")
                above = self.copy_above.get((layer, name))
                if above is not None and n > above and (layer, name) not in self.served:
                    raise DataError(f"run {self.run_id}: {layer}/{name} has {n} rows, more than {above}, and no served copy")
                if (layer, name) in self.served:
                    try:
                        copied = clustered.served_copy_rows(self.served_path(layer, name))
                    except (pa.ArrowInvalid, OSError, ValueError) as exc:
                        raise DataError(f"run {self.run_id}: the served copy of {layer}/{name} is unreadable: {exc}") from exc
                    if copied != n:
                        raise DataError(f"run {self.run_id}: the served copy of {layer}/{name} has {copied} rows, expected {n}")
        def manifest_of() -> tuple[str, dict]:
            body = {
                **manifest,
                "run_id": self.run_id,
                "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "publish_seq": next_publish_seq(self.data_dir),  # its place in publish order (etl.runs)
                "row_counts": self.row_counts,
            }
            return json.dumps(body, indent=2, sort_keys=True, default=str), body

        if location.is_remote(self.data_dir):
            return self._publish_remote(*manifest_of())
        trash = None
        with runs_lock(self.data_dir):  # a prune sees this run either not yet published or current
            text, body = manifest_of()
            atomic_write_text(self.staging / MANIFEST_FILE, text)
            if self.final.exists():  # a completed earlier attempt with the same id is replaced whole
                trash = self.final.with_name(f"{TRASH_PREFIX}{self.run_id}-{uuid.uuid4().hex[:6]}")
                os.rename(self.final, trash)
            os.rename(self.staging, self.final)
            fsync_dir(self.final.parent)
            atomic_write_text(self.data_dir / CURRENT_FILE, json.dumps({"run_id": self.run_id}) + "\n")
        if trash is not None:  # outside the lock: deleting a whole run takes a while (a prune finishes it if killed)
            shutil.rmtree(trash, ignore_errors=True)
        return Snapshot(self.run_id, self.final, body)

    def _publish_remote(self, manifest: str, body: dict) -> Snapshot:
        """Every file under runs/<run_id>/, then its manifest, then CURRENT: the commit point."""
        if current_run_id(self.data_dir) == self.run_id:
            raise DataError(
                f"run {self.run_id} is the published one at {self.data_dir}; on a filesystem without atomic "
                "rename it cannot be replaced in place: use a new run id"
            )
        location.remove_tree(self.final)  # an earlier attempt that never became CURRENT
        location.upload_tree(self.staging, self.final)
        location.write_text(location.join(self.final, MANIFEST_FILE), manifest)
        location.write_text(location.join(self.data_dir, CURRENT_FILE), json.dumps({"run_id": self.run_id}) + "\n")
        shutil.rmtree(self.staging, ignore_errors=True)
        return Snapshot(self.run_id, self.final, body)

    def abandon(self) -> None:
        for writer in [*self._writers.values(), *self._copy_writers.values()]:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the directory is deleted next anyway
                pass
        self._writers.clear()
        self._copy_writers.clear()
        self._later_copies.clear()
        self._indexes.clear()
        shutil.rmtree(self.staging, ignore_errors=True)
