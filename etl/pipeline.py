"""One pipeline run: bronze -> silver -> gold, published atomically.

This module is the only place that wires I/O to the pure layer functions
(`etl.silver.build_silver`, `etl.gold.compute_gold`); it reads configuration
first so that a bad config file stops the run before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from etl import storage
from etl.contracts import BRONZE_TABLES, QUARANTINE_SCHEMA
from etl.errors import DataError
from etl.gold import (
    GOLD_SCHEMAS,
    compute_gold,
    compute_metric_history,
    load_metrics_config,
    month_ends_before,
)
from etl.gold import to_arrow as gold_to_arrow
from etl import linking
from etl.partition import split_tables
from etl.silver import build_silver, load_mapping
from etl.silver import to_arrow as silver_to_arrow

MAPPING_FILE = "bronze_to_silver_mapping.json"
METRICS_FILE = "silver_to_gold_metrics.json"
LINKING_FILE = "account_linking.json"
MANUAL_LINKS_FILE = "manual_account_linkages.json"

METRICS = "gold_customer_360_metrics"
TIMELINE = "gold_customer_timeline"
HISTORY = "gold_customer_metric_history"

Progress = Callable[[str, float], None]  # (stage label, fraction of the run done)


@dataclass
class StageTiming:
    stage: str
    seconds: float


@dataclass
class TableCount:
    layer: str
    table: str
    rows_in: int | None
    rows_out: int
    quarantined: int = 0


@dataclass
class RunResult:
    run_id: str
    as_of: date
    snapshot: storage.Snapshot
    stages: list[StageTiming] = field(default_factory=list)
    tables: list[TableCount] = field(default_factory=list)
    quality: pd.DataFrame | None = None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def to_json(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "as_of": self.as_of.isoformat(),
                "snapshot": str(self.snapshot.path),
                "stages": {s.stage: round(s.seconds, 3) for s in self.stages},
                "tables": [vars(t) for t in self.tables],
            },
            indent=2,
        )


@dataclass(frozen=True)
class RunOptions:
    data_dir: Path
    config_dir: Path
    as_of: date
    run_id: str | None = None
    backfill_months: int = 0
    partitions: int = 1


def check_config(config_dir: Path) -> dict[str, object]:
    """Load and validate every config file the pipeline uses (raises ConfigError)."""
    config_dir = Path(config_dir)
    return {
        MAPPING_FILE: load_mapping(config_dir / MAPPING_FILE),
        METRICS_FILE: load_metrics_config(config_dir / METRICS_FILE),
        LINKING_FILE: linking.load_linking_config(config_dir / LINKING_FILE),
        MANUAL_LINKS_FILE: linking.load_manual_linkages(config_dir / MANUAL_LINKS_FILE),
    }


def _previous_gold(data_dir: Path, table: str) -> pd.DataFrame | None:
    """A gold table of the published snapshot, carried into this run (history, master ids)."""
    snap = storage.open_snapshot(data_dir)
    if snap is None or table not in snap.tables("gold"):
        return None
    return snap.read("gold", table)


def merge_history(previous: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """History accumulates across runs; a date computed again replaces the earlier rows for it."""
    new = new.assign(as_of=pd.to_datetime(new["as_of"]).astype("datetime64[s]"))
    if previous is None or previous.empty:
        merged = new
    else:
        # Parquet gives back date objects; align the dtype so old and new rows sort together.
        previous = previous.assign(as_of=pd.to_datetime(previous["as_of"]).astype("datetime64[s]"))
        keep = ~previous["as_of"].isin(set(new["as_of"]))
        merged = pd.concat([previous[keep], new], ignore_index=True)
    return merged.sort_values(["account_id", "as_of"], kind="stable").reset_index(drop=True)


def compute_gold_partitioned(silver: dict[str, pd.DataFrame], params, as_of: date, run_id: str, partitions: int):
    """compute_gold over account-hash partitions, concatenated in a canonical order."""
    parts = [compute_gold(chunk, params, as_of, run_id=run_id) for chunk in split_tables(silver, partitions)]
    if len(parts) == 1:
        return parts[0]
    return {
        METRICS: pd.concat([p[METRICS] for p in parts], ignore_index=True)
        .sort_values("account_id", kind="stable")
        .reset_index(drop=True),
        TIMELINE: pd.concat([p[TIMELINE] for p in parts], ignore_index=True)
        .sort_values(["account_id", "event_date", "event_type", "event_id"], kind="stable")
        .reset_index(drop=True),
    }


def validate_gold(silver: dict[str, pd.DataFrame], gold: dict[str, pd.DataFrame]) -> None:
    """Checks that must hold before a snapshot may be published."""
    metrics = gold[METRICS]
    accounts = silver["accounts"]["account_id"]
    if len(metrics) != len(accounts) or metrics["account_id"].duplicated().any():
        raise DataError(
            f"{METRICS}: expected one row per silver account ({len(accounts)}), got {len(metrics)} rows"
        )
    for col in ("health_score", "churn_risk"):
        s = metrics[col].dropna()
        if len(s) and (s.min() < 0 or s.max() > 100):
            raise DataError(f"{METRICS}.{col}: values outside 0-100 ({s.min()}..{s.max()})")


@contextmanager
def _stage(result: list[StageTiming], name: str, progress: Progress | None, done: float) -> Iterator[None]:
    if progress:
        progress(name, done)
    start = time.perf_counter()
    yield
    result.append(StageTiming(name, time.perf_counter() - start))


def run_pipeline(opts: RunOptions, progress: Progress | None = None) -> RunResult:
    configs = check_config(opts.config_dir)  # before anything is written
    mapping, params = configs[MAPPING_FILE], configs[METRICS_FILE]
    run_id = opts.run_id or storage.new_run_id()
    timings: list[StageTiming] = []
    counts: list[TableCount] = []

    with _stage(timings, "bronze", progress, 0.0):
        present = storage.bronze_tables_present(opts.data_dir)
        if "Account" not in present:
            raise DataError(
                f"no bronze Account data under {storage.bronze_dir(opts.data_dir, 'Account')}; "
                "run `c360 generate` or `c360 extract` first"
            )
        bronze = {t: storage.read_bronze(opts.data_dir, t) for t in BRONZE_TABLES}

    writer = storage.RunWriter(opts.data_dir, run_id)
    try:
        with _stage(timings, "silver", progress, 0.2):
            result = build_silver(bronze, mapping, run_id=run_id)
            silver = result.tables
            for name, df in silver.items():
                writer.write("silver", name, silver_to_arrow(name, df))
            writer.write("quarantine", "quarantine", result.quarantine, QUARANTINE_SCHEMA)
            quality = result.report.to_frame()
            writer.write("quarantine", "data_quality_report", quality)
        bronze_rows = {t: len(df) for t, df in bronze.items()}
        del bronze

        with _stage(timings, "linking", progress, 0.35):
            links = linking.link_accounts(
                silver["accounts"],
                silver["contacts"],
                configs[LINKING_FILE],
                configs[MANUAL_LINKS_FILE],
                # master ids stay stable across runs: the previous mapping is an input
                previous_masters=_previous_gold(opts.data_dir, linking.MASTER_ACCOUNTS),
            )
            for name, df in (
                (linking.MASTER_ACCOUNTS, links.master_accounts),
                (linking.ACCOUNT_LINKS, links.links),
                (linking.REVIEW_QUEUE, links.review_queue),
            ):
                writer.write("gold", name, linking.to_arrow(name, df))

        with _stage(timings, "gold", progress, 0.5):
            gold = compute_gold_partitioned(silver, params, opts.as_of, run_id, opts.partitions)
            validate_gold(silver, gold)

        with _stage(timings, "history", progress, 0.7):
            dates = month_ends_before(opts.as_of, opts.backfill_months) + [opts.as_of]
            new_history = compute_metric_history(silver, params, dates, run_id=run_id)
            gold[HISTORY] = merge_history(_previous_gold(opts.data_dir, HISTORY), new_history)
            gold[linking.ROLLUPS] = linking.master_rollups(links.master_accounts, gold[METRICS])

        with _stage(timings, "publish", progress, 0.9):
            for name, df in gold.items():
                to_arrow = linking.to_arrow if name in linking.LINK_SCHEMAS else gold_to_arrow
                writer.write("gold", name, to_arrow(name, df))
            snapshot = writer.publish(
                {
                    "as_of": opts.as_of.isoformat(),
                    "backfill_months": opts.backfill_months,
                    "partitions": opts.partitions,
                    "bronze_rows": bronze_rows,
                    "gold_tables": sorted(GOLD_SCHEMAS) + sorted(linking.LINK_SCHEMAS),
                    "linking": dataclasses.asdict(links.stats),
                }
            )
    except BaseException:
        writer.abandon()
        raise

    for t, n in bronze_rows.items():
        counts.append(TableCount("bronze", t, None, n))
    for layer in ("silver", "quarantine", "gold"):
        for name, n in writer.row_counts[layer].items():
            counts.append(TableCount(layer, name, None, n))
    if progress:
        progress("done", 1.0)
    return RunResult(run_id, opts.as_of, snapshot, timings, counts, quality)
