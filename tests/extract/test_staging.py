"""Staged batches: invisible until published, deduplicated by Id (latest SystemModstamp wins),
and converted to the same bronze table from REST JSON and from Bulk CSV."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from etl.contracts import BRONZE_SALESFORCE
from etl.extract import staging
from etl.extract.records import bronze_schema, bulk_csv_to_table, rest_page_to_table
from etl.extract.staging import StagedBatch
from etl.storage import read_bronze

META = {"batch_id": "b1", "extracted_at": "2026-11-01T00:00:00.000Z", "source": "salesforce:rest"}
FIELDS = ["Id", "IsDeleted", "SystemModstamp", "Name", "AnnualRevenue"]


def _page(rows: list[tuple[str, str, str]]) -> pa.Table:
    records = [{"attributes": {}, "Id": i, "IsDeleted": False, "SystemModstamp": ts, "Name": name, "AnnualRevenue": 1.0} for i, ts, name in rows]
    return rest_page_to_table("Account", records, FIELDS, BRONZE_SALESFORCE["Account"], **META)


def test_batch_is_invisible_until_published_and_gone_when_abandoned(tmp_path: Path):
    with StagedBatch(tmp_path, "Account", "b1", bronze_schema(BRONZE_SALESFORCE["Account"]), part_rows=1) as batch:
        batch.append(_page([("001A", "2026-01-01T00:00:00.000+0000", "a")]))
        assert read_bronze(tmp_path, "Account").empty  # a part is on disk, but staged
        path = batch.publish()
    assert path.name == "batch_id=b1" and len(read_bronze(tmp_path, "Account")) == 1
    with pytest.raises(RuntimeError):
        with StagedBatch(tmp_path, "Account", "b2", bronze_schema(BRONZE_SALESFORCE["Account"]), part_rows=1) as batch:
            batch.append(_page([("001B", "2026-01-01T00:00:00.000+0000", "b")]))
            raise RuntimeError("extraction failed")
    assert [p.name for p in (tmp_path / "bronze" / "Account").iterdir()] == ["batch_id=b1"]


@pytest.mark.parametrize("ids_per_bucket", [4_000_000, 2])  # one bucket, and many
def test_duplicates_within_and_across_parts_keep_the_latest(tmp_path: Path, monkeypatch, ids_per_bucket: int):
    monkeypatch.setattr(staging, "_IDS_PER_BUCKET", ids_per_bucket)
    with StagedBatch(tmp_path, "Account", "b1", bronze_schema(BRONZE_SALESFORCE["Account"]), part_rows=3) as batch:
        batch.append(_page([("001A", "2026-01-01T00:00:00.000+0000", "A old"), ("001B", "2026-01-02T00:00:00.000+0000", "B new")]))
        batch.append(_page([("001A", "2026-01-03T00:00:00.000+0000", "A new"), ("001C", "2026-01-01T00:00:00.000+0000", "C")]))
        batch.append(_page([("001B", "2026-01-01T00:00:00.000+0000", "B old"), ("001D", "2026-01-01T00:00:00.000+0000", "D")]))
        batch.append(_page([("001D", "2026-01-05T00:00:00.000+0000", "D new")]))
        batch.publish()
    got = read_bronze(tmp_path, "Account").set_index("Id")["Name"].to_dict()
    assert got == {"001A": "A new", "001B": "B new", "001C": "C", "001D": "D new"}
    assert batch.rows == 4 and batch.duplicates == 3


def test_rest_and_bulk_pages_give_the_same_table():
    contract = BRONZE_SALESFORCE["Case"]
    fields = ["Id", "IsDeleted", "CreatedDate", "SystemModstamp", "Subject", "IsEscalated", "ClosedDate"]
    records = [
        {"attributes": {"type": "Case"}, "Id": "500A", "IsDeleted": True, "CreatedDate": "2026-01-01T10:00:00.000+0000",
         "SystemModstamp": "2026-01-02T10:00:00.123+0000", "Subject": 'Line "down",\nagain', "IsEscalated": False, "ClosedDate": None},
        {"attributes": {"type": "Case"}, "Id": "500B", "IsDeleted": False, "CreatedDate": "2026-01-01T11:00:00.000+0000",
         "SystemModstamp": "2026-01-02T11:00:00.000+0000", "Subject": None, "IsEscalated": None, "ClosedDate": "2026-01-03T00:00:00.000+0000"},
    ]
    csv = (
        b'"Id","IsDeleted","CreatedDate","SystemModstamp","Subject","IsEscalated","ClosedDate"\n'
        b'"500A","true","2026-01-01T10:00:00.000Z","2026-01-02T10:00:00.123Z","Line ""down"",\nagain","false",\n'
        b'"500B","false","2026-01-01T11:00:00.000Z","2026-01-02T11:00:00.000Z",,,"2026-01-03T00:00:00.000Z"\n'
    )
    types = {"CreatedDate": "datetime", "SystemModstamp": "datetime", "ClosedDate": "datetime", "IsDeleted": "boolean"}
    rest = rest_page_to_table("Case", records, fields, contract, **META)
    bulk = bulk_csv_to_table("Case", csv, fields, types, contract, **META)
    assert rest.equals(bulk)
    assert rest.column("Subject")[0].as_py() == 'Line "down",\nagain'
    assert bulk_csv_to_table("Case", b"", fields, types, contract, **META).num_rows == 0


def test_rest_values_of_an_unexpected_type_are_kept_as_text():
    records = [{"Id": "001A", "Name": 42, "BillingCountry": {"city": "Berlin"}, "NumberOfEmployees": "12"}]
    t = rest_page_to_table("Account", records, ["Id", "Name", "BillingCountry", "NumberOfEmployees"], BRONZE_SALESFORCE["Account"], **META)
    row = t.to_pylist()[0]
    assert (row["Name"], row["BillingCountry"], row["NumberOfEmployees"]) == ("42", '{"city": "Berlin"}', 12.0)
