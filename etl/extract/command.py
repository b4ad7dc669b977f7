"""The ``c360 extract`` command, for `etl.cli` to register::

    from etl.extract.command import extract_command
    app.command("extract")(extract_command)

It prints one row per object (API used, records, seconds, watermark before
and after) and, on a clean failure, the rows done so far before the
`ExtractError` reaches ``etl.cli.main``, which prints it as one line and
exits 2.  `make_extract_command` builds the same command over another HTTP
session factory: the tests use it to point the command at the emulator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated

import requests
import typer
from rich.console import Console
from rich.table import Table

from etl.extract.config import load_salesforce_config
from etl.extract.credentials import load_credentials
from etl.extract.errors import ExtractError
from etl.extract.extractor import ExtractOptions, ExtractReport, run_extract
from etl.extract.state import format_instant
from etl.cli_options import ConfigDir, DataDir
from etl.settings import Settings

CONFIG_FILE = "salesforce_config.json"

ObjectsOpt = Annotated[
    list[str] | None,
    typer.Option("--objects", help="Objects to extract (repeat or comma-separate); default: every configured object", show_default=False),
]
FullRefreshOpt = Annotated[bool, typer.Option("--full-refresh", help="Ignore the watermarks: extract everything up to now")]


def _wm(value: datetime | None) -> str:
    return format_instant(value) if value else "-"


def render_report(report: ExtractReport, console: Console) -> None:
    title = f"extract {report.run_id}" + (f", windows end {_wm(report.started_at)}" if report.started_at else "")
    table = Table(title=title)
    for col in ("object", "api", "records", "seconds", "watermark before", "watermark after", "status"):
        table.add_column(col, justify="right" if col in ("records", "seconds") else "left")
    for r in report.results:
        status = r.status + (f" ({r.note})" if r.note else "")
        table.add_row(r.object, r.api or "-", f"{r.records:,}", f"{r.seconds:.1f}", _wm(r.watermark_before), _wm(r.watermark_after), status)
    console.print(table)
    if report.warnings:  # each was logged as it happened; repeat only the count
        console.print(f"[yellow]{len(report.warnings)} warning(s)[/], logged above", highlight=False)
    if report.api_usage:
        console.print(report.api_usage, highlight=False)


def make_extract_command(
    session_factory: Callable[[], requests.Session] = requests.Session,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> Callable[..., None]:
    """The ``c360 extract`` command over HTTP sessions from `session_factory`."""

    def extract(
        objects: ObjectsOpt = None,
        full_refresh: FullRefreshOpt = False,
        data_dir: DataDir = None,
        config_dir: ConfigDir = None,
    ) -> None:
        """Pull Salesforce objects into bronze: incremental on SystemModstamp, REST queryAll or Bulk API 2.0."""
        out = console or Console()
        settings = Settings.from_options(data_dir, config_dir)
        config = load_salesforce_config(settings.config_dir / CONFIG_FILE)
        names = [n.strip() for item in (objects or []) for n in item.split(",") if n.strip()] or None
        credentials = load_credentials(environ)
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        options = ExtractOptions(data_dir=settings.data_dir, config=config, objects=names, full_refresh=full_refresh)
        try:
            report = run_extract(options, credentials, session=session_factory())
        except ExtractError as exc:
            if exc.report is not None:
                render_report(exc.report, out)
            raise
        render_report(report, out)

    return extract


extract_command = make_extract_command()
