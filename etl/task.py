"""One partition of a run: its bronze records in; its silver, quarantine, gold
and history rows out.

`run_partition` is the unit of work every engine runs (`etl.engine`): in the
pipeline's own process, in a pool of processes or on a Dask worker.  It reads
only its own partition of bronze (and the previous snapshot's history rows of
its accounts) and calls the pure layer functions.  `run_partition_to_parts`
is the same work for engines in other processes: the tables go to part files
under the run's work directory and only their paths and a few small frames
travel back, so the driver can stream the parts into the run's tables in
partition order without ever holding more than one partition.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import rules
from etl import clustered, location, storage
from etl.contracts import BRONZE_TABLES
from etl.errors import DataError
from etl.gold import compute_gold, compute_metric_history
from etl.gold import to_arrow as gold_to_arrow
from etl.partition import BRONZE_REFERENCE_TABLES, REFERENCE_TABLES
from etl.silver import build_silver, quarantine_to_arrow
from etl.silver import to_arrow as silver_to_arrow

METRICS = "gold_customer_360_metrics"
TIMELINE = "gold_customer_timeline"
HISTORY = "gold_customer_metric_history"

# The few columns linking and the master roll-ups need from every partition.
LINK_ACCOUNT_COLUMNS = ["account_id", "account_name", "parent_id", "phone", "website"]
LINK_CONTACT_COLUMNS = ["contact_id", "account_id", "email", "phone"]
ROLLUP_METRIC_COLUMNS = ["account_id", "arr_usd", "mrr_usd", "health_score", "churn_level", "next_contract_end_date"]

PARTS_DIR = "parts"  # under the run's work directory: one folder of part files per partition
WORK_MARKER = "RUNNING"  # in the run's work directory while the driver still wants part files


@dataclass(frozen=True)
class RunParams:
    """What every partition of one run shares (validated config, dates, where the previous history is)."""

    run_id: str
    as_of: date
    history_dates: tuple[date, ...]
    mapping: object  # etl.silver.MappingConfig
    params: object  # etl.gold.MetricsConfig
    previous_history: str | None = None  # the previous snapshot's history table
    rule_parameters: object = None  # rules.Parameters of the rule set


@dataclass(frozen=True)
class PartitionTask:
    p: int
    partitions: int
    data_dir: str  # read directly when the run is one partition (a path or an fsspec URL)
    work_dir: str  # the split bronze, and where part files go (same)
    run: RunParams

    @property
    def first(self) -> bool:
        """The first partition also carries the reference tables, which every partition has whole."""
        return self.p == 0

    @property
    def parts_dir(self) -> location.Location:
        return location.join(location.as_location(self.work_dir), PARTS_DIR, f"p{self.p:05d}")


@dataclass
class PartitionOutput:
    p: int
    # (layer, name, rows) in the order the driver appends them; rows is an Arrow
    # table, or the path of the part file holding it (`run_partition_to_parts`)
    tables: list[tuple[str, str, pa.Table | str]]
    report: pd.DataFrame  # data-quality counts of this partition
    link_accounts: pd.DataFrame
    link_contacts: pd.DataFrame
    rollup_metrics: pd.DataFrame
    bronze_rows: dict[str, int]  # reference tables counted by the first partition only
    rule_facts: rules.PartitionFacts  # the per-account rule facts of this partition's accounts
    products: pd.DataFrame | None  # silver products (a reference table): from the first partition only
    seconds: dict[str, float] = field(default_factory=dict)


def _read_parquet(loc: location.Location, **kwargs) -> pa.Table:
    fs, where = location.fs_path(loc)
    return pq.read_table(where, filesystem=fs, **kwargs)


def read_partition(work_dir: location.Location, p: int) -> dict[str, pd.DataFrame]:
    """One partition of the split bronze (`etl.pipeline.split_bronze`), reference tables whole."""
    out = {}
    for table in BRONZE_TABLES:
        sub = "reference" if table in BRONZE_REFERENCE_TABLES else f"p{p:05d}"
        out[table] = _read_parquet(location.join(work_dir, sub, f"{table}.parquet")).to_pandas()
    return out


# The timeline and the history are read account by account (the API, the next run's
# history): each partition's rows, already sorted by account, go in small row groups,
# compressed for fast reading rather than for size, with the index of account ranges
# and a served copy (etl.clustered.SERVED_LAYOUT), LZ4 (uncompressed, the timeline's would be 13 GB),
# only for a table of more than IN_MEMORY_ROWS rows: the API holds a smaller one in memory
# and never reads its copy (storage.RunWriter.append; the run passes its partitions as `pieces`).
CLUSTERED_LAYOUT = {**clustered.SERVED_LAYOUT, "served_copy": "lz4", "served_copy_above": clustered.IN_MEMORY_ROWS,
                    "cluster_key": "account_id"}
APPEND_LAYOUT: dict[str, dict] = {TIMELINE: CLUSTERED_LAYOUT, HISTORY: CLUSTERED_LAYOUT}
# Within an account, the order the API shows the rows in; recorded in each piece
# (etl.clustered.sort_for_reading), so the API reads an account's rows without sorting them.
READ_ORDER: dict[str, list[str]] = {TIMELINE: ["account_id", "event_date", "event_id"], HISTORY: ["account_id", "as_of"]}


def _clustered_history(path: str) -> clustered.ClusteredTable | None:
    """The previous history opened once per process (every partition task of a run reads it).

    Cached by the file's identity, not its path: a rerun under the same run id
    replaces the file at the same path, and the old mapping must not be served.
    """
    st = os.stat(path)
    return _open_history(path, st.st_ino, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=2)
def _open_history(path: str, inode: int, mtime_ns: int, size: int) -> clustered.ClusteredTable | None:
    return clustered.ClusteredTable.open(Path(path), "account_id")


def previous_history_for(path: str | None, account_ids: pd.Series) -> pd.DataFrame | None:
    """The previous snapshot's history rows of these accounts (one partition's).

    A history published clustered by account is read row group by row group
    through its index; another (older, or on a remote filesystem) is filtered
    while it is read.  Either way a worker never holds the whole history.
    """
    if path is None:
        return None
    ids = account_ids.astype(str)
    table = None if location.is_remote(location.as_location(path)) else _clustered_history(path)
    if table is not None:
        return table.read_keys(ids.tolist()).to_pandas()
    value_set = pa.array(ids.tolist(), pa.string())
    return _read_parquet(location.as_location(path), filters=pc.field("account_id").isin(value_set)).to_pandas()


def merge_history(previous: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """History accumulates across runs; a date computed again replaces the earlier rows for it.

    ``previous`` holds the earlier rows of the same accounts as ``new``.
    """
    new = new.assign(as_of=pd.to_datetime(new["as_of"]).astype("datetime64[s]"))
    if previous is None or previous.empty:
        merged = new
    else:
        # Parquet gives back date objects; align the dtype so old and new rows sort together.
        previous = previous.assign(as_of=pd.to_datetime(previous["as_of"]).astype("datetime64[s]"))
        keep = ~previous["as_of"].isin(set(new["as_of"]))
        merged = pd.concat([previous[keep], new], ignore_index=True)
    return merged.sort_values(["account_id", "as_of"], kind="stable").reset_index(drop=True)


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


def run_partition(task: PartitionTask) -> PartitionOutput:
    """Silver, quarantine, gold and history of one partition, as Arrow tables in memory."""
    run = task.run
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - clock
        clock = now

    if task.partitions > 1:
        bronze = read_partition(location.as_location(task.work_dir), task.p)
    else:
        bronze = {t: storage.read_bronze(location.as_location(task.data_dir), t) for t in BRONZE_TABLES}
    bronze_rows = {t: len(df) for t, df in bronze.items() if task.first or t not in BRONZE_REFERENCE_TABLES}
    lap("bronze")

    result = build_silver(bronze, run.mapping, run_id=run.run_id)
    del bronze
    silver = result.tables
    tables: list[tuple[str, str, pa.Table | str]] = [
        ("silver", name, silver_to_arrow(name, df))
        for name, df in silver.items()
        if task.first or name not in REFERENCE_TABLES  # reference tables are whole in every partition
    ]
    quarantine, report = result.quarantine, result.report.to_frame()
    if not task.first:
        quarantine = quarantine[~quarantine["table"].isin(BRONZE_REFERENCE_TABLES)]
        report = report[~report["table"].isin(REFERENCE_TABLES | BRONZE_REFERENCE_TABLES)]
    tables.append(("quarantine", "quarantine", quarantine_to_arrow(quarantine)))
    link_accounts = silver["accounts"][LINK_ACCOUNT_COLUMNS]
    link_contacts = silver["contacts"][LINK_CONTACT_COLUMNS]
    lap("silver")

    gold = compute_gold(silver, run.params, run.as_of, run_id=run.run_id)
    validate_gold(silver, gold)
    tables += [("gold", METRICS, gold_to_arrow(METRICS, gold[METRICS])),
               # built in this order: sorting checks it and records it
               ("gold", TIMELINE, clustered.sort_for_reading(gold_to_arrow(TIMELINE, gold[TIMELINE]), READ_ORDER[TIMELINE]))]
    rollup_metrics = gold[METRICS][ROLLUP_METRIC_COLUMNS]
    lap("gold")

    # what reads an account's own records, while they are in memory; segments come later
    rule_facts = rules.partition_facts(silver, gold[METRICS], run.as_of, run.rule_parameters)
    products = silver["products"] if task.first else None
    del gold
    lap("rules")

    new_history = compute_metric_history(silver, run.params, list(run.history_dates), run_id=run.run_id)
    earlier = previous_history_for(run.previous_history, silver["accounts"]["account_id"])
    history = gold_to_arrow(HISTORY, merge_history(earlier, new_history))  # merged in this order
    tables.append(("gold", HISTORY, clustered.sort_for_reading(history, READ_ORDER[HISTORY])))
    lap("history")
    return PartitionOutput(task.p, tables, report, link_accounts, link_contacts, rollup_metrics, bronze_rows,
                           rule_facts, products, seconds)


def run_partition_to_parts(task: PartitionTask) -> PartitionOutput:
    """`run_partition`, its tables written as part files under the run's work directory.

    Part files are fast to write and to read back (Arrow IPC, LZ4) and deleted
    once the driver has appended them.  If the driver has already given up on
    the run (its work directory is gone), nothing is written.
    """
    out = run_partition(task)
    start = time.perf_counter()
    abandoned = DataError(f"partition {task.p}: the run's work directory {task.work_dir} is gone; the run was abandoned")
    if not location.exists(location.join(location.as_location(task.work_dir), WORK_MARKER)):
        raise abandoned
    local = isinstance(task.parts_dir, Path)
    if local:
        # Never create the work directory: the driver made <work>/parts, and a task still running after a
        # failed run was cleaned up (Dask cannot stop it) must not bring the directory back.
        try:
            task.parts_dir.mkdir(exist_ok=True)
        except FileNotFoundError:
            raise abandoned from None
    parts: list[tuple[str, str, pa.Table | str]] = []
    for layer, name, table in out.tables:
        path = location.join(task.parts_dir, f"{layer}.{name}.arrow")
        try:
            storage.write_ipc(table, path, make_parents=not local)
        except FileNotFoundError:
            raise abandoned from None
        parts.append((layer, name, os.fspath(path)))
    out.seconds["parts"] = time.perf_counter() - start
    return replace(out, tables=parts)


def load_part(rows: pa.Table | str) -> pa.Table:
    """The rows of one output table: as returned, or read back from its part file."""
    return rows if isinstance(rows, pa.Table) else storage.read_ipc(location.as_location(rows))
