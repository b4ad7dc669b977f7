"""The pipeline end to end: generate -> bronze -> silver -> gold, published atomically."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from etl import storage
from etl.errors import ConfigError
from etl.pipeline import (
    HISTORY,
    METRICS,
    TIMELINE,
    RunOptions,
    check_config,
    compute_gold_partitioned,
    merge_history,
    run_pipeline,
)
from etl.settings import REPO_ROOT
from tests.conftest import SAMPLE_ACCOUNTS, SAMPLE_AS_OF

CONFIG_DIR = REPO_ROOT / "config"


def _opts(data_dir: Path, **kw) -> RunOptions:
    return RunOptions(data_dir=data_dir, config_dir=kw.pop("config_dir", CONFIG_DIR), as_of=SAMPLE_AS_OF, **kw)


def _gold_tables(snapshot: storage.Snapshot) -> dict[str, pd.DataFrame]:
    return {name: snapshot.read("gold", name) for name in snapshot.tables("gold")}


@pytest.fixture(scope="module")
def published(tmp_path_factory, sample_bronze) -> storage.Snapshot:
    data_dir = tmp_path_factory.mktemp("published") / "data"
    shutil.copytree(sample_bronze, data_dir)
    run_pipeline(_opts(data_dir, run_id="r1", backfill_months=3))
    return storage.open_snapshot(data_dir)


@pytest.fixture(scope="module")
def published_lz4(tmp_path_factory, sample_bronze, published) -> storage.Snapshot:
    """The same run, in two partitions, with the pipeline's bound for LZ4 copies (etl.clustered.IN_MEMORY_ROWS,
    far above the sample) set to 3/4 of the timeline's rows: the timeline gets its copy, the history does not.
    The first partition's timeline (about half) times the run's two partitions is above the bound, so
    its copy is written as the pieces come, not read back from the file at the end."""
    from etl import clustered, task

    data_dir = tmp_path_factory.mktemp("published-lz4") / "data"
    shutil.copytree(sample_bronze, data_dir)
    from_file = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(task.CLUSTERED_LAYOUT, "served_copy_above", published.manifest["row_counts"]["gold"][TIMELINE] * 3 // 4)
        patch.setattr(clustered, "write_served_copy_of_file", lambda *a, **k: from_file.append(a) or 0)
        run_pipeline(_opts(data_dir, run_id="r1", backfill_months=3, partitions=2))
    assert from_file == []
    return storage.open_snapshot(data_dir)


def test_shipped_config_is_valid():
    assert len(check_config(CONFIG_DIR)) == 5


def test_end_to_end_publishes_every_layer(published):
    assert published.run_id == "r1"
    assert set(published.tables("gold")) >= {METRICS, TIMELINE, HISTORY}
    silver_accounts = published.read("silver", "accounts")
    metrics = published.read("gold", METRICS)
    # every clean account has exactly one metrics row; dirty accounts went to quarantine
    assert len(metrics) == len(silver_accounts)
    assert SAMPLE_ACCOUNTS * 0.9 < len(metrics) <= SAMPLE_ACCOUNTS
    assert metrics["account_id"].is_unique
    # the sample book is varied, not uniform: all health categories and churn levels occur
    assert set(metrics["health_category"].dropna()) == {"Healthy", "At-Risk", "Critical"}
    assert set(metrics["churn_level"].dropna()) == {"LOW", "MEDIUM", "HIGH"}
    assert (metrics["mrr_usd"].dropna() >= 0).all()
    assert (metrics["arr_usd"] - 12 * metrics["mrr_usd"]).abs().max() < 1e-6
    # history: this as-of plus 3 month-ends, one row per account each
    history = published.read("gold", HISTORY)
    assert history.groupby("account_id").size().eq(4).all()
    timeline = published.read("gold", TIMELINE)
    assert set(timeline["event_type"]) == {"RENEWAL", "SUPPORT", "BILLING", "USAGE", "SALES", "ENGAGEMENT"}
    assert (pd.to_datetime(timeline["event_date"]).dt.date <= SAMPLE_AS_OF).all()
    # rules ran over the same run's gold: every alert and recommendation names a published account
    alerts = published.read("gold", "gold_risk_alerts")
    recs = published.read("gold", "gold_recommendations")
    assert set(alerts["account_id"]) <= set(metrics["account_id"]) and len(alerts)
    assert set(recs["rule_id"]) <= {"R001", "R002", "R003", "R004", "R005", "R006"} and len(set(recs["rule_id"])) >= 4
    high = set(metrics.loc[metrics["churn_level"] == "HIGH", "account_id"])
    assert set(alerts.loc[(alerts["alert_type"] == "CHURN_RISK") & (alerts["severity"] == "HIGH"), "account_id"]) == high


def test_timeline_and_history_are_published_clustered_by_account(published):
    """Small row groups, every account's rows contiguous: the API reads them from the file."""
    import pyarrow.parquet as pq

    from etl.clustered import ROW_GROUP_ROWS, ClusteredTable, index_path
    from server.snapshot import Snapshot

    accounts = set(published.read("gold", METRICS)["account_id"])
    for name in (TIMELINE, HISTORY):
        meta = pq.read_metadata(published.table_path("gold", name))
        assert max(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) <= ROW_GROUP_ROWS
        assert index_path(published.table_path("gold", name)).exists()
        table = ClusteredTable.open(published.table_path("gold", name), "account_id")
        assert table is not None and set(table.index.keys.tolist()) <= accounts
    served = Snapshot.load(published)
    assert isinstance(served.timeline, ClusteredTable) and isinstance(served.history, ClusteredTable)
    # each account's rows are in the order the API shows them, and the file says so: no sort per read
    assert served.timeline.presorted and served.history.presorted
    # held in memory (a small book); the pipeline wrote no LZ4 copy of tables that small, so a server
    # configured to hold fewer rows reads them from their Parquet row groups: the same rows
    from_file = Snapshot.load(published, in_memory_rows=0)
    for table in (from_file.timeline, from_file.history):
        assert type(table.reader).__name__ == "RowGroupReader" and table.reader is table.file
    assert type(served.timeline.reader).__name__ == type(served.history.reader).__name__ == "InMemoryRows"
    for account in sorted(accounts)[:25]:
        assert from_file.timeline.records(account) == served.timeline.records(account)
        assert from_file.history_for(account) == served.history_for(account)


def test_a_timeline_above_the_bound_is_read_from_its_lz4_copy(published, published_lz4):
    """Above the pipeline's bound (monkeypatched) the timeline has its LZ4 copy, which a server holding
    fewer rows in memory reads; the history, below it, has none and is read from its row groups."""
    from etl.clustered import served_path
    from server.snapshot import Snapshot

    assert not served_path(published_lz4.table_path("gold", HISTORY)).exists()
    assert served_path(published_lz4.table_path("gold", TIMELINE)).exists()
    in_memory, from_file = Snapshot.load(published), Snapshot.load(published_lz4, in_memory_rows=0)
    assert type(from_file.timeline.reader).__name__ == "IpcRowReader"
    assert from_file.history.reader is from_file.history.file
    for account in sorted(in_memory.metrics.index)[:25]:
        assert from_file.timeline.records(account) == in_memory.timeline.records(account)
        assert from_file.history_for(account) == in_memory.history_for(account)


@pytest.mark.parametrize("lz4", [False, True])
def test_tables_the_api_reads_by_rows_have_a_served_copy_of_the_same_rows(published, published_lz4, lz4):
    """Every table the API reads row by row has its served copy (etl.clustered.served_path): an Arrow
    IPC file of the same rows in the same order, in uniform batches; the copies are not tables.  The
    timeline's and the history's only above the pipeline's bound: in `published_lz4`, the timeline's."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    from etl import linking
    from etl.clustered import BATCH_ROWS_KEY, CODEC_KEY, SERVED_BATCH_ROWS, UNCOMPRESSED_BATCH_ROWS, served_path
    import rules

    published = published_lz4 if lz4 else published
    per_row = [*rules.READ_ORDER, *linking.READ_ORDER, linking.REVIEW_QUEUE]
    assert set(published.tables("gold")) == {TIMELINE, HISTORY, METRICS, *per_row}
    served = [*([TIMELINE] if lz4 else []), *per_row]
    copies = {p.name for p in served_path(published.table_path("gold", METRICS)).parent.iterdir()}
    assert copies == {served_path(published.table_path("gold", name)).name for name in served}
    for name in served:
        parquet = pq.read_table(published.table_path("gold", name))
        with pa.memory_map(str(served_path(published.table_path("gold", name)))) as source:
            reader = ipc.open_file(source)
            copy = reader.read_all()
            sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
        assert copy.schema.remove_metadata().equals(parquet.schema.remove_metadata()), name
        # per row tables uncompressed in large batches (read without decompressing), the timeline and the history in LZ4
        lz4 = name in (TIMELINE, HISTORY)
        batch_rows = SERVED_BATCH_ROWS if lz4 else UNCOMPRESSED_BATCH_ROWS
        assert copy.schema.metadata[BATCH_ROWS_KEY] == str(batch_rows).encode()
        assert copy.schema.metadata[CODEC_KEY] == (b"lz4" if lz4 else b"uncompressed")
        assert copy.equals(parquet), name
        whole, rest = divmod(parquet.num_rows, batch_rows)
        assert sizes == [batch_rows] * whole + ([rest] if rest else []), name
        sink = pa.BufferOutputStream()
        with ipc.new_file(sink, copy.schema, options=ipc.IpcWriteOptions(compression=None)) as plain:
            plain.write_table(copy, max_chunksize=batch_rows)
        size = served_path(published.table_path("gold", name)).stat().st_size
        assert size < sink.getvalue().size if lz4 else size == sink.getvalue().size, name
    assert not served_path(published.table_path("gold", METRICS)).exists()  # read whole into memory, no copy


def test_tables_the_api_reads_by_account_are_published_in_its_order(published):
    """Metrics by account; rules and linking tables in their READ_ORDER, in small row groups: the API
    keeps a few columns in memory and reads rows from the file (server.snapshot.FileTable)."""
    import pyarrow.parquet as pq

    from etl import linking
    from etl.clustered import sorted_by
    import rules
    from server.snapshot import FileTable, Snapshot

    orders = {METRICS: ["account_id"], **rules.READ_ORDER, **linking.READ_ORDER}
    for name, order in orders.items():
        table = pq.read_table(published.table_path("gold", name))
        assert sorted_by(table.schema) == order, name
        keys = table.select(order).to_pandas()
        assert keys.equals(keys.sort_values(order, kind="stable").reset_index(drop=True)), name
    served = Snapshot.load(published)
    for table in (served.alerts, served.recommendations, served.rule_facts, served.master_members, served.links,
                  served.rollups, served.review_queue):
        assert isinstance(table, FileTable)
    account = served.alerts.df["account_id"].iloc[0]
    alerts = published.read("gold", "gold_risk_alerts")
    assert len(served.alerts_for(account)) == int((alerts["account_id"] == account).sum())
    assert served.alerts_for(account)[0]["message"]  # whole rows, texts included, come from the file


def test_linking_runs_on_silver_and_meets_quality_targets(published, sample_bronze):
    from etl.linking import evaluate_links

    masters = published.read("gold", "gold_master_accounts")
    accounts = published.read("silver", "accounts")
    assert sorted(masters["account_id"]) == sorted(accounts["account_id"])
    truth = pd.read_csv(sample_bronze / "ground_truth" / "account_links.csv")
    precision, recall = evaluate_links(masters, truth[truth["account_id"].isin(accounts["account_id"])])
    assert precision >= 0.98 and recall >= 0.95, (precision, recall)
    rollups = published.read("gold", "gold_master_account_rollups")
    metrics = published.read("gold", METRICS)
    assert rollups["total_arr_usd"].sum() == pytest.approx(metrics["arr_usd"].fillna(0).sum())
    assert published.manifest["linking"]["pairs_compared"] > 0


def test_master_ids_are_stable_across_runs(data_dir):
    run_pipeline(_opts(data_dir, run_id="one"))
    first = storage.open_snapshot(data_dir).read("gold", "gold_master_accounts")
    run_pipeline(_opts(data_dir, run_id="two"))
    second = storage.open_snapshot(data_dir).read("gold", "gold_master_accounts")
    pd.testing.assert_frame_equal(first, second)


def test_every_injected_dirty_record_is_accounted_for(published, sample_bronze):
    """Dirty records are quarantined, deduplicated, dropped as deleted, or normalised — never silently kept."""
    dirty = pd.read_csv(sample_bronze / "ground_truth" / "dirty_records.csv")
    quarantine = published.read("quarantine", "quarantine")
    quarantined_ids = set(quarantine["record_id"])
    must_quarantine = {"null_required", "bad_date", "negative_amount", "unknown_country", "unknown_currency", "bad_email", "bad_phone"}
    for kind in must_quarantine & set(dirty["kind"]):
        ids = set(dirty.loc[dirty["kind"] == kind, "record_id"])
        missing = ids - quarantined_ids
        assert not missing, f"{kind}: {len(missing)} injected record(s) not in quarantine, e.g. {sorted(missing)[:3]}"
    deleted = set(dirty.loc[dirty["kind"] == "soft_deleted", "record_id"])
    silver_ids = set()
    for name in published.tables("silver"):
        df = published.read("silver", name)
        id_col = next((c for c in df.columns if c.endswith("_id") and c != "account_id"), None)
        if name == "accounts":
            id_col = "account_id"
        if id_col:
            silver_ids |= set(df[id_col].dropna())
    assert not (deleted & silver_ids), "soft-deleted records reached silver"


def test_gold_is_identical_in_account_hash_partitions(published):
    from etl.gold import load_metrics_config

    silver = {name: published.read("silver", name) for name in published.tables("silver")}
    params = load_metrics_config(CONFIG_DIR / "silver_to_gold_metrics.json")
    whole = compute_gold_partitioned(silver, params, SAMPLE_AS_OF, "p", 1)
    chunked = compute_gold_partitioned(silver, params, SAMPLE_AS_OF, "p", 5)
    for name in whole:
        pd.testing.assert_frame_equal(whole[name], chunked[name], check_like=False)


def test_rerun_with_same_run_id_is_identical(data_dir):
    run_pipeline(_opts(data_dir, run_id="same", backfill_months=1))
    first = _gold_tables(storage.open_snapshot(data_dir))
    run_pipeline(_opts(data_dir, run_id="same", backfill_months=1))
    second = _gold_tables(storage.open_snapshot(data_dir))
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_config_error_stops_before_anything_is_written(data_dir, tmp_path):
    bad = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, bad)
    path = bad / "silver_to_gold_metrics.json"
    doc = json.loads(path.read_text())
    doc["no_such_section_or_key"] = 1  # unknown keys are refused, so typos never pass silently
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as err:
        run_pipeline(_opts(data_dir, config_dir=bad))
    assert "silver_to_gold_metrics.json" in str(err.value)
    assert "no_such_section_or_key" in str(err.value)
    assert not storage.runs_dir(data_dir).exists()
    assert storage.current_run_id(data_dir) is None


def test_cli_reports_config_error_with_file_and_key(data_dir, tmp_path):
    bad = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, bad)
    (bad / "bronze_to_silver_mapping.json").write_text('{"tables": ')
    proc = subprocess.run(
        [sys.executable, "-m", "etl.cli", "pipeline", "run", "--data-dir", str(data_dir), "--config-dir", str(bad)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "bronze_to_silver_mapping.json" in proc.stderr and "invalid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_killed_run_leaves_last_snapshot_intact_and_retry_is_identical(data_dir):
    run_pipeline(_opts(data_dir, run_id="before"))
    before = _gold_tables(storage.open_snapshot(data_dir))

    cmd = [sys.executable, "-m", "etl.cli", "pipeline", "run", "--data-dir", str(data_dir),
           "--as-of", SAMPLE_AS_OF.isoformat(), "--run-id", "killed"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = storage.runs_dir(data_dir) / ".staging-killed"
    deadline = time.monotonic() + 120
    # kill it once it has started writing its own tables
    while time.monotonic() < deadline and proc.poll() is None:
        if staging.exists() and any(staging.rglob("*.parquet")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert storage.current_run_id(data_dir) == "before"
    assert not (storage.runs_dir(data_dir) / "killed").exists()
    after_kill = _gold_tables(storage.open_snapshot(data_dir))
    for name in before:
        pd.testing.assert_frame_equal(before[name], after_kill[name])

    # the retry with the same run id succeeds and equals an uninterrupted run
    run_pipeline(_opts(data_dir, run_id="killed"))
    retried = _gold_tables(storage.open_snapshot(data_dir))
    run_pipeline(_opts(data_dir, run_id="killed"))
    again = _gold_tables(storage.open_snapshot(data_dir))
    for name in retried:
        pd.testing.assert_frame_equal(retried[name], again[name])


def test_history_accumulates_and_recomputed_dates_replace():
    d = lambda s: pd.Timestamp(s).date()  # noqa: E731
    prev = pd.DataFrame({"account_id": ["a", "a"], "as_of": [d("2026-08-31"), d("2026-09-30")], "health_score": [50.0, 60.0], "run_id": ["r0", "r0"]})
    new = pd.DataFrame({"account_id": ["a", "a"], "as_of": [d("2026-09-30"), d("2026-10-31")], "health_score": [61.0, 70.0], "run_id": ["r1", "r1"]})
    merged = merge_history(prev, new)
    assert list(merged["as_of"].dt.date) == [d("2026-08-31"), d("2026-09-30"), d("2026-10-31")]
    assert list(merged["health_score"]) == [50.0, 61.0, 70.0]
    assert list(merged["run_id"]) == ["r0", "r1", "r1"]


def test_missing_bronze_is_a_clear_error(tmp_path):
    from etl.errors import DataError

    with pytest.raises(DataError, match="no bronze Account data"):
        run_pipeline(_opts(tmp_path))


SORT_KEYS = {
    "accounts": ["account_id"], "users": ["user_id"], "products": ["product_id"], "contacts": ["contact_id"],
    "opportunities": ["opportunity_id"], "opportunity_line_items": ["line_item_id"], "cases": ["case_id"],
    "contracts": ["contract_id"], "activities": ["activity_id"], "invoices": ["invoice_id"],
    "usage": ["account_id", "service_code", "usage_month"], "fx_rates": ["currency_code", "valid_from", "source"],
    "quarantine": ["table", "record_id", "rule", "field"], "data_quality_report": ["table", "check", "rule", "field"],
    METRICS: ["account_id"], TIMELINE: ["account_id", "event_date", "event_type", "event_id"], HISTORY: ["account_id", "as_of"],
    "gold_risk_alerts": ["alert_id"], "gold_recommendations": ["recommendation_id"], "gold_rule_facts": ["account_id"],
    "gold_master_accounts": ["account_id"], "gold_account_links": ["account_id_a", "account_id_b"],
    "gold_link_review_queue": ["review_type", "account_id_a", "account_id_b"], "gold_master_account_rollups": ["master_id"],
}


def _canonical(snapshot: storage.Snapshot, layer: str, name: str) -> pd.DataFrame:
    df = snapshot.read(layer, name)
    keys = SORT_KEYS.get(name) or list(df.columns)
    return df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def test_partitioned_run_publishes_the_same_tables_as_a_whole_run(data_dir, tmp_path):
    """Bronze split by account hash, silver/gold/history per partition: same snapshot as one pass."""
    other = tmp_path / "other"
    shutil.copytree(data_dir, other)
    whole = run_pipeline(_opts(data_dir, run_id="r", partitions=1, backfill_months=2)).snapshot
    parts = run_pipeline(_opts(other, run_id="r", partitions=4, backfill_months=2)).snapshot
    assert parts.manifest["partitions"] == 4
    for layer in ("silver", "quarantine", "gold"):
        assert whole.tables(layer) == parts.tables(layer)
        for name in whole.tables(layer):
            pd.testing.assert_frame_equal(_canonical(whole, layer, name), _canonical(parts, layer, name), obj=f"{layer}/{name}")
    assert not any(p.name.startswith(".work") for p in storage.runs_dir(other).iterdir())


def test_auto_partitioning_by_book_size(data_dir):
    result = run_pipeline(_opts(data_dir, run_id="auto", accounts_per_partition=150))
    bronze_accounts = storage.read_bronze_arrow(data_dir, "Account", columns=["Id"]).num_rows
    assert result.snapshot.manifest["partitions"] == -(-bronze_accounts // 150)


def test_history_carries_across_daily_runs(data_dir):
    from datetime import date

    run_pipeline(RunOptions(data_dir=data_dir, config_dir=CONFIG_DIR, as_of=date(2026, 10, 31), run_id="oct", backfill_months=1, partitions=2))
    run_pipeline(RunOptions(data_dir=data_dir, config_dir=CONFIG_DIR, as_of=date(2026, 11, 15), run_id="nov", partitions=3))
    history = storage.open_snapshot(data_dir).read("gold", HISTORY)
    assert sorted(set(pd.to_datetime(history["as_of"]).dt.date)) == [date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 15)]
    by_date = history.groupby(pd.to_datetime(history["as_of"]).dt.date)["run_id"].agg(set)
    assert by_date[date(2026, 9, 30)] == {"oct"} and by_date[date(2026, 11, 15)] == {"nov"}
    assert not history.duplicated(["account_id", "as_of"]).any()
