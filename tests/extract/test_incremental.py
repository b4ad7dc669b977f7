"""Incremental runs pick up exactly what changed since the watermark (minus the lookback)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from etl.extract.emulator import Emulator
from etl.extract.extractor import build_soql
from etl.extract.state import WatermarkStore
from etl.storage import read_bronze
from tests.extract.helpers import assert_bronze_matches_org, hidden_paths
from tests.extract.sf_book import NOW


def _batch(data_dir, obj: str, run_id: str) -> pd.DataFrame:
    bronze = read_bronze(data_dir, obj)
    return bronze[bronze["_batch_id"] == run_id]


def _ids(emu: Emulator, obj: str, take: slice) -> list[str]:
    live = emu.org.frame(obj, include_deleted=False)
    return list(live["Id"].iloc[take])


def test_incremental_run_picks_up_exactly_the_changes(extract, emu: Emulator):
    first = extract(["Account", "Opportunity"])
    later = NOW + timedelta(hours=2)
    emu.fixed_now = later
    changed = _ids(emu, "Account", slice(0, 3))
    deleted = _ids(emu, "Account", slice(3, 5))
    emu.org.update("Account", changed, {"Name": "Renamed, Inc.", "AnnualRevenue": 0.1 + 0.2}, at=later - timedelta(minutes=30))
    emu.org.soft_delete("Account", deleted, at=later - timedelta(minutes=20))
    emu.org.insert("Account", pd.DataFrame({"Id": ["001999999999999AAA"], "Name": ["Brand New"]}), at=later - timedelta(minutes=10))

    second = extract(["Account", "Opportunity"])

    acc, opp = second.results
    assert acc.watermark_before == NOW and acc.watermark_after == later
    assert acc.status == "published" and acc.records == 6
    assert opp.status == "no changes" and opp.records == 0 and opp.watermark_after == later
    batch = _batch(extract.data_dir, "Account", second.run_id)
    assert sorted(batch["Id"]) == sorted(changed + deleted + ["001999999999999AAA"])
    assert set(batch.loc[batch["Id"].isin(deleted), "IsDeleted"]) == {True}
    assert set(batch.loc[batch["Id"].isin(changed), "Name"]) == {"Renamed, Inc."}
    assert set(batch.loc[batch["Id"].isin(changed), "AnnualRevenue"]) == {0.1 + 0.2}
    # bronze, latest version per Id (what silver keeps), equals the org now
    assert_bronze_matches_org(extract.data_dir, emu, "Account", batches=2)
    assert_bronze_matches_org(extract.data_dir, emu, "Opportunity", batches=1)
    assert WatermarkStore(extract.data_dir).get("Account") == later
    assert first.run_id != second.run_id


def test_lookback_catches_late_commits_and_upper_bound_excludes_the_future(extract, emu: Emulator):
    extract(["Contact"])
    # committed late: stamped 5 minutes before the watermark, visible only now
    late = _ids(emu, "Contact", slice(0, 1))
    emu.org.update("Contact", late, {"Title": "Late"}, at=NOW - timedelta(minutes=5))
    # stamped after the next run's start on the org's clock (clock skew, in-flight transaction)
    future = _ids(emu, "Contact", slice(1, 2))
    emu.fixed_now = NOW + timedelta(hours=1)
    emu.org.update("Contact", future, {"Title": "Future"}, at=NOW + timedelta(hours=1, seconds=30))

    second = extract(["Contact"])
    batch = _batch(extract.data_dir, "Contact", second.run_id)
    assert list(batch["Id"]) == late  # lookback_minutes = 10 covers it; the future row waits

    emu.fixed_now = NOW + timedelta(hours=2)
    third = extract(["Contact"])
    batch = _batch(extract.data_dir, "Contact", third.run_id)
    assert list(batch["Id"]) == future
    assert_bronze_matches_org(extract.data_dir, emu, "Contact", batches=3)


def test_full_refresh_ignores_the_watermark(extract, emu: Emulator):
    extract(["Case"])
    emu.fixed_now = NOW + timedelta(days=1)
    again = extract(["Case"], full_refresh=True)
    r = again.results[0]
    assert r.records == emu.org.objects["Case"].table.num_rows
    assert r.watermark_before == NOW and r.watermark_after == NOW + timedelta(days=1)
    assert read_bronze(extract.data_dir, "Case")["_batch_id"].nunique() == 2
    assert hidden_paths(extract.data_dir) == []


def test_window_query_shape():
    lower, upper = NOW - timedelta(minutes=10), NOW
    assert build_soql("Account", ["Id", "Name"], lower, upper) == (
        "SELECT Id, Name FROM Account WHERE SystemModstamp > 2026-10-31T23:50:00Z AND SystemModstamp <= 2026-11-01T00:00:00Z"
    )
    assert build_soql("Account", ["Id"], None, upper) == "SELECT Id FROM Account WHERE SystemModstamp <= 2026-11-01T00:00:00Z"
    assert build_soql("Account", ["Id"], None, None) == "SELECT Id FROM Account"


def test_object_without_system_modstamp_is_extracted_whole_each_run(extract, emu: Emulator):
    emu.org.hide_field("CurrencyType", "SystemModstamp")
    emu.org.hide_field("CurrencyType", "IsDeleted")
    first = extract(["CurrencyType"])
    assert first.results[0].watermark_after is None and "no SystemModstamp" in first.results[0].note
    emu.fixed_now = NOW + timedelta(hours=1)
    second = extract(["CurrencyType"])
    assert second.results[0].records == 6
