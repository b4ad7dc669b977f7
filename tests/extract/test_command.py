"""`c360 extract`: per-object summary, exit status, one-line errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

from etl.extract.command import make_extract_command
from etl.extract.emulator import Emulator, Fault
from etl.extract.errors import ApiLimitError
from tests.extract.conftest import PASSWORD, TOKEN
from tests.extract.helpers import assert_bronze_matches_org
from tests.extract.sf_book import NOW

ENV = {"C360_SF_USERNAME": "etl@example.com", "C360_SF_PASSWORD": PASSWORD, "C360_SF_SECURITY_TOKEN": TOKEN}


def _app(server) -> typer.Typer:
    app = typer.Typer()
    app.command("extract")(make_extract_command(server.session, environ=ENV))
    app.command("other")(lambda: None)  # two commands, so "extract" is a subcommand as in c360
    return app


def test_extract_prints_a_row_per_object(server, emu: Emulator, tmp_path: Path, config_dir: Path):
    data = tmp_path / "data"
    args = ["extract", "--objects", "Account,Contact", "--data-dir", str(data), "--config-dir", str(config_dir)]
    result = CliRunner().invoke(_app(server), args, terminal_width=200)
    assert result.exit_code == 0, result.output
    for text in ("Account", "Contact", "rest", "30", "2026-11-01T00:00:00Z", "published"):
        assert text in result.output
    assert_bronze_matches_org(data, emu, "Account")

    emu.fixed_now = NOW + timedelta(hours=1)
    again = CliRunner().invoke(_app(server), [*args, "--objects", "Case", "--full-refresh"], terminal_width=200)
    assert again.exit_code == 0, again.output
    assert "Case" in again.output and "2026-11-01T01:00:00Z" in again.output


def test_a_clean_failure_is_one_line_after_the_rows_done(server, emu: Emulator, tmp_path: Path, config_dir: Path):
    emu.api_limit, emu.api_used = 100, 100
    args = ["extract", "--objects", "Account", "--data-dir", str(tmp_path / "data"), "--config-dir", str(config_dir)]
    emu.add_fault(Fault("status", "describe", status=403, error_code="REQUEST_LIMIT_EXCEEDED", message="TotalRequests Limit exceeded."))
    result = CliRunner().invoke(_app(server), args, terminal_width=200)
    assert isinstance(result.exception, ApiLimitError)  # etl.cli.main prints it as one line and exits 2
    assert "\n" not in str(result.exception)
    assert "Account" in result.output and "failed" in result.output
