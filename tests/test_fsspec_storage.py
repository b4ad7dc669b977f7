"""Layers on an fsspec filesystem (memory://): same layout, same tables as on a
local disk, published with CURRENT written last."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import location, storage
from etl.engine import EngineSpec
from etl.errors import DataError, EngineError
from etl.partition import partition_of
from etl.pipeline import HISTORY, RunOptions, run_pipeline
from tests.test_engine import CONFIG_DIR, PARTITIONS, _run_twice

MEMORY = fsspec.filesystem("memory")


@pytest.fixture
def memory_dir(sample_bronze: Path):
    """The sample bronze copied to a fresh memory:// prefix; removed afterwards."""
    root = f"/c360-{uuid.uuid4().hex[:8]}/data"
    MEMORY.put(str(sample_bronze / "bronze"), f"{root}/bronze", recursive=True)
    yield f"memory://{root}"
    MEMORY.rm(f"/{root.split('/')[1]}", recursive=True)


@pytest.fixture(scope="module")
def local_serial(sample_bronze, tmp_path_factory) -> storage.Snapshot:
    import shutil

    target = tmp_path_factory.mktemp("local") / "data"
    shutil.copytree(sample_bronze, target)
    return _run_twice(target, EngineSpec())


def _arrow(snapshot: storage.Snapshot, layer: str, name: str) -> pa.Table:
    fs, where = location.fs_path(snapshot.table_path(layer, name))
    return pq.read_table(where, filesystem=fs)


def test_location_helpers_on_paths_and_urls(tmp_path):
    assert location.as_location("memory://a/b") == "memory://a/b"
    assert location.as_location("file:///tmp/x") == Path("/tmp/x")
    assert location.as_location(str(tmp_path)) == tmp_path
    assert location.join("memory://a", "runs", "r1") == "memory://a/runs/r1"
    assert location.join(tmp_path, "runs") == tmp_path / "runs"
    assert location.name("s3://bucket/x/y.csv") == "y.csv"
    assert location.is_process_local("memory://a") and not location.is_process_local(str(tmp_path))


def test_a_run_on_memory_fs_publishes_the_same_tables_as_on_disk(memory_dir, local_serial):
    snap = _run_twice(memory_dir, EngineSpec())
    assert snap.path == f"{memory_dir}/runs/oct"
    for layer in storage.LAYERS:
        assert snap.tables(layer) == local_serial.tables(layer), layer
        for name in snap.tables(layer):
            a, b = _arrow(local_serial, layer, name), _arrow(snap, layer, name)
            assert a.schema.equals(b.schema, check_metadata=True), f"{layer}/{name}"
            pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), obj=f"{layer}/{name}")
    root = memory_dir.split("://", 1)[1]
    # the served copies are published with their tables
    copies = sorted(p.name for p in (local_serial.path / "gold" / "_serve").glob("*.arrow"))
    assert copies and sorted(location.list_names(f"{memory_dir}/runs/oct/gold/_serve")) == copies
    for name in copies:
        remote = pa.ipc.open_file(pa.BufferReader(MEMORY.cat_file(f"{root}/runs/oct/gold/_serve/{name}"))).read_all()
        assert remote.equals(pa.ipc.open_file(local_serial.path / "gold" / "_serve" / name).read_all()), name
    assert json.loads(MEMORY.cat_file(f"{root}/CURRENT")) == {"run_id": "oct"}
    assert sorted(location.list_names(f"{memory_dir}/runs")) == ["oct", "sep"]  # no work or staging prefix left
    assert snap.manifest["row_counts"] == local_serial.manifest["row_counts"]


def test_the_published_run_is_not_replaced_in_place_on_memory_fs(memory_dir):
    opts = RunOptions(data_dir=memory_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31), run_id="oct")
    run_pipeline(opts)
    with pytest.raises(DataError, match="cannot be replaced in place"):
        run_pipeline(opts)
    assert storage.current_run_id(memory_dir) == "oct"
    assert storage.open_snapshot(memory_dir).read("gold", "gold_customer_360_metrics").shape[0] > 0


def test_a_failed_partition_on_memory_fs_publishes_nothing(memory_dir):
    run_pipeline(RunOptions(data_dir=memory_dir, config_dir=CONFIG_DIR, as_of=date(2026, 9, 30), run_id="before",
                            partitions=PARTITIONS))
    before = storage.open_snapshot(memory_dir)
    accounts = before.read("silver", "accounts")["account_id"]
    victim = accounts[partition_of(accounts, PARTITIONS) == 2].iloc[0]
    history = before.read("gold", HISTORY)
    rows = history[history["account_id"] == victim].astype({"as_of": "str"}).assign(as_of="not-a-date")
    fs, where = location.fs_path(before.table_path("gold", HISTORY))
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), where, filesystem=fs)

    with pytest.raises(ValueError, match="not-a-date"):
        run_pipeline(RunOptions(data_dir=memory_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31), run_id="after",
                                partitions=PARTITIONS))
    assert storage.current_run_id(memory_dir) == "before"
    assert location.list_names(f"{memory_dir}/runs") == ["before"]


def test_memory_fs_needs_the_in_process_engine(memory_dir):
    with pytest.raises(EngineError, match="visible to this process only"):
        run_pipeline(RunOptions(data_dir=memory_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31),
                                engine=EngineSpec("local", workers=2)))
    assert location.list_names(f"{memory_dir}/runs") == []


