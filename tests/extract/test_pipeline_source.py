"""`c360 pipeline run --source salesforce`: extract incrementally, then build silver and gold."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

import etl.cli
from etl import storage
from etl.extract.command import make_extract_command
from etl.extract.emulator import Emulator
from etl.settings import REPO_ROOT
from tests.extract.test_command import ENV


def test_pipeline_from_salesforce_extracts_then_publishes(server, emu: Emulator, tmp_path: Path, config_dir: Path, monkeypatch):
    for name in ("bronze_to_silver_mapping.json", "silver_to_gold_metrics.json", "account_linking.json", "manual_account_linkages.json"):
        shutil.copy(REPO_ROOT / "config" / name, config_dir / name)
    monkeypatch.setattr(etl.cli, "EXTRACT", make_extract_command(server.session, environ=ENV))
    data = tmp_path / "data"
    args = ["pipeline", "run", "--source", "salesforce", "--as-of", "2026-11-01", "--data-dir", str(data), "--config-dir", str(config_dir)]
    result = CliRunner().invoke(etl.cli.app, args, terminal_width=200)
    assert result.exit_code == 0, result.output + repr(result.exception)
    snap = storage.open_snapshot(data)
    org_accounts = {r["Id"] for r in emu.org.objects["Account"].table.to_pylist() if not r.get("IsDeleted")}
    metrics = snap.read("gold", "gold_customer_360_metrics")
    assert set(metrics["account_id"]) <= org_accounts and len(metrics) > 0
    assert set(storage.read_bronze(data, "Account")["_source"]) <= {"salesforce:rest", "salesforce:bulk2"}
