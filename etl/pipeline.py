"""One pipeline run: bronze -> silver -> gold, published atomically.

This module is the only place that wires I/O to the pure layer functions
(`etl.silver.build_silver`, `etl.gold.compute_gold`, `etl.linking`); it
reads configuration first so that a bad config file stops the run before
anything is written.

Large books are processed in account-hash partitions: bronze is split once
into per-partition files (every record with its account, every version of a
record with the account of its latest version), then silver, gold and history
run as one task per partition (`etl.task`) on the chosen engine (`etl.engine`:
serially here, a process pool, or Dask) and the outputs are appended to the
run's tables in partition order, so the driver holds one partition at a time.
The rule facts that read an account's own records are computed in the
partition tasks too.  Linking, the master roll-ups and the segment-level rule
facts need every account at once and run afterwards on the few columns they
use; outcomes read the history of the few accounts that need it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl import clustered, location, storage
from etl.memory import release_memory
from etl.contracts import BRONZE_TABLES
from etl.engine import EngineSpec, open_engine
from etl.errors import DataError, EngineError
from etl.gold import GOLD_SCHEMAS, compute_gold, load_metrics_config, month_ends_before
from etl import linking
from etl.partition import (
    BRONZE_ACCOUNT_KEYS,
    BRONZE_CHILD_KEYS,
    BRONZE_REFERENCE_TABLES,
    partition_of,
    record_partitions,
    split_tables,
)
import rules
from etl.silver import load_mapping
from etl.task import (  # noqa: F401 - merge_history, validate_gold and the table names are part of this module's API
    HISTORY,
    METRICS,
    TIMELINE,
    APPEND_LAYOUT,
    PARTS_DIR,
    WORK_MARKER,
    PartitionTask,
    RunParams,
    load_part,
    merge_history,
    run_partition,
    run_partition_to_parts,
    validate_gold,
)

MAPPING_FILE = "bronze_to_silver_mapping.json"
METRICS_FILE = "silver_to_gold_metrics.json"
LINKING_FILE = "account_linking.json"
MANUAL_LINKS_FILE = "manual_account_linkages.json"
RULES = "rules"
OUTCOME_HISTORY_COLUMNS = ["account_id", "as_of", "health_score", "churn_risk"]

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
    # time inside the partition tasks by stage, summed over partitions (and so over workers)
    task_seconds: dict[str, float] = field(default_factory=dict)

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
                "engine": self.snapshot.manifest.get("engine"),
                "task_seconds": {k: round(v, 3) for k, v in self.task_seconds.items()},
                "tables": [vars(t) for t in self.tables],
            },
            indent=2,
        )


@dataclass(frozen=True)
class RunOptions:
    data_dir: Path | str  # a local path, or an fsspec URL (etl.location)
    config_dir: Path
    as_of: date
    run_id: str | None = None
    backfill_months: int = 0
    partitions: int = 0  # 0: one partition per `accounts_per_partition` accounts
    accounts_per_partition: int = 25_000
    rules_dir: Path = rules.DEFAULT_RULES_DIR
    engine: EngineSpec = EngineSpec()  # where the partitions run (etl.engine)


def check_config(config_dir: Path, rules_dir: Path = rules.DEFAULT_RULES_DIR) -> dict[str, object]:
    """Load and validate every config and rule file the pipeline uses (raises ConfigError)."""
    config_dir = Path(config_dir)
    return {
        RULES: rules.load_rules(rules_dir),
        MAPPING_FILE: load_mapping(config_dir / MAPPING_FILE),
        METRICS_FILE: load_metrics_config(config_dir / METRICS_FILE),
        LINKING_FILE: linking.load_linking_config(config_dir / LINKING_FILE),
        MANUAL_LINKS_FILE: linking.load_manual_linkages(config_dir / MANUAL_LINKS_FILE),
    }


def _previous_gold(previous: storage.Snapshot | None, table: str) -> pd.DataFrame | None:
    """A gold table of the snapshot published before this run, carried into it (master ids)."""
    if previous is None or table not in previous.tables("gold"):
        return None
    return previous.read("gold", table)


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
        .sort_values(["account_id", "event_date", "event_id"], kind="stable")
        .reset_index(drop=True),
    }


@contextmanager
def _stage(timings: dict[str, float], name: str, progress: Progress | None = None, done: float | None = None) -> Iterator[None]:
    """Time a stage; partitions add up into the same stage."""
    if progress and done is not None:
        progress(name, done)
    start = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def plan_partitions(data_dir: Path, opts: RunOptions) -> int:
    if opts.partitions:
        return opts.partitions
    accounts = storage.read_bronze_arrow(data_dir, "Account", columns=["Id"]).num_rows
    return max(1, math.ceil(accounts / opts.accounts_per_partition))


def _row_partitions(table: str, tbl: pa.Table, partitions: int, parents: dict[str, tuple[pd.Index, np.ndarray]]) -> np.ndarray:
    """The partition of every row of one bronze table."""
    if table in BRONZE_CHILD_KEYS:
        fk, parent = BRONZE_CHILD_KEYS[table]
        index, parent_parts = parents[parent]
        pos = index.get_indexer(tbl.column(fk).to_pandas())
        # a child whose parent is unknown goes where the empty id goes; silver quarantines it as an orphan
        orphan_part = partition_of(pd.Series([""]), partitions)[0]
        return np.where(pos >= 0, parent_parts[np.maximum(pos, 0)], orphan_part)
    id_col, account_col, version_col = BRONZE_ACCOUNT_KEYS[table]
    parts = record_partitions(
        tbl.column(id_col) if id_col else None,
        tbl.column(account_col),
        tbl.column(version_col) if version_col else None,
        partitions,
    )
    if id_col and any(parent == table for _, parent in BRONZE_CHILD_KEYS.values()):
        ids = tbl.column(id_col).to_pandas()
        first = ~ids.duplicated().to_numpy()  # every version of a record has the same partition
        parents[table] = (pd.Index(ids[first]), parts[first])
    return parts


# Rows of one table buffered across all partitions before they are written out as
# row groups: bounds the split's memory whatever the size of the table.
SPLIT_BUFFER_BYTES = 256 << 20


def _key_columns(table: str) -> list[str]:
    """The only columns the first pass of the split reads: what finds a row's account."""
    if table in BRONZE_CHILD_KEYS:
        return [BRONZE_CHILD_KEYS[table][0]]
    return list(dict.fromkeys(c for c in BRONZE_ACCOUNT_KEYS[table] if c is not None))


class _PartitionWriters:
    """One Parquet file per partition for one bronze table, fed slice by slice.

    Slices are buffered and flushed together once they pass `SPLIT_BUFFER_BYTES`,
    so row groups stay reasonably large while memory stays bounded.
    """

    def __init__(self, work_dir: location.Location, table: str, schema: pa.Schema, partitions: int):
        self.paths = [location.join(work_dir, f"p{p:05d}", f"{table}.parquet") for p in range(partitions)]
        self.writers: list[pq.ParquetWriter | None] = [None] * partitions
        self.schema = schema
        self.buffers: list[list[pa.Table]] = [[] for _ in range(partitions)]
        self.buffered = 0

    def add(self, p: int, chunk: pa.Table) -> None:
        self.buffers[p].append(chunk)
        self.buffered += chunk.nbytes
        if self.buffered >= SPLIT_BUFFER_BYTES:
            self.flush()

    def _writer(self, p: int) -> pq.ParquetWriter:
        if self.writers[p] is None:
            fs, where = location.fs_path(self.paths[p])
            if fs is None:
                self.paths[p].parent.mkdir(parents=True, exist_ok=True)
            self.writers[p] = pq.ParquetWriter(where, self.schema, compression="lz4", filesystem=fs)
        return self.writers[p]

    def flush(self) -> None:
        for p, chunks in enumerate(self.buffers):
            if chunks:
                self._writer(p).write_table(pa.concat_tables(chunks))
                chunks.clear()
        self.buffered = 0

    def close(self) -> None:
        self.flush()
        for p in range(len(self.paths)):
            self._writer(p).close()  # a partition without rows still gets its (empty) file
            if not location.is_remote(self.paths[p]):
                with open(self.paths[p], "rb") as fh:
                    os.fsync(fh.fileno())


def split_bronze(data_dir: location.Location, work_dir: location.Location, partitions: int) -> None:
    """Write every account-owned bronze table as one file per partition under ``work_dir``.

    Two streaming passes per table, so no bronze table is ever whole in memory:
    the first reads only the key columns (record id, account, version) and gives
    every row its partition; the second reads the table batch by batch and appends
    each batch's rows to their partition's file, keeping the bronze row order
    within a partition.  Reference tables are copied once.
    """
    parents: dict[str, tuple[pd.Index, np.ndarray]] = {}
    # parents before their children, so a line item can find its opportunity's account
    for table in sorted(BRONZE_TABLES, key=lambda t: t in BRONZE_CHILD_KEYS):
        if table in BRONZE_REFERENCE_TABLES:
            tbl = storage.read_bronze_arrow(data_dir, table)
            storage.write_parquet(tbl, location.join(work_dir, "reference", f"{table}.parquet"), compression="lz4")
            continue
        keys = storage.read_bronze_arrow(data_dir, table, columns=_key_columns(table))
        parts = _row_partitions(table, keys, partitions, parents)
        del keys
        out = _PartitionWriters(work_dir, table, storage.bronze_schema(table), partitions)
        offset = 0
        for batch in storage.iter_bronze_batches(data_dir, table):
            batch_parts = parts[offset : offset + batch.num_rows]
            offset += batch.num_rows
            # one stable sort by partition, then contiguous slices: cheaper than a filter per partition
            order = np.argsort(batch_parts, kind="stable")
            bounds = np.searchsorted(batch_parts[order], np.arange(partitions + 1))
            ordered = batch.take(pa.array(order))
            for p in range(partitions):
                if bounds[p + 1] > bounds[p]:
                    out.add(p, ordered.slice(bounds[p], bounds[p + 1] - bounds[p]))
            del ordered
        if offset != len(parts):
            raise DataError(f"bronze {table} changed while it was being split ({len(parts)} rows, then {offset})")
        out.close()
        del parts


STATE_DB = Path("state") / "c360.sqlite"


def _read_state(data_dir: Path, sql: str) -> pd.DataFrame | None:
    """A query over the API's SQLite state store (None before the API has made one).

    Read-only, so a running server is never blocked.  The store is the API's local
    SQLite file: a data directory on another filesystem has none.
    """
    if location.is_remote(data_dir):
        return None
    path = Path(data_dir) / STATE_DB
    if not path.exists():
        return None
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return pd.read_sql(sql, conn)


def user_status_changes(data_dir: Path) -> pd.DataFrame | None:
    """Alert and recommendation status changes made through the API; the view has
    exactly the columns the rules lifecycle takes."""
    changes = _read_state(data_dir, "SELECT * FROM lifecycle_status_changes")
    if changes is not None:
        changes["at"] = pd.to_datetime(changes["at"], utc=True)
    return changes


def api_link_decisions(data_dir: Path) -> list[tuple]:
    """Active must-link / must-not-link decisions made through the API (`linkAccounts`), oldest first."""
    rows = _read_state(
        data_dir,
        "SELECT account_a, account_b, decision, reason, author, at FROM link_decisions WHERE superseded_by IS NULL ORDER BY seq",
    )
    if rows is None:
        return []
    rows["at"] = pd.to_datetime(rows["at"]).dt.date
    return list(rows.itertuples(index=False, name=None))


def _concat_all(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    """The pieces as one frame, emptying the list so they are not held twice."""
    whole = pd.concat(pieces, ignore_index=True)
    pieces.clear()
    return whole


def _stage_of(layer: str, name: str) -> str:
    """The stage an appended table's write time counts towards (the serial loop's stage names)."""
    return "history" if name == HISTORY else "gold" if layer == "gold" else "silver"


def run_pipeline(opts: RunOptions, progress: Progress | None = None) -> RunResult:
    configs = check_config(opts.config_dir, opts.rules_dir)  # before anything is written
    opts = dataclasses.replace(opts, data_dir=location.as_location(opts.data_dir))
    if location.is_process_local(opts.data_dir) and not opts.engine.in_process:
        raise EngineError(f"{opts.data_dir} is visible to this process only: run it with the serial engine (--workers 1)")
    run_id = opts.run_id or storage.new_run_id()
    timings: dict[str, float] = {}
    task_seconds: dict[str, float] = {}  # partition tasks' own time, summed over workers

    present = storage.bronze_tables_present(opts.data_dir)
    if "Account" not in present:
        raise DataError(
            f"no bronze Account data under {storage.bronze_dir(opts.data_dir, 'Account')}; "
            "run `c360 generate` or `c360 extract` first"
        )
    # The snapshot this run follows, opened once: history, master ids and the rules
    # lifecycle all continue from the same one even if another run publishes meanwhile.
    previous = storage.open_snapshot(opts.data_dir)
    rules.check_lifecycle_order(previous, opts.as_of)
    partitions = plan_partitions(opts.data_dir, opts)
    dates = month_ends_before(opts.as_of, opts.backfill_months) + [opts.as_of]
    previous_history = (
        os.fspath(previous.table_path("gold", HISTORY)) if previous and HISTORY in previous.tables("gold") else None
    )
    run = RunParams(run_id, opts.as_of, tuple(dates), configs[MAPPING_FILE], configs[METRICS_FILE], previous_history,
                    configs[RULES].parameters)
    work_dir = location.join(storage.runs_dir(opts.data_dir), f"{storage.WORK_PREFIX}{run_id}")
    tasks = [PartitionTask(p, partitions, os.fspath(opts.data_dir), os.fspath(work_dir), run) for p in range(partitions)]
    reports: list[pd.DataFrame] = []
    link_accounts: list[pd.DataFrame] = []
    link_contacts: list[pd.DataFrame] = []
    rollup_metrics: list[pd.DataFrame] = []
    rule_parts: list[rules.PartitionFacts] = []
    products: pd.DataFrame | None = None
    bronze_rows: dict[str, int] = {}
    writer: storage.RunWriter | None = None
    try:
        # A Dask scheduler that cannot be reached stops the run before anything is written.
        # The engine is closed (workers stopped) before linking, and before a failed run is cleaned up.
        with open_engine(opts.engine) as engine:
            writer = storage.RunWriter(opts.data_dir, run_id)
            location.remove_tree(work_dir)
            location.makedirs(work_dir)
            location.write_text(location.join(work_dir, WORK_MARKER), run_id)  # tasks write part files only while it exists
            location.makedirs(location.join(work_dir, PARTS_DIR))  # tasks make their own folder in it, never its parents
            with _stage(timings, "bronze", progress, 0.0):
                if partitions > 1:
                    split_bronze(opts.data_dir, work_dir, partitions)

            # Outputs arrive in partition order; in-process ones as tables, others as part
            # files, read back one table at a time and deleted once appended.
            task_fn = run_partition if opts.engine.in_process else run_partition_to_parts
            loop_start = time.perf_counter()
            with closing(engine.map(task_fn, tasks)) as outputs:
                for out in outputs:
                    for stage, secs in out.seconds.items():
                        task_seconds[stage] = task_seconds.get(stage, 0.0) + secs
                    for layer, name, rows in out.tables:
                        start = time.perf_counter()
                        writer.append(layer, name, load_part(rows), pieces=partitions, **APPEND_LAYOUT.get(name, {}))
                        if isinstance(rows, str):
                            location.remove(location.as_location(rows))
                        if opts.engine.in_process:
                            timings[_stage_of(layer, name)] = timings.get(_stage_of(layer, name), 0.0) + time.perf_counter() - start
                    for t, n in out.bronze_rows.items():
                        bronze_rows[t] = bronze_rows.get(t, 0) + n
                    reports.append(out.report)
                    link_accounts.append(out.link_accounts)
                    link_contacts.append(out.link_contacts)
                    rollup_metrics.append(out.rollup_metrics)
                    rule_parts.append(out.rule_facts)
                    if out.products is not None:
                        products = out.products
                    del out
                    if progress:
                        progress(f"partitions ({len(reports)}/{partitions})", 0.05 + 0.8 * len(reports) / partitions)
            if opts.engine.in_process:  # the serial loop's stages, as before
                for stage, secs in task_seconds.items():
                    timings[stage] = timings.get(stage, 0.0) + secs
            else:  # wall time of the partitions running in parallel, appends included
                timings["partitions"] = time.perf_counter() - loop_start

        with _stage(timings, "rules", progress, 0.85):
            # Rules compare accounts with their segment, so they see the whole book: the
            # per-account facts from the partitions, segment facts over all the metrics.
            writer.finish_appends()
            # published in account order, so the API does not sort a million rows at each start
            metrics = writer.sort_written("gold", METRICS, ["account_id"]).to_pandas()
            ruleset = configs[RULES]
            facts = rules.book_facts(metrics, rules.PartitionFacts.concat(rule_parts), opts.as_of, ruleset.parameters, products)
            del rule_parts
            history = clustered.ClusteredTable(writer.path("gold", HISTORY), "account_id")
            fired = rules.run_rules_on_facts(
                facts,
                metrics,
                # outcomes need the history of the accounts that executed a recommendation only
                lambda ids: history.read_keys(ids, columns=OUTCOME_HISTORY_COLUMNS).to_pandas(),
                ruleset,
                previous,
                opts.as_of,
                run_id,
                status_changes=user_status_changes(opts.data_dir),
            )
            del facts, metrics
            for name, df in fired.items():
                writer.write("gold", name, rules.to_arrow(name, df), **clustered.SERVED_LAYOUT, sorted_by=rules.READ_ORDER[name])
            del fired, history
            # Linking is the other whole-book stage: what the rules held is returned first,
            # so the run's peak is the larger of the two stages, not their sum.
            release_memory()

        with _stage(timings, "linking", progress, 0.9):
            accounts, contacts = _concat_all(link_accounts), _concat_all(link_contacts)  # the pieces are freed
            links = linking.link_accounts(
                accounts,
                contacts,
                configs[LINKING_FILE],
                # the file's decisions, overridden by newer ones made through the API
                linking.merge_manual_decisions(configs[MANUAL_LINKS_FILE], api_link_decisions(opts.data_dir)),
                # master ids stay stable across runs: the previous mapping is an input
                previous_masters=_previous_gold(previous, linking.MASTER_ACCOUNTS),
            )
            del accounts, contacts
            rollups = linking.master_rollups(links.master_accounts, _concat_all(rollup_metrics))
            for name, df in (
                (linking.MASTER_ACCOUNTS, links.master_accounts),
                (linking.ACCOUNT_LINKS, links.links),
                (linking.REVIEW_QUEUE, links.review_queue),
                (linking.ROLLUPS, rollups),
            ):
                writer.write("gold", name, linking.to_arrow(name, df), **clustered.SERVED_LAYOUT, sorted_by=linking.READ_ORDER.get(name))

        with _stage(timings, "publish", progress, 0.95):
            quality = (
                pd.concat(reports, ignore_index=True)
                .groupby(["table", "check", "rule", "field"], sort=False, dropna=False)["count"]
                .sum()
                .reset_index()
            )
            writer.write("quarantine", "data_quality_report", quality)
            location.remove_tree(work_dir)
            snapshot = writer.publish(
                {
                    "as_of": opts.as_of.isoformat(),
                    "backfill_months": opts.backfill_months,
                    "partitions": partitions,
                    "bronze_rows": bronze_rows,
                    "gold_tables": sorted(GOLD_SCHEMAS) + sorted(linking.LINK_SCHEMAS) + sorted(rules.RULES_SCHEMAS),
                    "linking": dataclasses.asdict(links.stats),
                    "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
                    "engine": opts.engine.describe(),
                    "task_seconds": {k: round(v, 3) for k, v in task_seconds.items()},
                }
            )
    except BaseException:
        if writer is not None:
            writer.abandon()
        location.remove_tree(work_dir)
        raise

    counts = [TableCount("bronze", t, None, n) for t, n in bronze_rows.items()]
    for layer in ("silver", "quarantine", "gold"):
        for name, n in writer.row_counts[layer].items():
            counts.append(TableCount(layer, name, None, n))
    if progress:
        progress("done", 1.0)
    stages = [StageTiming(k, v) for k, v in timings.items()]
    return RunResult(run_id, opts.as_of, snapshot, stages, counts, quality, task_seconds)
