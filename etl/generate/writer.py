"""Where the generated book lands, written so that no reader ever sees a mix.

Everything is written into a dot-prefixed staging directory inside the data
directory (same filesystem, so the final moves are renames).  Publishing
moves any old bronze and ground truth aside, renames the new ones into
place, then deletes the old.  A crash before publishing leaves the old
layer untouched; a crash during it leaves either the old or no bronze,
never half of each.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.errors import DataError
from etl.storage import fsync_dir, write_bronze_batch

STAGING_PREFIX = ".generate-staging-"
RETIRED_PREFIX = ".generate-retired-"
LAYERS = ("bronze", "ground_truth")


def bronze_has_data(data_dir: Path) -> bool:
    """True if any file (other than in-flight dot-files) sits under data_dir/bronze."""
    root = Path(data_dir) / "bronze"
    if not root.is_dir():
        return False
    return any(
        p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts) for p in root.rglob("*")
    )


class BookWriter:
    """Stages bronze batches, feed files and ground truth, then publishes them in one step."""

    def __init__(self, data_dir: Path, batch_id: str, extracted_at: datetime):
        self.data_dir = Path(data_dir)
        self.batch_id = batch_id
        self.extracted_at = extracted_at
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.data_dir.glob(STAGING_PREFIX + "*"):  # left by a killed generate
            shutil.rmtree(stale, ignore_errors=True)
        for stale in self.data_dir.glob(RETIRED_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.staging = self.data_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        self.staging.mkdir()

    def salesforce(self, table: str, data: pa.Table) -> None:
        write_bronze_batch(self.staging, table, data, batch_id=self.batch_id, source="generator",
                           extracted_at=self.extracted_at)

    def feed_file(self, feed: str, file_name: str, data: pa.Table) -> None:
        """One feed file, written under a dot-name and renamed once complete and fsynced."""
        directory = self.staging / "bronze" / feed
        directory.mkdir(parents=True, exist_ok=True)
        self._atomic(directory / file_name, data)

    def ground_truth(self, file_name: str, data: pa.Table) -> Path:
        directory = self.staging / "ground_truth"
        directory.mkdir(parents=True, exist_ok=True)
        self._atomic(directory / file_name, data)
        return self.data_dir / "ground_truth" / file_name

    @staticmethod
    def _atomic(path: Path, data: pa.Table) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        if path.suffix == ".csv":
            pacsv.write_csv(data, tmp)
        elif path.suffix == ".parquet":
            pq.write_table(data, tmp, compression="zstd")
        else:
            raise ValueError(f"unsupported feed file type: {path.name}")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.rename(tmp, path)

    def publish(self, replace: bool) -> None:
        """Swap the staged layers in.  Refuses (without touching anything) if bronze holds
        data and ``replace`` is False."""
        if bronze_has_data(self.data_dir) and not replace:
            raise DataError(f"{self.data_dir / 'bronze'} already holds data; use --replace to overwrite it")
        retired = self.data_dir / f"{RETIRED_PREFIX}{uuid.uuid4().hex[:8]}"
        retired.mkdir()
        for layer in LAYERS:
            if (self.data_dir / layer).exists():
                os.rename(self.data_dir / layer, retired / layer)
        for layer in LAYERS:
            if (self.staging / layer).exists():
                os.rename(self.staging / layer, self.data_dir / layer)
        fsync_dir(self.data_dir)
        shutil.rmtree(retired, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def abandon(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
