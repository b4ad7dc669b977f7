"""Durable per-object watermarks and the one-extractor-at-a-time lock.

``<data_dir>/bronze/_state/watermarks.json`` maps each object to the upper
bound of the last window whose batch was published::

    {"Account": {"watermark": "2026-11-01T00:00:00Z", "batch_id": "...", "api": "rest",
                 "records": 1234, "updated_at": "..."}}

It is rewritten whole with an atomic rename, only after the batch it
describes has been renamed into place and fsynced, so a crash can lose a
watermark advance (the next run re-reads that window; silver dedups) but
can never skip records.  `read_bronze` reads only ``*.parquet``/``*.csv``
inside object directories, so ``_state`` is invisible to the pipeline.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.errors import DataError
from etl.extract.errors import ExtractError
from etl.storage import atomic_write_text

STATE_DIR = "_state"
WATERMARKS_FILE = "watermarks.json"
LOCK_FILE = "extract.lock"
SOQL_DATETIME = "%Y-%m-%dT%H:%M:%SZ"


def state_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "bronze" / STATE_DIR


def format_instant(value: datetime) -> str:
    """A UTC instant in SOQL's literal form, whole seconds (``2026-11-01T00:00:00Z``)."""
    return value.astimezone(UTC).strftime(SOQL_DATETIME)


def parse_instant(value: str) -> datetime:
    return datetime.strptime(value, SOQL_DATETIME).replace(tzinfo=UTC)


class WatermarkStore:
    """Reads and advances watermarks; every `advance` is one atomic file replace."""

    def __init__(self, data_dir: Path):
        self.path = state_dir(data_dir) / WATERMARKS_FILE
        self._doc: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{self.path}: unreadable watermark file ({exc}); fix it or run with --full-refresh after removing it") from None
        if not isinstance(doc, dict):
            raise DataError(f"{self.path}: must be a JSON object")
        return doc

    def get(self, obj: str) -> datetime | None:
        entry = self._doc.get(obj)
        if not entry or not entry.get("watermark"):
            return None
        try:
            return parse_instant(entry["watermark"])
        except ValueError:
            raise DataError(f"{self.path}: {obj}.watermark {entry['watermark']!r} is not {SOQL_DATETIME}") from None

    def entry(self, obj: str) -> dict[str, Any] | None:
        return self._doc.get(obj)

    def advance(self, obj: str, watermark: datetime | None, *, batch_id: str | None, api: str, records: int) -> None:
        self._doc[obj] = {
            "watermark": format_instant(watermark) if watermark else None,
            "batch_id": batch_id,
            "api": api,
            "records": records,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        atomic_write_text(self.path, json.dumps(self._doc, indent=2, sort_keys=True) + "\n")


@contextmanager
def extract_lock(data_dir: Path) -> Iterator[None]:
    """Refuse a second concurrent extraction into the same data directory."""
    d = state_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExtractError(f"another c360 extract is running on {data_dir} (lock {d / LOCK_FILE})") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
