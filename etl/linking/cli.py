"""The ``c360 link`` command (registered by the lead in `etl.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from etl.linking.link import LinkStats
from etl.linking.standalone import run_standalone
from etl.cli_options import ConfigDir
from etl.settings import Settings

console = Console()


def link(
    input: Annotated[
        Path,
        typer.Option(
            "--input", exists=True, file_okay=False, help="Folder with Account and Contact tables (CSV or Parquet)"
        ),
    ],
    output: Annotated[Path, typer.Option("--output", help="Folder for the master accounts, links and review queue")],
    config_dir: ConfigDir = None,
) -> None:
    """Link regional accounts into master accounts, with evidence and a review queue."""
    settings = Settings.from_options(config_dir=config_dir)
    result = run_standalone(input, output, settings.config_dir)
    console.print(stats_table(result.stats))
    console.print(f"written to {output}: gold_master_accounts, gold_account_links, gold_link_review_queue (.parquet)")


def stats_table(stats: LinkStats) -> Table:
    """The run's counts and timings as a two-column table."""
    table = Table(title="account linking")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in vars(stats).items():
        if isinstance(value, dict):
            for k, v in value.items():
                table.add_row(f"{name}.{k}", f"{v:,}" if isinstance(v, int) else f"{v}")
        else:
            table.add_row(name, f"{value:,}")
    return table
