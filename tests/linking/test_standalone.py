"""`c360 link` on a folder of Salesforce exports: CSV or Parquet in, three Parquet tables out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from etl.errors import DataError
from etl.linking import LINK_SCHEMAS, run_standalone
from etl.linking.cli import link
from tests.linking.helpers import CONFIG_DIR

ACCOUNTS = """Id,Name,ParentId,BillingCountry,Phone,Website,IsDeleted
001A,Siemens AG,,DE,+49 89 636 00,https://www.siemens.com,false
001B,Siemens plc,001A,GB,+44 1276 696000,siemens.co.uk,false
001C,Siemens Schweiz AG,,CH,,www.siemens.ch,false
001D,Vodafone GmbH,,DE,+49 211 5330,vodafone.de,false
001E,Vodaphone Ltd,,GB,,,false
001F,General Electric Company,,US,,ge.com,false
001G,General Motors Company,,US,,gm.com,false
001X,Deleted Account,,US,,,true
"""
CONTACTS = """Id,AccountId,FirstName,LastName,Email,Phone
003A,001D,Jo,Doe,J.Doe@Vodafone.com,
003B,001E,Jo,Doe,j.doe@vodafone.com ,
003C,001F,Info,Desk,info@general.example,
003D,001G,Info,Desk,info@general.example,
"""
OUTPUTS = ["gold_master_accounts", "gold_account_links", "gold_link_review_queue"]


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    (d / "Account.csv").write_text(ACCOUNTS)
    (d / "Contact.csv").write_text(CONTACTS)
    return d


def _read(out: Path, name: str) -> pd.DataFrame:
    return pq.read_table(out / f"{name}.parquet").to_pandas()


def test_csv_exports_are_linked_and_written_atomically(exports, tmp_path):
    out = tmp_path / "out"
    result = run_standalone(exports, out, CONFIG_DIR)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.parquet" for n in OUTPUTS)
    for name in OUTPUTS:
        assert pq.read_schema(out / f"{name}.parquet").equals(LINK_SCHEMAS[name], check_metadata=False)
    masters = _read(out, "gold_master_accounts").set_index("account_id")["master_id"].to_dict()
    assert masters == {
        "001A": "M1-001A", "001B": "M1-001A", "001C": "M1-001A",
        "001D": "M1-001D", "001E": "M1-001D",
        "001F": "M1-001F", "001G": "M1-001G",
    }
    links = _read(out, "gold_account_links")
    vodafone = links[links["account_id_a"] == "001D"].iloc[0]
    assert (vodafone["method"], vodafone["shared_contact"]) == ("contact", "j.doe@vodafone.com")
    assert result.stats.accounts == 7


def test_a_rerun_reads_back_the_previous_masters(exports, tmp_path):
    out = tmp_path / "out"
    run_standalone(exports, out, CONFIG_DIR)
    (exports / "Account.csv").write_text(ACCOUNTS.replace("001A,Siemens AG", "001A,Contoso Ltd"))
    run_standalone(exports, out, CONFIG_DIR)
    masters = _read(out, "gold_master_accounts").set_index("account_id")["master_id"].to_dict()
    # The Siemens master lost 001A but keeps its id on the larger part.
    assert (masters["001B"], masters["001C"], masters["001A"]) == ("M1-001A", "M1-001A", "M2-001A")


def test_parquet_exports_in_the_bronze_layout(exports, tmp_path):
    bronze = tmp_path / "bronze"
    for obj in ("Account", "Contact"):
        frame = pd.read_csv(exports / f"{obj}.csv", dtype=str)
        (bronze / obj / "batch_id=1").mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), bronze / obj / "batch_id=1" / "part-0.parquet")
    result = run_standalone(bronze, tmp_path / "out", CONFIG_DIR)
    assert result.stats.accounts == 7
    assert result.stats.multi_account_masters == 2


def test_contacts_are_optional(exports, tmp_path):
    (exports / "Contact.csv").unlink()
    result = run_standalone(exports, tmp_path / "out", CONFIG_DIR)
    masters = result.master_accounts.set_index("account_id")["master_id"]
    assert masters["001D"] != masters["001E"]  # the shared contact was the evidence


def test_a_missing_column_names_the_file_and_the_column(exports, tmp_path):
    (exports / "Account.csv").write_text(ACCOUNTS.replace("Id,Name,", "Id,AccountName,"))
    with pytest.raises(DataError) as err:
        run_standalone(exports, tmp_path / "out", CONFIG_DIR)
    assert str(exports / "Account.csv") in str(err.value)
    assert "'Name'" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_no_account_table_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no Account table"):
        run_standalone(empty, tmp_path / "out", CONFIG_DIR)


def test_cli_command(exports, tmp_path):
    app = typer.Typer()
    app.command()(link)
    app.command("noop")(lambda: None)  # two commands, so "link" is addressed by name as in c360
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config_dir)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["link", "--input", str(exports), "--output", str(out), "--config-dir", str(config_dir)])
    assert res.exit_code == 0, res.output
    assert "pairs_compared" in res.output
    assert (out / "gold_master_accounts.parquet").exists()
