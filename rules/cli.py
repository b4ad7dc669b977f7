"""`c360 rules ...`: dry-run rule changes and report what the rules did.

Register in etl/cli.py with ``app.add_typer(rules_app, name="rules")`` (or
register the three functions one by one).  Nothing here writes to the data
directory: `rules_test` evaluates a rule file against a published snapshot
and prints what would fire; `rules_report` reads the published alert and
recommendation tables.  Rule file problems raise ConfigError, which the c360
entry point prints as one line (file, rule id, problem) with exit status 2.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from etl import storage
from etl.errors import DataError
from etl.cli_options import DataDir
from etl.settings import Settings
from rules.evaluate import evaluate_batch
from rules.facts import SILVER_COLUMNS, build_rule_facts
from rules.model import DEFAULT_RULES_DIR, RuleSet, load_rules
from rules.outcomes import rule_report
from rules.run import ALERTS, RECOMMENDATIONS

METRICS = "gold_customer_360_metrics"

rules_app = typer.Typer(no_args_is_help=True, help="Validate, dry-run and report on alert and recommendation rules.")


def _console() -> Console:
    """A console made per command, so its width follows the terminal (or COLUMNS) of that call."""
    return Console()


RulesPath = Annotated[Path, typer.Argument(help="A rule file (.yaml/.yml/.json) or a directory of them")]


def _data_dir(data_dir: Path | None) -> Path:
    return Settings.from_options(data_dir).data_dir


def _parse_date(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form", param_hint=option) from None


def find_snapshot(data_dir: Path, as_of: date | None) -> storage.Snapshot:
    """The published snapshot, or the latest complete run computed as of `as_of`."""
    if as_of is None:
        snap = storage.open_snapshot(data_dir)
        if snap is None:
            raise DataError(f"nothing published under {data_dir}; run `c360 pipeline run` first")
        return snap
    runs = storage.runs_dir(data_dir)
    found: list[tuple[str, str]] = []
    dates: set[str] = set()
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        manifest = run / storage.MANIFEST_FILE
        if run.name.startswith(".") or not manifest.exists():
            continue
        body = json.loads(manifest.read_text(encoding="utf-8"))
        dates.add(str(body.get("as_of")))
        if body.get("as_of") == as_of.isoformat():
            found.append((str(body.get("published_at", "")), run.name))
    if not found:
        have = ", ".join(sorted(dates)) or "none"
        raise DataError(f"no run under {runs} was computed as of {as_of}; runs exist as of: {have}")
    return storage.open_snapshot(data_dir, max(found)[1])  # type: ignore[return-value]


def _all_enabled(ruleset: RuleSet) -> RuleSet:
    """The same rules with disabled ones switched on, so a dry run shows what they would do."""
    return dataclasses.replace(ruleset, rules=tuple(dataclasses.replace(r, enabled=True) for r in ruleset.rules), _cache={})


def _evaluate(snapshot: storage.Snapshot, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    silver = {t: snapshot.read("silver", t) for t in SILVER_COLUMNS if t in snapshot.tables("silver")}
    facts = build_rule_facts(silver, snapshot.read("gold", METRICS), as_of, ruleset.parameters)
    return evaluate_batch(facts, _all_enabled(ruleset))


def dry_run(rules_path: Path, snapshot: storage.Snapshot, baseline: Path | None) -> tuple[RuleSet, pd.DataFrame, pd.DataFrame | None]:
    """Evaluate a rule file (and optionally a baseline) against a snapshot; nothing is written."""
    ruleset = load_rules(rules_path)
    as_of = date.fromisoformat(str(snapshot.manifest["as_of"]))
    firings = _evaluate(snapshot, ruleset, as_of)
    base = _evaluate(snapshot, load_rules(baseline), as_of) if baseline is not None else None
    return ruleset, firings, base


@rules_app.command("check")
def rules_check(path: RulesPath = DEFAULT_RULES_DIR) -> None:
    """Validate rule files; exit 2 naming the file, rule and problem on the first error."""
    ruleset = load_rules(path)
    console = _console()
    for source in ruleset.sources:
        console.print(f"[green]ok[/] {source.path} (version {source.version})")
    console.print(f"{len(ruleset.rules)} rules, {len(ruleset.active)} enabled")


@rules_app.command("test")
def rules_test(
    file: RulesPath,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate the run computed as of YYYY-MM-DD [default: the published one]", show_default=False)
    ] = None,
    data_dir: DataDir = None,
    sample: Annotated[int, typer.Option(min=0, help="Firings to show per rule, with their explanations")] = 3,
    baseline: Annotated[
        Path | None, typer.Option(help="Rules to compare counts with [default: the shipped rules/definitions]", show_default=False)
    ] = None,
    compare: Annotated[bool, typer.Option(help="Show the baseline's counts next to the file's")] = True,
) -> None:
    """Dry-run FILE against a gold snapshot: per rule, how many accounts it would fire for, with samples."""
    console = _console()
    snapshot = find_snapshot(_data_dir(data_dir), _parse_date(as_of, "--as-of") if as_of else None)
    ruleset, firings, base = dry_run(file, snapshot, (baseline or DEFAULT_RULES_DIR) if compare else None)
    n_accounts = int(snapshot.manifest.get("row_counts", {}).get("gold", {}).get(METRICS, 0))
    table = Table(title=f"{file} ({ruleset.version}) on run {snapshot.run_id} as of {snapshot.manifest['as_of']}, {n_accounts:,} accounts")
    for col in ("rule", "kind", "enabled", "fires for", "HIGH", "MEDIUM", "LOW", *(["baseline"] if base is not None else [])):
        table.add_column(col, justify="left" if col in ("rule", "kind", "enabled") else "right")
    counts = firings.groupby(["rule_id", "severity"]).size() if len(firings) else pd.Series(dtype="int64")
    base_counts = base.groupby("rule_id").size() if base is not None and len(base) else pd.Series(dtype="int64")
    for rule in ruleset.rules:
        per = {sev: int(counts.get((rule.id, sev), 0)) for sev in ("HIGH", "MEDIUM", "LOW")}
        row = [rule.id, rule.kind, "yes" if rule.enabled else "[yellow]no[/]", f"{sum(per.values()):,}", *(f"{v:,}" for v in per.values())]
        if base is not None:
            row.append(f"{int(base_counts.get(rule.id, 0)):,}")
        table.add_row(*row)
    console.print(table)
    for rule in ruleset.rules:
        shown = firings[firings["rule_id"] == rule.id].head(sample)
        if len(shown) == 0:
            continue
        console.print(f"\n[bold]{rule.id}[/] {rule.name}")
        for row in shown.itertuples(index=False):
            console.print(f"  {row.account_id} [{row.severity}] {row.message}", highlight=False, markup=False)
            console.print(f"    why: {row.explanation}", highlight=False, markup=False)
            if row.impact_usd == row.impact_usd:  # not NaN
                console.print(f"    impact: {row.impact_usd:,.0f} USD", highlight=False, markup=False)


@rules_app.command("report")
def rules_report(
    run_id: Annotated[str | None, typer.Option(help="A run id (default: the published one)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Per rule: how often it fired, how often it was executed, and what followed (churn, health)."""
    snapshot = storage.open_snapshot(_data_dir(data_dir), run_id)
    if snapshot is None:
        raise DataError(f"nothing published under {_data_dir(data_dir)}; run `c360 pipeline run` first")
    missing = [t for t in (ALERTS, RECOMMENDATIONS) if t not in snapshot.tables("gold")]
    if missing:
        raise DataError(f"run {snapshot.run_id} has no {', '.join(missing)}: the rules stage did not run in it")
    report = rule_report(snapshot.read("gold", ALERTS), snapshot.read("gold", RECOMMENDATIONS))
    console = _console()
    table = Table(title=f"rules in run {snapshot.run_id} as of {snapshot.manifest.get('as_of')}")
    headers = {
        "rule_id": "rule", "kind": "kind", "fired": "fired", "open": "open", "acknowledged": "ack", "snoozed": "snoozed",
        "resolved": "resolved", "executed": "executed", "dismissed": "dismissed", "expired": "expired",
        "executed_share": "executed %", "churn_risk_change_30d": "churn Δ30d", "health_score_change_30d": "health Δ30d",
        "churn_risk_change_90d": "churn Δ90d", "health_score_change_90d": "health Δ90d",
    }
    for key, label in headers.items():
        table.add_column(label, justify="left" if key in ("rule_id", "kind") else "right")
    for row in report.to_dict("records"):
        cells = []
        for key in headers:
            value = row[key]
            if key in ("rule_id", "kind"):
                cells.append(str(value))
            elif key == "executed_share":
                cells.append("" if pd.isna(value) else f"{value:.0%}")
            elif key.endswith("d") and "change" in key:
                cells.append("" if pd.isna(value) else f"{value:+.1f}")
            else:
                cells.append(f"{int(value):,}")
        table.add_row(*cells)
    console.print(table)
    console.print("Δ: mean change after executed recommendations whose outcome is known (negative churn Δ = risk went down).")
