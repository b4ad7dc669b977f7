"""Layer storage: bronze batches, feed files, and atomic snapshot publishing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from etl import storage
from etl.errors import DataError


def _accounts(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"Id": ids, "Name": [f"Account {i}" for i in ids], "IsDeleted": [False] * len(ids)})


def test_bronze_batches_accumulate_with_metadata(tmp_path):
    storage.write_bronze_batch(tmp_path, "Account", _accounts(["001A", "001B"]), batch_id="b1", source="salesforce")
    storage.write_bronze_batch(tmp_path, "Account", _accounts(["001C"]), batch_id="b2", source="salesforce")
    df = storage.read_bronze(tmp_path, "Account")
    assert sorted(df["Id"]) == ["001A", "001B", "001C"]
    assert set(df["_batch_id"]) == {"b1", "b2"}
    assert set(df["_source"]) == {"salesforce"}
    assert df["ParentId"].isna().all()  # contract column absent from the input -> null


def test_bronze_batch_is_immutable(tmp_path):
    storage.write_bronze_batch(tmp_path, "Account", _accounts(["001A"]), batch_id="b1", source="x")
    with pytest.raises(DataError, match="already exists"):
        storage.write_bronze_batch(tmp_path, "Account", _accounts(["001B"]), batch_id="b1", source="x")


def test_empty_bronze_table_has_contract_columns(tmp_path):
    df = storage.read_bronze(tmp_path, "Opportunity")
    assert len(df) == 0
    assert {"Id", "AccountId", "StageName", "_batch_id"} <= set(df.columns)


def test_csv_feed_is_read_as_text_with_source(tmp_path):
    feed = storage.bronze_dir(tmp_path, "billing_invoices")
    feed.mkdir(parents=True)
    (feed / "invoices_2026_10.csv").write_text(
        "invoice_id,account_id,amount,currency,issue_date\nINV-1,001A,12.50,EUR,2026-10-01\nINV-2,001B,not-a-number,USD,\n"
    )
    (feed / ".partial.csv").write_text("garbage")  # dot-files are in-flight writes and never read
    df = storage.read_bronze(tmp_path, "billing_invoices")
    assert list(df["invoice_id"]) == ["INV-1", "INV-2"]
    assert list(df["amount"]) == ["12.50", "not-a-number"]  # silver parses and quarantines
    assert set(df["_source"]) == {"feed:invoices_2026_10.csv"}


def test_unreadable_feed_names_the_file(tmp_path):
    feed = storage.bronze_dir(tmp_path, "monthly_usage")
    feed.mkdir(parents=True)
    (feed / "usage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="usage.parquet"):
        storage.read_bronze(tmp_path, "monthly_usage")


def test_publish_is_atomic_and_previous_snapshot_survives_a_failed_run(tmp_path):
    w = storage.RunWriter(tmp_path, "run-1")
    w.write("gold", "t", pd.DataFrame({"a": [1, 2]}))
    snap1 = w.publish({"as_of": "2026-10-31"})
    assert storage.current_run_id(tmp_path) == "run-1"

    w2 = storage.RunWriter(tmp_path, "run-2")
    w2.write("gold", "t", pd.DataFrame({"a": [9]}))
    # run-2 dies before publishing: readers still see run-1, and run-2 is invisible
    assert storage.current_run_id(tmp_path) == "run-1"
    assert not (storage.runs_dir(tmp_path) / "run-2").exists()
    assert list(storage.open_snapshot(tmp_path).read("gold", "t")["a"]) == [1, 2]
    assert snap1.manifest["row_counts"]["gold"] == {"t": 2}

    # a retry of the same run id starts from a clean staging directory
    w3 = storage.RunWriter(tmp_path, "run-2")
    assert not w3.path("gold", "t").exists()
    w3.write("gold", "t", pd.DataFrame({"a": [7, 8, 9]}))
    w3.publish({})
    assert list(storage.open_snapshot(tmp_path).read("gold", "t")["a"]) == [7, 8, 9]
    assert json.loads((tmp_path / "CURRENT").read_text())["run_id"] == "run-2"


def test_open_snapshot_before_first_publish_is_none(tmp_path):
    assert storage.open_snapshot(tmp_path) is None


def test_incomplete_run_is_refused(tmp_path):
    (storage.runs_dir(tmp_path) / "run-x").mkdir(parents=True)
    with pytest.raises(DataError, match="incomplete"):
        storage.open_snapshot(tmp_path, "run-x")
