"""Engines: the same partition tasks serially, in a process pool and on a Dask
cluster publish the same snapshot; a failed partition publishes nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import storage
from etl.engine import EngineSpec
from etl.errors import EngineError
from etl.partition import partition_of
from etl.pipeline import HISTORY, RunOptions, run_pipeline
from etl.settings import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "config"
PARTITIONS = 4
# two runs, so the second continues the first's history, master ids and alert lifecycle
RUNS = (("sep", date(2026, 9, 30), 1), ("oct", date(2026, 10, 31), 2))


def _run_twice(data_dir: Path, engine: EngineSpec) -> storage.Snapshot:
    for run_id, as_of, backfill in RUNS:
        run_pipeline(RunOptions(data_dir=data_dir, config_dir=CONFIG_DIR, as_of=as_of, run_id=run_id,
                                backfill_months=backfill, partitions=PARTITIONS, engine=engine))
    return storage.open_snapshot(data_dir)


def _copy(sample_bronze: Path, tmp_path_factory, name: str) -> Path:
    target = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(sample_bronze, target)
    return target


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, shared by this module's tests."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def serial(sample_bronze, tmp_path_factory) -> storage.Snapshot:
    return _run_twice(_copy(sample_bronze, tmp_path_factory, "serial"), EngineSpec())


def _assert_same_snapshot(expected: storage.Snapshot, actual: storage.Snapshot) -> None:
    """Every published table equal: same rows in the same order, same Arrow schema."""
    for layer in storage.LAYERS:
        assert expected.tables(layer) == actual.tables(layer), layer
        for name in expected.tables(layer):
            a, b = pq.read_table(expected.table_path(layer, name)), pq.read_table(actual.table_path(layer, name))
            assert a.schema.equals(b.schema, check_metadata=True), f"{layer}/{name} schema"
            pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), obj=f"{layer}/{name}")
    assert expected.manifest["row_counts"] == actual.manifest["row_counts"]
    assert expected.manifest["bronze_rows"] == actual.manifest["bronze_rows"]


def _leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in storage.runs_dir(data_dir).iterdir() if p.name.startswith("."))


def test_dask_cluster_publishes_the_same_tables_as_the_serial_engine(serial, cluster, sample_bronze, tmp_path_factory):
    data_dir = _copy(sample_bronze, tmp_path_factory, "dask")
    snap = _run_twice(data_dir, EngineSpec("dask", scheduler=cluster.scheduler_address))
    _assert_same_snapshot(serial, snap)
    assert snap.manifest["engine"] == {"engine": "dask", "workers": None, "scheduler": cluster.scheduler_address}
    assert _leftovers(data_dir) == []  # part files and the split bronze are gone


def test_local_process_pool_publishes_the_same_tables_as_the_serial_engine(serial, sample_bronze, tmp_path_factory):
    data_dir = _copy(sample_bronze, tmp_path_factory, "pool")
    snap = _run_twice(data_dir, EngineSpec("local", workers=2))
    _assert_same_snapshot(serial, snap)
    assert snap.manifest["engine"] == {"engine": "local", "workers": 2, "scheduler": None}
    assert set(snap.manifest["stage_seconds"]) == {"bronze", "partitions", "linking", "rules"}  # publish: timed after
    assert {"silver", "gold", "history"} <= set(snap.manifest["task_seconds"])
    assert _leftovers(data_dir) == []


def _break_previous_history(data_dir: Path, account_id: str) -> None:
    """The published history keeps one account's rows, with a date that cannot be parsed:
    only the partition holding that account fails, when it merges that history."""
    snap = storage.open_snapshot(data_dir)
    path = snap.table_path("gold", HISTORY)
    history = pq.read_table(path).to_pandas()
    rows = history[history["account_id"] == account_id].astype({"as_of": "str"})
    rows["as_of"] = "not-a-date"
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path)


@pytest.mark.parametrize("engine", ["serial", "pool", "dask"])
def test_a_failed_partition_aborts_the_run_and_publishes_nothing(engine, cluster, sample_bronze, tmp_path_factory):
    data_dir = _copy(sample_bronze, tmp_path_factory, f"fail-{engine}")
    run_pipeline(RunOptions(data_dir=data_dir, config_dir=CONFIG_DIR, as_of=date(2026, 9, 30), run_id="before",
                            partitions=PARTITIONS))
    before = storage.open_snapshot(data_dir)
    accounts = before.read("silver", "accounts")["account_id"]
    # an account of partition 2: partitions 0 and 1 succeed (and, serially, are appended) first
    victim = accounts[partition_of(accounts, PARTITIONS) == 2].iloc[0]
    _break_previous_history(data_dir, victim)
    spec = {"serial": EngineSpec(), "pool": EngineSpec("local", workers=2),
            "dask": EngineSpec("dask", scheduler=cluster.scheduler_address)}[engine]

    with pytest.raises(ValueError, match="not-a-date"):
        run_pipeline(RunOptions(data_dir=data_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31), run_id="after",
                                partitions=PARTITIONS, engine=spec))

    assert storage.current_run_id(data_dir) == "before"
    assert sorted(p.name for p in storage.runs_dir(data_dir).iterdir()) == ["before"]  # no staging, work dir or "after"
    assert storage.open_snapshot(data_dir).manifest == before.manifest


@pytest.mark.parametrize(
    ("kind", "workers", "scheduler", "message"),
    [
        ("local", None, "tcp://127.0.0.1:8786", "--scheduler needs --engine dask"),
        ("dask", None, None, "--engine dask needs --scheduler"),
        ("dask", 2, "tcp://127.0.0.1:8786", "not both"),
        ("dask", None, "127.0.0.1:8786", "not a scheduler address"),
        ("local", 0, None, "at least 1"),
        ("spark", None, None, "unknown engine 'spark'"),
    ],
)
def test_engine_spec_refuses_inconsistent_options(kind, workers, scheduler, message):
    with pytest.raises(ValueError, match=message):
        EngineSpec(kind, workers=workers, scheduler=scheduler)


def test_unreachable_scheduler_is_a_clear_error_before_anything_is_written(data_dir):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = EngineSpec("dask", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=1.0)
    with pytest.raises(EngineError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        run_pipeline(RunOptions(data_dir=data_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31), engine=spec))
    assert not storage.runs_dir(data_dir).exists()


def _c360(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "etl.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_refuses_scheduler_without_dask_engine(data_dir):
    proc = _c360("pipeline", "run", "--data-dir", str(data_dir), "--scheduler", "tcp://127.0.0.1:8786")
    assert proc.returncode == 2
    assert "--scheduler needs --engine dask" in proc.stderr and "Traceback" not in proc.stderr
    assert not storage.runs_dir(data_dir).exists()


def test_cli_runs_on_a_local_dask_cluster_it_starts(data_dir, sample_bronze, tmp_path_factory):
    report = data_dir / "report.json"
    proc = _c360("pipeline", "run", "--data-dir", str(data_dir), "--as-of", "2026-10-31", "--run-id", "oct",
                 "--backfill-months", "2", "--partitions", str(PARTITIONS),
                 "--engine", "dask", "--workers", "2", "--report-json", str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(report.read_text())["engine"] == {"engine": "dask", "workers": 2, "scheduler": None}
    serial_dir = _copy(sample_bronze, tmp_path_factory, "serial-once")
    run_pipeline(RunOptions(data_dir=serial_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31), run_id="oct",
                            backfill_months=2, partitions=PARTITIONS))
    _assert_same_snapshot(storage.open_snapshot(serial_dir), storage.open_snapshot(data_dir))


def test_a_task_finishing_after_its_run_was_cleaned_up_writes_nothing(tmp_path, monkeypatch):
    """A Dask task cannot be stopped: one that finishes after the driver removed the run's work directory
    must not bring it back (it used to recreate it, with its part files, when writing them)."""
    from etl import task as task_module
    from etl.errors import DataError
    from etl.task import PARTS_DIR, WORK_MARKER, PartitionOutput, PartitionTask

    out = PartitionOutput(3, [("gold", "t", pa.table({"a": [1, 2]}))], pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                          pd.DataFrame(), {}, None, None)
    monkeypatch.setattr(task_module, "run_partition", lambda t: out)
    work = tmp_path / ".work-run"
    t = PartitionTask(3, 4, str(tmp_path), str(work), None)

    work.mkdir()
    (work / WORK_MARKER).write_text("run")
    (work / PARTS_DIR).mkdir()
    written = task_module.run_partition_to_parts(t)
    assert storage.read_ipc(Path(written.tables[0][2])).num_rows == 2

    # the driver gave up between the task's check of the marker and its first write
    checked = task_module.location.exists
    monkeypatch.setattr(task_module.location, "exists", lambda loc: checked(loc) or Path(loc).name == WORK_MARKER)
    shutil.rmtree(work)
    with pytest.raises(DataError, match="abandoned"):
        task_module.run_partition_to_parts(t)
    assert not work.exists()
