"""One object's bronze batch, written part by part and published at once.

Pages are buffered until `part_rows` rows, then written as one Parquet part
file into a dot-prefixed staging directory beside the batch's final place::

    bronze/<Object>/.extract-staging-<batch id>-<random>/part-00000.parquet ...
    bronze/<Object>/batch_id=<batch id>/part-00000.parquet ...      (after publish)

`read_bronze` ignores dot-prefixed paths, so silver never sees a batch until
`publish` renames the whole directory into place (one atomic rename, then
an fsync of the parent).  Memory holds at most one part's rows, whatever
the object's size.

Records are deduplicated by Id, the latest ``SystemModstamp`` winning: within
a part in memory, and across parts by `_dedup_parts`, which scans only the Id
column part by part in hash buckets, so that pass's memory is bounded too.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import uuid
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl.errors import DataError
from etl.storage import bronze_dir

log = logging.getLogger(__name__)

STAGING_PREFIX = ".extract-staging-"
_IDS_PER_BUCKET = 4_000_000  # 8-byte hashes: ~32 MB per dedup bucket


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _latest_per_id(table: pa.Table) -> pa.Table:
    """Keep one row per Id: the latest SystemModstamp, then the last seen."""
    if table.num_rows < 2 or "Id" not in table.column_names:
        return table
    ids = table.column("Id").to_pandas()
    if ids.is_unique:
        return table
    frame = pd.DataFrame({"Id": ids, "pos": np.arange(table.num_rows)})
    if "SystemModstamp" in table.column_names:
        frame["stamp"] = table.column("SystemModstamp").to_pandas()
        frame = frame.sort_values(["stamp", "pos"], na_position="first", kind="stable")
    keep = np.sort(frame.drop_duplicates("Id", keep="last")["pos"].to_numpy())
    return table.take(pa.array(keep))


def _hashes(path: Path) -> np.ndarray:
    ids = pq.read_table(path, columns=["Id"]).column("Id").to_numpy(zero_copy_only=False)
    return pd.util.hash_array(ids.astype(object))


def _dedup_parts(parts: list[Path], counts: list[int]) -> int:
    """Remove cross-part duplicate Ids in place; returns the number of rows removed.

    Pass 1 finds candidate duplicate hashes bucket by bucket (each bucket
    holds about `_IDS_PER_BUCKET` hashes); pass 2 reads only the candidate
    rows' Id and SystemModstamp and rewrites the parts that lose rows.  A
    single Salesforce cursor never repeats an Id, so pass 2 normally has
    nothing to do.
    """
    if len(parts) < 2:
        return 0
    buckets = max(1, math.ceil(sum(counts) / _IDS_PER_BUCKET))
    candidates: list[np.ndarray] = []
    for b in range(buckets):
        found = []
        for p in parts:
            h = _hashes(p)
            found.append(h[h % buckets == b] if buckets > 1 else h)
        allh = np.concatenate(found)
        uniq, n = np.unique(allh, return_counts=True)
        candidates.append(uniq[n > 1])
    dup = np.concatenate(candidates)
    if not len(dup):
        return 0
    rows = []
    for i, p in enumerate(parts):
        cols = ["Id", "SystemModstamp"] if "SystemModstamp" in pq.read_schema(p).names else ["Id"]
        t = pq.read_table(p, columns=cols)
        mask = np.isin(_hashes(p), dup)
        idx = np.nonzero(mask)[0]
        sub = t.take(pa.array(idx)).to_pandas()
        sub["part"], sub["row"] = i, idx
        rows.append(sub)
    cand = pd.concat(rows, ignore_index=True)
    cand = cand[cand.duplicated("Id", keep=False)]
    if cand.empty:
        return 0
    sort_cols = (["SystemModstamp"] if "SystemModstamp" in cand.columns else []) + ["part", "row"]
    cand = cand.sort_values(sort_cols, na_position="first", kind="stable")
    losers = cand[cand.duplicated("Id", keep="last")]
    removed = 0
    for part, grp in losers.groupby("part"):
        path = parts[int(part)]
        t = pq.read_table(path)
        keep = np.ones(t.num_rows, dtype=bool)
        keep[grp["row"].to_numpy()] = False
        t = t.filter(pa.array(keep))
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(t, tmp, compression="zstd")
        os.replace(tmp, path)
        removed += int((~keep).sum())
    return removed


class StagedBatch:
    """Collects one object's extracted rows; `publish` makes them a bronze batch.

    Use as a context manager: leaving the block with an exception removes the
    staging directory, so a failed extraction leaves nothing behind.
    """

    def __init__(self, data_dir: Path, obj: str, batch_id: str, schema: pa.Schema, part_rows: int):
        self.obj = obj
        self.schema = schema
        self.part_rows = part_rows
        parent = bronze_dir(data_dir, obj)
        self.final = parent / f"batch_id={batch_id}"
        if self.final.exists():
            raise DataError(f"bronze batch {self.final} already exists; batches are immutable")
        self.staging = parent / f"{STAGING_PREFIX}{batch_id}-{uuid.uuid4().hex[:6]}"
        self.staging.mkdir(parents=True)
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self.parts: list[Path] = []
        self.part_counts: list[int] = []
        self.rows = 0  # rows written to parts (before cross-part dedup)
        self.duplicates = 0

    def __enter__(self) -> StagedBatch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.abandon()

    def append(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered += table.num_rows
        if self._buffered >= self.part_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buffered:
            return
        table = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        deduped = _latest_per_id(table)
        self.duplicates += table.num_rows - deduped.num_rows
        path = self.staging / f"part-{len(self.parts):05d}.parquet"
        pq.write_table(deduped, path, compression="zstd")
        self.parts.append(path)
        self.part_counts.append(deduped.num_rows)
        self.rows += deduped.num_rows

    def publish(self) -> Path | None:
        """Flush, dedup across parts, fsync, and rename into place; None when there were no rows."""
        self._flush()
        if self.rows == 0:
            self.abandon()
            return None
        removed = _dedup_parts(self.parts, self.part_counts)
        self.duplicates += removed
        self.rows -= removed
        total = 0
        for p in self.parts:
            total += pq.read_metadata(p).num_rows
            _fsync(p)
        if total != self.rows:
            raise DataError(f"{self.obj}: staged {total} rows but expected {self.rows}; batch not published")
        _fsync(self.staging)
        os.rename(self.staging, self.final)
        _fsync(self.final.parent)
        if self.duplicates:
            log.info("%s: dropped %d duplicate Id row(s), keeping the latest SystemModstamp", self.obj, self.duplicates)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def remove_stale_staging(data_dir: Path, obj: str) -> int:
    """Delete staging directories a killed extractor left behind (call under the run lock)."""
    parent = bronze_dir(data_dir, obj)
    if not parent.is_dir():
        return 0
    stale = [p for p in parent.iterdir() if p.is_dir() and p.name.startswith(STAGING_PREFIX)]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)
