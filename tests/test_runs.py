"""Listing and pruning published runs (etl.runs, `c360 runs ...`).

Most tests publish tiny runs with `storage.RunWriter` (one two-row table each), so
every run is a few kilobytes and the whole module runs in seconds; one test runs the
pipeline on the sample book to check that the API's snapshot still loads after a prune.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from etl import runs, storage
from etl.cli import main
from etl.errors import DataError, NothingPublished

NO_GRACE = timedelta(0)


def _publish(data_dir: Path, *run_ids: str) -> None:
    """Publish one tiny run per id, in the order given: the last one is CURRENT."""
    for run_id in run_ids:
        w = storage.RunWriter(data_dir, run_id)
        w.write("gold", "t", pd.DataFrame({"run": [run_id, run_id]}))
        w.publish({"as_of": "2026-10-31"})


def _names(data_dir: Path) -> list[str]:
    return sorted(p.name for p in storage.runs_dir(data_dir).iterdir())


def _tree(path: Path) -> dict[str, int]:
    """Every file under a directory with its size: what a test compares before and after."""
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["c360", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keeps_the_n_most_recent_in_publish_order_not_by_name(tmp_path):
    _publish(tmp_path, "run-c", "run-a", "run-b")  # published c, then a, then b
    assert [r.run_id for r in runs.list_runs(tmp_path).runs] == ["run-c", "run-a", "run-b"]

    result = runs.prune(tmp_path, keep=2, grace=NO_GRACE)

    assert [r.run_id for r in result.removed] == ["run-c"]  # by name it would have been run-a
    assert [(k.run.run_id, k.reason) for k in result.kept] == [("run-a", "one of the 2 most recent"), ("run-b", "current")]
    assert _names(tmp_path) == ["run-a", "run-b"]
    assert list(storage.open_snapshot(tmp_path).read("gold", "t")["run"]) == ["run-b", "run-b"]


def test_the_current_run_is_always_kept(tmp_path):
    _publish(tmp_path, "r1", "r2", "r3")
    storage.atomic_write_text(tmp_path / storage.CURRENT_FILE, json.dumps({"run_id": "r1"}))  # rolled back by hand

    result = runs.prune(tmp_path, keep=1, grace=NO_GRACE)

    assert [r.run_id for r in result.removed] == ["r2"]
    assert _names(tmp_path) == ["r1", "r3"]
    assert storage.open_snapshot(tmp_path).run_id == "r1"


def test_keep_below_one_is_refused(tmp_path, monkeypatch, capsys):
    _publish(tmp_path, "r1", "r2")
    with pytest.raises(ValueError, match="at least 1"):
        runs.prune(tmp_path, keep=0)
    code, _, err = _cli(monkeypatch, capsys, "runs", "prune", "--keep", "0", "--data-dir", str(tmp_path))
    assert code == 2 and "must be at least 1" in err and "CURRENT" in err
    assert _names(tmp_path) == ["r1", "r2"]


def test_a_current_naming_no_published_run_stops_the_prune(tmp_path):
    _publish(tmp_path, "r1", "r2")
    storage.atomic_write_text(tmp_path / storage.CURRENT_FILE, json.dumps({"run_id": "gone"}))
    with pytest.raises(DataError, match="CURRENT .* names run gone"):
        runs.prune(tmp_path, keep=1, grace=NO_GRACE)
    assert _names(tmp_path) == ["r1", "r2"]


def test_missing_data_dir_and_nothing_published_are_clear(tmp_path, monkeypatch, capsys):
    with pytest.raises(DataError, match=f"no data directory at {tmp_path / 'nope'}"):
        runs.prune(tmp_path / "nope", keep=1)
    code, _, err = _cli(monkeypatch, capsys, "runs", "prune", "--keep", "1", "--data-dir", str(tmp_path / "nope"))
    assert code == 2 and "no data directory" in err and "Traceback" not in err

    with pytest.raises(NothingPublished, match="nothing published under"):
        runs.prune(tmp_path, keep=1)
    code, out, _ = _cli(monkeypatch, capsys, "runs", "prune", "--keep", "1", "--data-dir", str(tmp_path))
    assert code == 1 and "nothing published" in out  # as `c360 status` does
    code, out, _ = _cli(monkeypatch, capsys, "runs", "list", "--data-dir", str(tmp_path))
    assert code == 1 and "nothing published yet" in out


def test_anything_that_is_not_a_published_run_is_left_alone_and_reported(tmp_path, monkeypatch, capsys):
    _publish(tmp_path, "r1", "r2", "r3")
    r = storage.runs_dir(tmp_path)
    (r / "notes").mkdir()  # no manifest
    (r / "README").write_text("mine")  # a file
    shutil.copytree(r / "r1", r / "copy-of-r1")  # a manifest naming another run
    (r / ".staging-r4" / "gold").mkdir(parents=True)  # a run being written
    (r / ".staging-r4" / "gold" / "t.parquet").write_bytes(b"x" * 10)
    (r / ".work-r4").mkdir()
    (r / ".hidden").mkdir()

    listing = runs.list_runs(tmp_path)
    assert [x.run_id for x in listing.runs] == ["r1", "r2", "r3"]
    assert [e.name for e in listing.in_progress] == [".staging-r4", ".work-r4"]
    assert [e.name for e in listing.unknown] == [".hidden", "README", "copy-of-r1", "notes"]

    code, out, _ = _cli(monkeypatch, capsys, "runs", "prune", "--keep", "1", "--grace-minutes", "0", "--data-dir", str(tmp_path))
    assert code == 0
    assert _names(tmp_path) == [".hidden", ".staging-r4", ".work-r4", "README", "copy-of-r1", "notes", "r3"]
    assert "left alone" in out and "copy-of-r1" in out and ".staging-r4" in out and "removed 2 run(s) of 3" in out


def test_dry_run_deletes_nothing_and_shows_the_bytes_it_would_free(tmp_path, monkeypatch, capsys):
    _publish(tmp_path, "r1", "r2", "r3")
    before = _tree(tmp_path)
    expected = sum(n for name, n in before.items() if name.startswith(("runs/r1/", "runs/r2/")))

    result = runs.prune(tmp_path, keep=1, dry_run=True, grace=NO_GRACE)
    assert [r.run_id for r in result.removed] == ["r1", "r2"]
    assert result.bytes_freed == expected
    code, out, _ = _cli(monkeypatch, capsys, "runs", "prune", "--keep", "1", "--dry-run", "--grace-minutes", "0",
                        "--data-dir", str(tmp_path))
    assert code == 0 and "would remove 2 run(s) of 3" in out and f"would free {expected:,} bytes" in out

    assert _tree(tmp_path) == before  # nothing deleted, nothing written

    code, out, _ = _cli(monkeypatch, capsys, "runs", "prune", "--keep", "1", "--grace-minutes", "0", "--data-dir", str(tmp_path))
    assert code == 0 and f"freed {expected:,} bytes" in out
    assert _names(tmp_path) == ["r3"]


def test_an_interrupted_prune_leaves_whole_runs_and_trash_the_next_prune_deletes(tmp_path, monkeypatch):
    _publish(tmp_path, "r1", "r2", "r3")
    r1_bytes = runs.tree_bytes(storage.runs_dir(tmp_path) / "r1")

    def killed(path, **_handler):  # the process dies after the rename, while deleting
        (Path(path) / "gold" / "t.parquet").unlink()  # half deleted
        raise KeyboardInterrupt

    monkeypatch.setattr(runs.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        runs.prune(tmp_path, keep=2, grace=NO_GRACE)
    monkeypatch.undo()

    # r1 is no longer a published run (nothing half-deleted under its name); the rest is intact
    names = _names(tmp_path)
    assert names[1:] == ["r2", "r3"] and names[0].startswith(".trash-r1-")
    listing = runs.list_runs(tmp_path)
    assert [x.run_id for x in listing.runs] == ["r2", "r3"] and [e.name for e in listing.trash] == [names[0]]
    assert storage.open_snapshot(tmp_path).run_id == "r3"

    result = runs.prune(tmp_path, keep=2, grace=NO_GRACE)
    assert result.removed == [] and [e.name for e in result.trash] == [names[0]]
    assert 0 < result.bytes_freed < r1_bytes  # what was left of r1
    assert _names(tmp_path) == ["r2", "r3"]


def test_prune_waits_for_the_runs_lock_and_gives_up_naming_it(tmp_path):
    _publish(tmp_path, "r1", "r2", "r3")
    with storage.runs_lock(tmp_path):  # a publish in its rename step
        with pytest.raises(DataError, match="runs.lock"):
            runs.prune(tmp_path, keep=1, grace=NO_GRACE, lock_timeout=0.2)
    assert _names(tmp_path) == ["r1", "r2", "r3"]

    held = threading.Event()

    def hold_briefly():
        with storage.runs_lock(tmp_path):
            held.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    held.wait()
    start = time.monotonic()
    runs.prune(tmp_path, keep=1, grace=NO_GRACE, lock_timeout=10)
    holder.join()
    assert time.monotonic() - start >= 0.2  # it waited for the lock, then pruned
    assert _names(tmp_path) == ["r3"]


def test_publish_takes_the_runs_lock_and_a_run_being_written_is_not_pruned(tmp_path):
    _publish(tmp_path, "r1", "r2")
    w = storage.RunWriter(tmp_path, "r3")  # a concurrent pipeline run, still writing
    w.write("gold", "t", pd.DataFrame({"run": ["r3"]}))
    runs.prune(tmp_path, keep=1, grace=NO_GRACE)
    assert _names(tmp_path) == [".staging-r3", "r2"]

    published = threading.Event()
    with storage.runs_lock(tmp_path):  # a prune holding the lock: the publish waits for it
        publisher = threading.Thread(target=lambda: (w.publish({"as_of": "2026-10-31"}), published.set()))
        publisher.start()
        time.sleep(0.3)
        assert not published.is_set() and storage.current_run_id(tmp_path) == "r2"
    publisher.join(timeout=10)
    assert published.is_set() and storage.current_run_id(tmp_path) == "r3"
    assert [x.run_id for x in runs.list_runs(tmp_path).runs] == ["r2", "r3"]


def test_runs_replaced_within_the_grace_period_are_kept(tmp_path):
    _publish(tmp_path, "r1", "r2", "r3")
    r3_at = runs.list_runs(tmp_path).runs[-1].published_at  # when r2 stopped being current

    kept, removed = runs.plan(runs.list_runs(tmp_path), keep=1, grace=timedelta(minutes=15), now=r3_at + timedelta(minutes=5))
    assert [k.run.run_id for k in kept] == ["r1", "r2", "r3"] and removed == []
    assert "grace period" in kept[1].reason

    kept, removed = runs.plan(runs.list_runs(tmp_path), keep=1, grace=timedelta(minutes=15), now=r3_at + timedelta(minutes=20))
    assert [k.run.run_id for k in kept] == ["r3"] and [x.run_id for x in removed] == ["r1", "r2"]


def test_runs_published_before_publish_seq_are_ordered_by_publish_time(tmp_path):
    _publish(tmp_path, "b-new", "a-old")
    for run_id, at in (("b-new", "2026-11-02T02:00:00+00:00"), ("a-old", "2026-11-01T02:00:00+00:00")):
        manifest = storage.runs_dir(tmp_path) / run_id / storage.MANIFEST_FILE
        body = json.loads(manifest.read_text())
        del body["publish_seq"]
        body["published_at"] = at
        manifest.write_text(json.dumps(body))
    _publish(tmp_path, "c-seq")  # the first with a sequence number after the upgrade
    assert [r.run_id for r in runs.list_runs(tmp_path).runs] == ["a-old", "b-new", "c-seq"]
    assert json.loads((storage.runs_dir(tmp_path) / "c-seq" / storage.MANIFEST_FILE).read_text())["publish_seq"] == 1


def test_rerunning_an_id_moves_it_to_the_end_of_publish_order(tmp_path):
    _publish(tmp_path, "daily-1", "daily-2", "daily-1")  # daily-1 retried after daily-2
    assert [r.run_id for r in runs.list_runs(tmp_path).runs] == ["daily-2", "daily-1"]
    assert [r.publish_seq for r in runs.list_runs(tmp_path).runs] == [2, 3]


def test_pipeline_keep_runs_prunes_after_publishing_and_the_api_snapshot_still_loads(data_dir, monkeypatch, capsys):
    from server.snapshot import SnapshotHolder

    monkeypatch.setattr(runs, "DEFAULT_GRACE", NO_GRACE)
    base = ["pipeline", "run", "--as-of", "2026-10-31", "--data-dir", str(data_dir)]
    assert _cli(monkeypatch, capsys, *base, "--run-id", "r1")[0] == 0
    code, out, _ = _cli(monkeypatch, capsys, *base, "--run-id", "r2", "--keep-runs", "1")
    assert code == 0 and "removed 1 run(s) of 2" in out
    assert _names(data_dir) == ["r2"]

    snap = storage.open_snapshot(data_dir)
    assert snap.run_id == "r2"
    loaded = SnapshotHolder(data_dir, poll=False).get()
    assert loaded.run_id == "r2" and len(loaded.metrics) > 0
    assert os.path.exists(data_dir / storage.RUNS_LOCK_FILE)
