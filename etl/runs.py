"""The published runs of a data directory: listed in publish order, and old ones pruned.

A *published run* is a directory ``runs/<run_id>/`` whose ``manifest.json``
names that run id (`etl.storage.RunWriter.publish` writes it last, then
renames the directory into place).  Everything else under ``runs/`` belongs to
someone else and is never deleted as a run:

* ``.staging-<id>`` and ``.work-<id>``: a run being written (or left behind by a
  killed one; a retry with the same id removes them) -- left alone, reported;
* ``.trash-<id>-<hex>``: a run already renamed out of ``runs/`` to be deleted
  (by a prune, or a rerun replacing a run) -- a prune finishes deleting it;
* anything else (a directory without a manifest, a file, a manifest naming
  another run) -- unknown, left alone, reported.

Runs are ordered by the ``publish_seq`` the storage layer records under its
runs lock, then (runs published before it existed) by ``published_at``;
never by directory name.

Pruning keeps the ``keep`` most recent runs, always the one ``CURRENT`` names,
and any run that stopped being current less than ``grace`` ago (a server
polls ``CURRENT`` and may still be loading or serving it).  It holds the runs
lock while it reads ``CURRENT`` and renames each run it removes to
``.trash-<id>-<hex>`` (one atomic rename: readers never see a half-deleted
run), then deletes the trash after releasing the lock.  A prune killed at any
point leaves whole runs and trash, which the next prune deletes.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from etl import location, storage
from etl.errors import DataError, NothingPublished

# A run that stopped being current less than this long ago is kept: a server may still be
# loading it (it polls CURRENT) or answering from it.
DEFAULT_GRACE = timedelta(minutes=15)
LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class Run:
    """One published run."""

    run_id: str
    path: Path
    published_at: datetime | None
    publish_seq: int | None
    as_of: str | None
    bytes: int

    @property
    def order(self) -> tuple:
        """Publish order: runs with a publish_seq after those without (published before it existed)."""
        if self.publish_seq is not None:
            return (1, self.publish_seq, "")
        return (0, (self.published_at or datetime.min.replace(tzinfo=UTC)).timestamp(), self.run_id)


@dataclass(frozen=True)
class Entry:
    """Something under runs/ that is not a published run."""

    name: str
    path: Path
    bytes: int


@dataclass(frozen=True)
class Listing:
    data_dir: Path
    current: str | None  # what CURRENT names
    runs: list[Run]  # oldest first, in publish order
    in_progress: list[Entry]  # .staging-* and .work-*
    trash: list[Entry]  # .trash-*
    unknown: list[Entry]


@dataclass(frozen=True)
class Kept:
    run: Run
    reason: str


@dataclass
class PruneResult:
    listing: Listing
    keep: int
    dry_run: bool
    kept: list[Kept]
    removed: list[Run]  # with --dry-run: would be removed
    trash: list[Entry]  # leftover trash deleted (or, with --dry-run, to delete)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error) left for the next prune

    @property
    def bytes_freed(self) -> int:
        failed = {path for path, _ in self.failed}
        done = [r.bytes for r in self.removed if str(r.path) not in failed]
        return sum(done) + sum(t.bytes for t in self.trash if str(t.path) not in failed)


def tree_bytes(path: Path) -> int:
    """Total size of the files under a directory (or of one file); vanished files count 0."""
    if not path.is_dir():
        try:
            return path.lstat().st_size
        except FileNotFoundError:
            return 0
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _local_data_dir(data_dir: Path | str) -> Path:
    if location.is_remote(data_dir):
        raise DataError(f"{data_dir}: listing and pruning runs needs a local data directory")
    path = Path(data_dir)
    if not path.is_dir():
        raise DataError(f"no data directory at {path}")
    return path


def _published_at(value: object) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def list_runs(data_dir: Path | str) -> Listing:
    """Everything under ``<data_dir>/runs``, sorted into published runs and the rest."""
    data_dir = _local_data_dir(data_dir)
    runs_path = Path(storage.runs_dir(data_dir))
    runs: list[Run] = []
    in_progress: list[Entry] = []
    trash: list[Entry] = []
    unknown: list[Entry] = []
    for name in location.list_names(runs_path):
        path = runs_path / name
        if name.startswith(storage.TRASH_PREFIX):
            trash.append(Entry(name, path, tree_bytes(path)))
            continue
        if name.startswith((storage.STAGING_PREFIX, storage.WORK_PREFIX)):
            in_progress.append(Entry(name, path, tree_bytes(path)))
            continue
        manifest = storage.read_manifest(path) if path.is_dir() and not path.is_symlink() else None
        if name.startswith(".") or manifest is None or manifest.get("run_id") != name:
            unknown.append(Entry(name, path, tree_bytes(path)))
            continue
        seq = manifest.get("publish_seq")
        runs.append(Run(name, path, _published_at(manifest.get("published_at")),
                        seq if isinstance(seq, int) else None, manifest.get("as_of"), tree_bytes(path)))
    runs.sort(key=lambda r: r.order)
    return Listing(data_dir, storage.current_run_id(data_dir), runs, in_progress, trash, unknown)


def plan(listing: Listing, keep: int, grace: timedelta = DEFAULT_GRACE, now: datetime | None = None) -> tuple[list[Kept], list[Run]]:
    """(runs kept, each with why; runs to remove), both oldest first.  Pure: reads no files."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the run CURRENT points to is always kept), not {keep}")
    runs = listing.runs
    if listing.current is not None and listing.current not in {r.run_id for r in runs}:
        raise DataError(
            f"CURRENT in {listing.data_dir} names run {listing.current}, which is not a published run under "
            f"{storage.runs_dir(listing.data_dir)}; nothing pruned"
        )
    now = now or datetime.now(UTC)
    newest = {r.run_id for r in runs[-keep:]}
    kept: list[Kept] = []
    removed: list[Run] = []
    for i, run in enumerate(runs):
        replaced_at = runs[i + 1].published_at if i + 1 < len(runs) else None
        if run.run_id == listing.current:
            kept.append(Kept(run, "current"))
        elif run.run_id in newest:
            kept.append(Kept(run, f"one of the {keep} most recent"))
        elif replaced_at is not None and now - replaced_at < grace:
            kept.append(Kept(run, f"replaced {_ago(now - replaced_at)} ago, within the grace period: a server may still serve it"))
        else:
            removed.append(run)
    return kept, removed


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _rmtree(path: Path) -> str | None:
    """Delete a tree; another process deleting it at the same time is fine.  The error, if any."""
    def onexc(_func, _path, exc):
        if not isinstance(exc, FileNotFoundError):
            raise exc

    # Python 3.12 renamed onerror (given exc_info) to onexc (given the exception) and deprecates the old name
    handler = {"onexc": onexc} if sys.version_info >= (3, 12) else {"onerror": lambda f, p, info: onexc(f, p, info[1])}
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, **handler)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        return str(exc)
    return None


def prune(data_dir: Path | str, keep: int, *, dry_run: bool = False, grace: timedelta | None = None,
          lock_timeout: float = LOCK_TIMEOUT, now: datetime | None = None) -> PruneResult:
    """Remove published runs beyond the `keep` most recent (see the module docstring), and leftover trash.

    `grace` defaults to `DEFAULT_GRACE`.  With `dry_run` nothing is written, not even
    the lock file.  Raises `DataError`
    when there is no data directory, nothing published, or ``CURRENT`` names no
    published run; `ValueError` when `keep` < 1.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the run CURRENT points to is always kept), not {keep}")
    data_dir = _local_data_dir(data_dir)
    grace = DEFAULT_GRACE if grace is None else grace
    if dry_run:
        listing = _require_runs(list_runs(data_dir))
        kept, removed = plan(listing, keep, grace, now)
        return PruneResult(listing, keep, True, kept, removed, listing.trash)
    trashed: list[Path] = []
    with storage.runs_lock(data_dir, lock_timeout):
        listing = _require_runs(list_runs(data_dir))
        kept, removed = plan(listing, keep, grace, now)
        for run in removed:
            trash = run.path.with_name(f"{storage.TRASH_PREFIX}{run.run_id}-{uuid.uuid4().hex[:6]}")
            try:
                os.rename(run.path, trash)
            except OSError as exc:  # the runs already moved are trash: the next prune deletes them
                raise DataError(f"could not move run {run.run_id} out of {run.path.parent}: {exc}") from None
            trashed.append(trash)
        if trashed:
            storage.fsync_dir(Path(storage.runs_dir(data_dir)))
    result = PruneResult(listing, keep, False, kept, removed, listing.trash)
    # outside the lock: deleting 12 GB takes a while, and nothing under runs/ names these any more
    for run, path in zip(removed, trashed, strict=True):
        error = _rmtree(path)
        if error is not None:
            result.failed.append((str(run.path), f"{path}: {error}"))
    for entry in listing.trash:
        error = _rmtree(entry.path)
        if error is not None:
            result.failed.append((str(entry.path), error))
    return result


def _require_runs(listing: Listing) -> Listing:
    if not listing.runs:
        raise NothingPublished(f"nothing published under {storage.runs_dir(listing.data_dir)}: no runs to prune")
    return listing
