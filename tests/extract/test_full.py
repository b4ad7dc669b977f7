"""A full extraction lands exactly the org's records, through REST and through Bulk 2.0."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from etl.contracts import BRONZE_METADATA, BRONZE_SALESFORCE
from etl.extract.emulator import Emulator
from etl.extract.state import WatermarkStore
from etl.storage import bronze_dir, read_bronze
from tests.extract.helpers import assert_bronze_matches_org, hidden_paths
from tests.extract.sf_book import NOW


@pytest.mark.parametrize("api", ["rest", "bulk2"])
def test_full_extraction_equals_the_org(extract, emu: Emulator, api: str):
    report = extract(api=api)
    assert [r.object for r in report.results] == list(extract.config.objects)
    for r in report.results:
        assert (r.status, r.api) == ("published", api), r
        assert r.records == emu.org.objects[r.object].table.num_rows
        assert r.watermark_before is None and r.watermark_after == NOW
        bronze = assert_bronze_matches_org(extract.data_dir, emu, r.object)
        assert set(bronze["_source"]) == {f"salesforce:{api}"}
        assert set(bronze["_batch_id"]) == {report.run_id}
        assert bronze["_extracted_at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").all()
    assert report.records == sum(so.table.num_rows for so in emu.org.objects.values())
    assert hidden_paths(extract.data_dir) == []
    # soft-deleted rows arrive (queryAll), flagged
    acc = read_bronze(extract.data_dir, "Account")
    assert acc["IsDeleted"].sum() == emu.org.frame("Account")["IsDeleted"].sum() > 0


def test_rest_pages_follow_next_records_url_and_parts_bound_memory(extract, emu: Emulator, server, book):
    book["Account"] = book["Account"].sample(n=2500, replace=True, random_state=1).reset_index(drop=True)
    book["Account"]["Id"] = [f"001{i:012d}AAA" for i in range(2500)]
    from tests.extract.conftest import new_emulator

    emu = new_emulator(server, book)
    config = extract.config.model_copy(update={"part_rows": 700})
    report = extract(["Account"], config=config, api="rest")
    assert report.results[0].records == 2500
    pages = [r for r in emu.requests if "/queryAll/" in r]
    assert len(pages) == 13  # first page + 12 nextRecordsUrl pages of 200 (batchSize honoured)
    batch = report.results[0].batch_path
    parts = sorted(batch.glob("part-*.parquet"))
    assert [pq.read_metadata(p).num_rows for p in parts] == [800, 800, 800, 100]  # ~part_rows each, never the whole object
    schema = pq.read_schema(parts[0])
    assert schema.names == BRONZE_SALESFORCE["Account"].names + BRONZE_METADATA.names
    assert_bronze_matches_org(extract.data_dir, emu, "Account")


def test_bulk_pages_follow_the_locator(extract, emu: Emulator):
    report = extract(["Opportunity"], api="bulk2")
    n = emu.org.objects["Opportunity"].table.num_rows
    results_calls = [r for r in emu.requests if r.endswith("/results")]
    assert len(results_calls) == -(-n // extract.config.bulk2.page_records)  # maxRecords per page
    assert any(r.startswith("DELETE ") for r in emu.requests)  # the finished job is cleaned up
    assert report.results[0].records == n


def test_threshold_switches_a_large_window_to_bulk(extract, emu: Emulator):
    config = extract.config.model_copy(update={"bulk_threshold_records": 10})
    config.objects["User"] = config.objects["User"].model_copy(update={"bulk": False})
    report = extract(["User", "Product2", "CurrencyType"], config=config)
    apis = {r.object: r.api for r in report.results}
    assert apis == {"User": "rest", "Product2": "bulk2", "CurrencyType": "rest"}  # 30 > 10; 6 <= 10; User forced
    for obj in apis:
        assert_bronze_matches_org(extract.data_dir, emu, obj)


def test_watermarks_are_written_after_publish(extract, emu: Emulator):
    report = extract(["Account", "Contact"])
    store = WatermarkStore(extract.data_dir)
    for obj in ("Account", "Contact"):
        assert store.get(obj) == NOW
        entry = store.entry(obj)
        assert entry["batch_id"] == report.run_id and entry["records"] == 30
        assert (bronze_dir(extract.data_dir, obj) / f"batch_id={report.run_id}").is_dir()
    assert store.get("User") is None


def _generator_ready() -> bool:
    try:
        from etl.generate import generate  # noqa: F401  (written concurrently by another engineer)
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _generator_ready(), reason="etl.generate.generate does not exist yet")
def test_generated_book_round_trips(server, request, tmp_path, config, password_creds):
    """The sample generator's bronze, served by the emulator, comes back identical (REST and Bulk)."""
    from tests.extract.conftest import Extractor, new_emulator

    sample_bronze = request.getfixturevalue("sample_bronze")

    frames = {obj: read_bronze(sample_bronze, obj) for obj in BRONZE_SALESFORCE if bronze_dir(sample_bronze, obj).is_dir()}
    assert {"Account", "Opportunity", "OpportunityLineItem"} <= set(frames)
    emu = new_emulator(server, frames)
    config = config.model_copy(update={"rest_batch_size": 2000, "bulk2": config.bulk2.model_copy(update={"page_records": 50_000})})
    for api in ("rest", "bulk2"):
        run = Extractor(server, tmp_path / api, config, password_creds, [])
        report = run([o for o in config.objects if o in frames], api=api)
        for r in report.results:
            assert r.status == "published", r
            bronze = assert_bronze_matches_org(run.data_dir, emu, r.object)
            source_ids = frames[r.object]["Id"]
            assert set(bronze["Id"]) == set(source_ids)
