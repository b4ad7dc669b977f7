"""The `c360` command line.

Every command takes ``--data-dir`` (env ``C360_DATA_DIR``, default ``./data``)
and ``--config-dir`` (env ``C360_CONFIG_DIR``, default the repository's
``config/``).  Expected failures (`C360Error`) print one line naming the
file, record or field and exit with status 2; nothing is half-written.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl import storage
from etl.cli_options import ConfigDir, DataDir
from etl.errors import C360Error, NothingPublished
from etl.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Customer 360: the B2B telco customer-intelligence pipeline.")
pipeline_app = typer.Typer(no_args_is_help=True, help="Run the bronze -> silver -> gold pipeline.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect and validate configuration.")
runs_app = typer.Typer(no_args_is_help=True, help="List published runs and prune old ones.")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(config_app, name="config")
app.add_typer(runs_app, name="runs")

# Wide enough for the summary tables when output goes to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True)

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Date the metrics are computed as of, YYYY-MM-DD [default: today]", show_default=False),
]


def _settings(data_dir: Path | None, config_dir: Path | None) -> Settings:
    return Settings.from_options(data_dir, config_dir)


def _parse_as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form", param_hint="--as-of") from None


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@app.command()
def generate(
    accounts: Annotated[int, typer.Option(min=1, help="Number of accounts")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same book")] = 42,
    as_of: AsOf = None,
    dirty_rate: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of records made dirty")] = 0.01,
    replace: Annotated[bool, typer.Option(help="Replace an existing bronze layer")] = False,
    data_dir: DataDir = None,
) -> None:
    """Write a deterministic sample book of business into bronze."""
    from etl.generate import generate as run_generate

    s = _settings(data_dir, None)
    day = _parse_as_of(as_of)
    with _progress() as bar:
        task = bar.add_task("generating", total=None)

        def step(label: str) -> None:
            bar.update(task, description=f"generating {label}")

        report = run_generate(
            s.data_dir, accounts=accounts, seed=seed, as_of=day, dirty_rate=dirty_rate, replace=replace, progress=step
        )
    table = Table(title=f"bronze written to {s.data_dir / 'bronze'} in {report.seconds:.1f} s")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in report.rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    console.print(f"ground truth for the account linker: {report.ground_truth_path}")


@pipeline_app.command("run")
def pipeline_run(
    as_of: AsOf = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: new); rerunning an id replaces it")] = None,
    backfill_months: Annotated[int, typer.Option(min=0, max=120, help="Also compute metrics as of the last N month-ends")] = 0,
    partitions: Annotated[int, typer.Option(min=0, help="Process the book in N account-hash partitions (0: by book size)")] = 0,
    accounts_per_partition: Annotated[int, typer.Option(min=1, help="With --partitions 0: accounts per partition")] = 25_000,
    source: Annotated[str, typer.Option(help="'bronze': what has landed; 'salesforce': extract incrementally first")] = "bronze",
    report_json: Annotated[Path | None, typer.Option(help="Also write stage timings and row counts to this JSON file")] = None,
    engine: Annotated[str, typer.Option(help="Where partitions run: 'local' (this machine) or 'dask' (a Dask cluster)")] = "local",
    workers: Annotated[int | None, typer.Option(
        help="local: partitions run at once, each in its own process [default 1: in this process]; "
             "dask: worker processes of a local cluster started for the run", show_default=False)] = None,
    scheduler: Annotated[str | None, typer.Option(help="With --engine dask: a running scheduler, tcp://HOST:PORT")] = None,
    keep_runs: Annotated[int | None, typer.Option(
        help="After publishing, prune to the N most recent runs as `c360 runs prune --keep N` does "
             "[default: prune nothing]", show_default=False)] = None,
    data_dir: DataDir = None,
    config_dir: ConfigDir = None,
) -> None:
    """Build silver and gold from bronze and publish them as one snapshot."""
    from etl.engine import EngineSpec
    from etl.pipeline import RunOptions, run_pipeline

    if source not in ("bronze", "salesforce"):
        raise typer.BadParameter(f"unknown source {source!r}; supported: bronze, salesforce", param_hint="--source")
    if keep_runs is not None:
        _check_keep(keep_runs, "--keep-runs")
    try:
        engine_spec = EngineSpec(engine, workers=workers, scheduler=scheduler)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    s = _settings(data_dir, config_dir)
    if source == "salesforce":
        EXTRACT(objects=None, full_refresh=False, data_dir=s.data_dir, config_dir=s.config_dir)
    opts = RunOptions(
        data_dir=s.data_dir,
        config_dir=s.config_dir,
        as_of=_parse_as_of(as_of),
        run_id=run_id,
        backfill_months=backfill_months,
        partitions=partitions,
        accounts_per_partition=accounts_per_partition,
        engine=engine_spec,
    )
    with _progress() as bar:
        task = bar.add_task("pipeline", total=1.0)

        def step(label: str, done: float) -> None:
            bar.update(task, description=label, completed=done)

        result = run_pipeline(opts, progress=step)
    _print_run_summary(result)
    if report_json is not None:
        storage.atomic_write_text(report_json, result.to_json())
    if keep_runs is not None:
        # The run is published whatever happens here: a failed prune is a warning, not a failed
        # run (a scheduler's retry would run the whole pipeline again); the next prune catches up.
        from etl import runs

        try:
            _print_prune(runs.prune(s.data_dir, keep_runs))
        except C360Error as exc:
            err_console.print(f"[bold yellow]warning:[/] run {result.run_id} is published, but pruning old runs failed: {exc}",
                              highlight=False, soft_wrap=True)


def _print_run_summary(result) -> None:
    quality = result.quality
    table = Table(title=f"run {result.run_id} as of {result.as_of} — published")
    cols = ("layer", "table", "rows in", "rows out", "quarantined", "duplicates", "deleted")
    for col in cols:
        table.add_column(col, justify="left" if col in ("layer", "table") else "right")

    def check(name: str, which: str) -> str:
        if quality is None or not len(quality):
            return ""
        q = quality[(quality["table"] == name) & (quality["check"] == which)]
        return _fmt(q["count"].sum()) if len(q) else ""

    for tc in result.tables:
        if tc.layer == "bronze":
            continue
        if tc.layer == "silver":
            extra = [check(tc.table, c) for c in ("rows_quarantined", "duplicates_superseded", "soft_deleted_dropped")]
            table.add_row(tc.layer, tc.table, check(tc.table, "rows_in"), f"{tc.rows_out:,}", *extra)
        else:
            table.add_row(tc.layer, tc.table, "", f"{tc.rows_out:,}", "", "", "")
    console.print(table)
    stages = Table(title="seconds per stage")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for st in result.stages:
        stages.add_row(st.stage, f"{st.seconds:.2f}")
    stages.add_row("[bold]total", f"[bold]{result.seconds:.2f}")
    console.print(stages)
    console.print(f"snapshot: {result.snapshot.path}")


def _fmt(n) -> str:
    return f"{int(n):,}"


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Show the published snapshot and its tables."""
    s = _settings(data_dir, None)
    snap = storage.open_snapshot(s.data_dir)
    if snap is None:
        console.print(f"nothing published yet under {s.data_dir}")
        raise typer.Exit(1)
    m = snap.manifest
    console.print(f"published run [bold]{snap.run_id}[/] as of {m.get('as_of')} at {m.get('published_at')}")
    table = Table()
    table.add_column("layer")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for layer, tables in m.get("row_counts", {}).items():
        for name, n in sorted(tables.items()):
            table.add_row(layer, name, f"{n:,}")
    console.print(table)


@app.command()
def quality(
    run_id: Annotated[str | None, typer.Option(help="A run id (default: the published one)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Show the data-quality report and a sample of quarantined rows."""
    s = _settings(data_dir, None)
    snap = storage.open_snapshot(s.data_dir, run_id)
    if snap is None:
        console.print("nothing published yet")
        raise typer.Exit(1)
    report = snap.read("quarantine", "data_quality_report")
    table = Table(title=f"data quality, run {snap.run_id}")
    for col in report.columns:
        table.add_column(str(col))
    for row in report.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console.print(table)
    q = snap.read("quarantine", "quarantine")
    console.print(f"{len(q):,} quarantine rows; by rule:")
    console.print(q.groupby(["table", "rule"]).size().rename("rows").reset_index().to_string(index=False))


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _check_keep(keep: int, option: str) -> None:
    if keep < 1:
        raise typer.BadParameter(f"must be at least 1, not {keep}: the run CURRENT points to is always kept",
                                 param_hint=option)


def _print_other_entries(listing) -> None:
    for entries, what in (
        (listing.in_progress, "being written, or left by a killed run (a retry of its id removes it); never pruned"),
        (listing.trash, "trash of an earlier prune or rerun; the next prune deletes it"),
        (listing.unknown, "not a published run; left alone"),
    ):
        for e in entries:
            console.print(f"  {e.name}  {_size(e.bytes)}  [dim]{what}[/]", highlight=False)


@runs_app.command("list")
def runs_list(data_dir: DataDir = None) -> None:
    """List the published runs, oldest first (publish order), and anything else under runs/."""
    from etl import runs

    s = _settings(data_dir, None)
    listing = runs.list_runs(s.data_dir)
    if listing.runs:
        table = Table(title=f"published runs under {storage.runs_dir(s.data_dir)}, oldest first")
        for col in ("run id", "published at", "as of", "size", ""):
            table.add_column(col, justify="right" if col == "size" else "left")
        for r in listing.runs:
            at = r.published_at.isoformat(timespec="seconds") if r.published_at else "?"
            table.add_row(r.run_id, at, str(r.as_of or ""), _size(r.bytes), "CURRENT" if r.run_id == listing.current else "")
        console.print(table)
        console.print(f"{len(listing.runs)} run(s), {_size(sum(r.bytes for r in listing.runs))}")
    if listing.in_progress or listing.trash or listing.unknown:
        console.print("also under runs/:")
        _print_other_entries(listing)
    if not listing.runs:
        console.print(f"nothing published yet under {s.data_dir}")
        raise typer.Exit(1)


def _print_prune(result) -> None:
    """What a prune removed (or would remove), what it kept and why, and the bytes freed."""
    verb = "would remove" if result.dry_run else "removed"
    gone = "remove" if result.dry_run else "removed"
    kept = {k.run.run_id: k.reason for k in result.kept}
    for r in result.listing.runs:
        if r.run_id in kept:
            console.print(f"  {'keep':<7} {r.run_id}  {_size(r.bytes)}  [dim]{kept[r.run_id]}[/]", highlight=False)
        else:
            console.print(f"  [bold]{gone:<7}[/] {r.run_id}  {_size(r.bytes)}", highlight=False)
    for e in result.trash:
        console.print(f"  [bold]{gone:<7}[/] {e.name}  {_size(e.bytes)}  [dim]left by an interrupted prune or rerun[/]",
                      highlight=False)
    if result.listing.in_progress or result.listing.unknown:
        console.print("left alone:")
        _print_other_entries(dataclasses.replace(result.listing, trash=[]))
    for path, error in result.failed:
        err_console.print(f"[bold red]error:[/] could not delete {path}: {error} (it is no longer a published run; "
                          "the next prune tries again)", highlight=False, soft_wrap=True)
    console.print(f"{verb} {len(result.removed)} run(s) of {len(result.listing.runs)} (keeping {len(result.kept)}) "
                  f"under {result.listing.data_dir}: {'would free' if result.dry_run else 'freed'} "
                  f"{result.bytes_freed:,} bytes ({_size(result.bytes_freed)})", highlight=False)


@runs_app.command("prune")
def runs_prune(
    keep: Annotated[int, typer.Option(help="How many of the most recent published runs to keep (at least 1; "
                                           "the run CURRENT points to is always kept)", show_default=False)],
    dry_run: Annotated[bool, typer.Option(help="Show what would be removed and the bytes freed; delete nothing")] = False,
    grace_minutes: Annotated[float, typer.Option(
        min=0, help="Also keep runs that stopped being current less than this long ago (a server may still serve them)")] = 15,
    data_dir: DataDir = None,
) -> None:
    """Delete published runs beyond the N most recent (publish order), and trash a prune left behind.

    Each run is first renamed out of runs/ (atomic) under the runs lock, then deleted."""
    from datetime import timedelta

    from etl import runs

    _check_keep(keep, "--keep")
    s = _settings(data_dir, None)
    try:
        result = runs.prune(s.data_dir, keep, dry_run=dry_run, grace=timedelta(minutes=grace_minutes))
    except NothingPublished as exc:
        console.print(str(exc))
        raise typer.Exit(1) from None
    _print_prune(result)
    if result.failed:
        raise typer.Exit(2)


@config_app.command("check")
def config_check(config_dir: ConfigDir = None) -> None:
    """Validate every config file; exit 2 naming the file and key on the first problem."""
    from etl.pipeline import check_config

    from etl.extract.config import load_salesforce_config

    s = _settings(None, config_dir)
    from rules import DEFAULT_RULES_DIR

    for name in check_config(s.config_dir):
        console.print(f"[green]ok[/] {DEFAULT_RULES_DIR if name == 'rules' else s.config_dir / name}")
    load_salesforce_config(s.config_dir / "salesforce_config.json")
    console.print(f"[green]ok[/] {s.config_dir / 'salesforce_config.json'}")
    from server.config import load_server_config

    load_server_config(s.config_dir)
    console.print(f"[green]ok[/] {s.config_dir / 'server.json'}")


# The extraction behind `c360 extract` and `pipeline run --source salesforce`; tests
# swap in one whose HTTP sessions reach the Salesforce emulator on 127.0.0.1.
EXTRACT = None


def _register_extract() -> None:
    global EXTRACT
    from etl.extract.command import extract_command

    import functools

    EXTRACT = extract_command

    @functools.wraps(extract_command)
    def extract(*args, **kwargs):
        return EXTRACT(*args, **kwargs)

    app.command("extract", help="Extract Salesforce objects into bronze (incremental; --full-refresh to ignore watermarks).")(extract)


_register_extract()


def _register_link() -> None:
    from etl.linking.cli import link

    app.command("link", help="Link regional accounts of one company from any folder of Account and Contact tables.")(link)


_register_link()


def _register_rules() -> None:
    from rules.cli import rules_app

    app.add_typer(rules_app, name="rules")


_register_rules()


def _register_server_admin() -> None:
    from server.cli import api_key_app, links_app

    app.add_typer(api_key_app, name="api-key")
    app.add_typer(links_app, name="links")


_register_server_admin()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8360,
    data_dir: DataDir = None,
    config_dir: ConfigDir = None,
) -> None:
    """Serve the published snapshot over GraphQL (GraphiQL at /graphql)."""
    import uvicorn

    from server.app import create_app
    from server.config import load_server_config
    from server.observability import configure_logging

    from etl.memory import use_system_allocator

    use_system_allocator()  # a snapshot's load-time temporaries go back to the system (1M accounts: 3.0 -> 2.8 GB)
    s = _settings(data_dir, config_dir)
    config = load_server_config(s.config_dir)
    configure_logging(config.json_logs)  # uvicorn's loggers too: it runs without a logging configuration of its own
    application = create_app(s.data_dir, s.config_dir, config=config)
    console.print(f"Customer 360 API: [bold]http://{host}:{port}/graphql[/] (GraphiQL in a browser)")
    # the API writes each request's access line itself (server.observability), with its request id
    uvicorn.run(application, host=host, port=port, log_config=None, log_level="info", access_log=False)


@app.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL")] = Path("schema.graphql"),
) -> None:
    """Write the GraphQL schema (SDL) exported from the code."""
    from server.schema import export_sdl

    storage.atomic_write_text(output, export_sdl())
    console.print(f"wrote {output}")


def main() -> None:
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except C360Error as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # usage errors arrive here with standalone_mode=False
        # Typer 0.29+ raises its own copy of click's exceptions, older ones click's: both have show().
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Exit" and isinstance(getattr(exc, "exit_code", None), int):
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
