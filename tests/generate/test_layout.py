"""What lands where: exactly the contract's tables and columns in bronze, feeds
readable by the bronze reader, ground truth outside bronze, and the
replace/refuse behaviour."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from etl.contracts import BRONZE_FEEDS, BRONZE_METADATA, BRONZE_SALESFORCE, BRONZE_TABLES
from etl.errors import DataError
from etl.generate import GenerationReport, generate
from etl.storage import read_bronze

from .conftest import AS_OF


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_every_contract_table_is_written_with_exactly_its_columns(clean_book: tuple[Path, GenerationReport]) -> None:
    data_dir, report = clean_book
    assert sorted(p.name for p in (data_dir / "bronze").iterdir()) == sorted(BRONZE_TABLES)
    assert sorted(report.rows) == sorted(BRONZE_TABLES)
    for table, schema in BRONZE_SALESFORCE.items():
        (part,) = _files(data_dir / "bronze" / table)
        assert part.parent.name == f"batch_id={report.batch_id}"
        assert pq.read_schema(part).names == schema.names + BRONZE_METADATA.names, table
        assert pq.read_schema(part).remove_metadata().types[: len(schema)] == schema.types, table
    for feed, schema in BRONZE_FEEDS.items():
        files = _files(data_dir / "bronze" / feed)
        assert files, feed
        for f in files:
            names = pacsv.read_csv(f).column_names if f.suffix == ".csv" else pq.read_schema(f).names
            assert names == schema.names, f
    assert {f.suffix for f in _files(data_dir / "bronze" / "billing_invoices")} == {".csv"}
    assert {f.suffix for f in _files(data_dir / "bronze" / "monthly_usage")} == {".parquet"}


def test_reported_rows_match_what_the_bronze_reader_sees(clean_book: tuple[Path, GenerationReport]) -> None:
    data_dir, report = clean_book
    for table in BRONZE_TABLES:
        frame = read_bronze(data_dir, table)
        assert len(frame) == report.rows[table] > 0, table
    usage = read_bronze(data_dir, "monthly_usage")
    assert usage["_source"].str.startswith("feed:monthly_usage_").all()
    assert set(read_bronze(data_dir, "Account")["_source"]) == {"generator"}
    assert set(read_bronze(data_dir, "Account")["_extracted_at"]) == {"2024-03-15T00:00:00.000Z"}


def test_no_staging_or_temporary_files_are_left(clean_book: tuple[Path, GenerationReport]) -> None:
    data_dir, _ = clean_book
    assert sorted(p.name for p in data_dir.iterdir()) == ["bronze", "ground_truth"]
    assert not [p for p in _files(data_dir) if any(part.startswith(".") for part in p.relative_to(data_dir).parts)]


def test_ground_truth_lives_outside_bronze(clean_book: tuple[Path, GenerationReport]) -> None:
    data_dir, report = clean_book
    assert report.ground_truth_path == data_dir / "ground_truth"
    links = pd.read_csv(report.ground_truth_path / "account_links.csv", dtype=str)
    assert list(links.columns) == ["account_id", "global_company_id", "company_name"]
    accounts = read_bronze(data_dir, "Account")
    assert sorted(links["account_id"]) == sorted(accounts["Id"])
    dirt = pd.read_csv(report.ground_truth_path / "dirty_records.csv", dtype=str)
    assert list(dirt.columns) == ["table", "record_id", "kind", "field"]
    for table in BRONZE_TABLES:
        for f in _files(data_dir / "bronze" / table):
            names = pacsv.read_csv(f).column_names if f.suffix == ".csv" else pq.read_schema(f).names
            assert "global_company_id" not in names and "company_name" not in names, f


def test_refuses_to_overwrite_bronze_without_replace(tmp_path: Path) -> None:
    generate(tmp_path, accounts=20, seed=1, as_of=AS_OF)
    before = _files(tmp_path / "bronze")
    with pytest.raises(DataError, match="--replace"):
        generate(tmp_path, accounts=20, seed=2, as_of=AS_OF)
    assert _files(tmp_path / "bronze") == before


def test_replace_swaps_the_whole_layer(tmp_path: Path) -> None:
    generate(tmp_path, accounts=20, seed=1, as_of=AS_OF)
    stray = tmp_path / "bronze" / "Account" / "batch_id=older" / "part-00000.parquet"
    stray.parent.mkdir()
    stray.write_bytes((next((tmp_path / "bronze" / "Account").glob("*/part-00000.parquet"))).read_bytes())
    seen: list[str] = []
    report = generate(tmp_path, accounts=30, seed=2, as_of=AS_OF, replace=True, progress=seen.append)
    assert sorted(seen) == sorted(BRONZE_TABLES)
    assert [p.name for p in (tmp_path / "bronze" / "Account").iterdir()] == [f"batch_id={report.batch_id}"]
    assert len(read_bronze(tmp_path, "Account")) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bronze", "ground_truth"]


def test_bad_arguments_are_rejected_before_anything_is_written(tmp_path: Path) -> None:
    for kwargs in ({"accounts": 0}, {"dirty_rate": 0.9}, {"seed": -1}):
        with pytest.raises(ValueError):
            generate(tmp_path, **{"accounts": 10, "as_of": AS_OF, **kwargs})
    assert not (tmp_path / "bronze").exists()
