"""bronze -> silver: run each table's mapping steps and collect quarantine and
report.  Pure: takes frames and a validated mapping, returns frames; the
pipeline does the reading and writing.

Per table: gather the bronze source(s) into one working frame (contract
columns plus `_table` / `_record_id` / `_batch_id`), apply the steps in
order, turn every problem a step reports into quarantine rows, and leave
rejected rows out of every later step.  Tables are built in lookup order, so
a child sees its parent's *clean* table and a row whose parent was rejected
becomes an orphan.  Finally every table is coerced to the contract types and
put in primary-key order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.contracts import (
    BRONZE_METADATA,
    BRONZE_TABLES,
    QUARANTINE_SCHEMA,
    SILVER_TABLES,
)
from etl.silver import currency
from etl.silver.mapping import (
    ALWAYS_KEPT,
    FX_TABLE,
    RECORD_ID_COL,
    TABLE_COL,
    MappingConfig,
    SourceSpec,
    Step,
    live_columns,
    record_id_parts,
    table_order,
    validate_mapping,
)
from etl.silver.quality import (
    DataQualityReport,
    TableQuality,
    assemble_quarantine,
    quarantine_rows,
    record_ids,
)
from etl.silver.transforms import TEXT, Context, apply_step, as_text, conform, key_order


@dataclass
class SilverResult:
    tables: dict[str, pd.DataFrame]  # SILVER_TABLES name -> frame with exactly its columns
    quarantine: pd.DataFrame  # QUARANTINE_SCHEMA columns
    report: DataQualityReport


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """A silver frame as an Arrow table in the contract schema (what the pipeline writes)."""
    schema = SILVER_TABLES[name]
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)


def quarantine_to_arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df[QUARANTINE_SCHEMA.names], schema=QUARANTINE_SCHEMA, preserve_index=False)


# -------------------------------------------------------------------------- gather


def _null_column(dtype: pa.DataType, n: int) -> pd.Series:
    if pa.types.is_boolean(dtype):
        return pd.Series(pd.array([None] * n, dtype="boolean"))
    if pa.types.is_floating(dtype):
        return pd.Series(np.full(n, np.nan))
    return pd.Series(np.full(n, np.nan), dtype=TEXT)


def _bronze_frame(bronze: Mapping[str, pd.DataFrame], table: str) -> pd.DataFrame:
    """The bronze frame restricted to contract + metadata columns, missing ones null."""
    fields = list(BRONZE_TABLES[table]) + list(BRONZE_METADATA)
    df = bronze.get(table)
    if df is None:
        df = pd.DataFrame(index=pd.RangeIndex(0))
    df = df.reset_index(drop=True)
    present = [f.name for f in fields if f.name in df.columns]
    out = df[present]
    missing = {f.name: _null_column(f.type, len(df)) for f in fields if f.name not in df.columns}
    return out.assign(**missing)[[f.name for f in fields]] if missing else out


def gather(bronze: Mapping[str, pd.DataFrame], sources: Sequence[SourceSpec], record_id: Sequence[str]) -> pd.DataFrame:
    """One working frame from a table's bronze source(s), tagged with table and record id."""
    frames = [_bronze_frame(bronze, s.table) for s in sources]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    sizes = [len(f) for f in frames]
    which = np.repeat(np.arange(len(sources)), sizes)
    tables = pd.Categorical.from_codes(which, categories=[s.table for s in sources])
    extra: dict[str, object] = {TABLE_COL: tables}
    for hidden, col in zip(record_id_parts(len(record_id)), record_id, strict=True):
        extra[hidden] = as_text(frame[col])  # raw id text, kept as read for quarantine
    for col in sorted({c for s in sources for c in s.constants}):
        values = np.array([s.constants.get(col) for s in sources], dtype=object)[which]
        extra[col] = pd.Series(values, index=frame.index).infer_objects()
    return frame.assign(**extra)


# --------------------------------------------------------------------------- steps


@dataclass
class TableRun:
    frame: pd.DataFrame  # working frame after the steps (hidden columns still on)
    quarantine: list[pd.DataFrame]
    rejected_ids: pd.Index  # record ids rejected by any step
    deleted_ids: pd.Index  # record ids whose latest version is soft-deleted


def run_steps(frame: pd.DataFrame, steps: Sequence[Step], ctx: Context, quality: TableQuality, keep: Sequence[str]) -> TableRun:
    """Apply steps in order; a row rejected by one step is ignored by every later one.

    Rows are not removed one step at a time: a mask marks the live ones and
    the frame is compacted only before a dedupe (which must not see rejected
    rows) and at the end, because every filter copies every column.  Before
    each step the frame is also cut down to the columns that step or a later
    one needs (`keep` are the ones wanted at the end).
    """
    origin = {c: c for c in frame.columns}  # current column -> the bronze field it came from
    parts: list[pd.DataFrame] = []
    rejected: list[pd.Series] = []
    deleted: list[pd.Series] = []
    hidden = [c for c in frame.columns if c in ALWAYS_KEPT or c.startswith(RECORD_ID_COL)]
    live = live_columns(list(steps), set(keep) | set(hidden))
    alive = np.ones(len(frame), dtype=bool)
    for i, step in enumerate(steps):
        needed = [c for c in frame.columns if c in live[i]]
        if len(needed) < len(frame.columns):
            frame = frame[needed]
        if step.type == "dedupe" and not alive.all():
            frame, alive = frame[alive], np.ones(int(alive.sum()), dtype=bool)
        res = apply_step(frame, step, ctx)
        frame = res.frame
        _follow_columns(origin, step)
        if res.dropped is not None:
            if step.type == "dedupe":  # dedupe may reorder rows; it only ever sees live ones
                alive = np.ones(len(frame), dtype=bool)
            gone = res.dropped & alive
            setattr(quality, res.drop_check, getattr(quality, res.drop_check) + int(gone.sum()))
            if step.type == "drop_deleted" and gone.any():
                deleted.append(record_ids(frame[gone]))
            alive &= ~res.dropped
        for (check, rule, fld), rows in res.counts.items():
            quality.add(check, rule, origin.get(fld, fld), int((rows & alive).sum()))
        reject = np.zeros(len(frame), dtype=bool)
        for issue in res.issues:
            issue = replace(issue, mask=issue.mask & alive)
            if not issue.count:
                continue
            label = origin.get(issue.field, issue.field)
            parts.append(quarantine_rows(frame, issue, label))
            if issue.rejects_row:
                reject |= issue.mask
                quality.add("quarantined", issue.rule, label, issue.count)
            else:
                quality.add("field_nulled", issue.rule, label, issue.count)
        if reject.any():
            rejected.append(record_ids(frame[reject]))
            quality.rows_quarantined += int(reject.sum())
            alive &= ~reject
    if not alive.all():
        frame = frame[alive]
    return TableRun(frame, parts, _ids(rejected), _ids(deleted))


def _ids(parts: list[pd.Series]) -> pd.Index:
    return pd.Index(pd.concat(parts).dropna().unique() if parts else [], dtype=TEXT)


def _follow_columns(origin: dict[str, str], step: object) -> None:
    renames = step.renames()  # type: ignore[attr-defined]
    if renames:
        for old, new in renames.items():
            origin[new] = origin.pop(old, old)
        return
    for col in step.writes():  # type: ignore[attr-defined]
        origin.setdefault(col, col)  # a new column is named as itself in quarantine and report


def finish(name: str, run: TableRun, quality: TableQuality, primary_key: Sequence[str]) -> pd.DataFrame:
    """Contract columns and types, sorted by the primary key; type misfits become nulled fields."""
    schema = SILVER_TABLES[name]
    res = conform(run.frame, schema)
    for issue in res.issues:
        run.quarantine.append(quarantine_rows(res.frame, issue, issue.field))
        quality.add("field_nulled", issue.rule, issue.field, issue.count)
    table = res.frame[schema.names]
    order = sort_order(table, list(primary_key))
    if order is not None:
        table = table.take(order)
    return table.reset_index(drop=True)


def is_sorted(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether rows are already in (key1, key2, ...) order: adjacent comparisons, no sort."""
    n = len(frame)
    if n < 2:
        return True
    undecided = np.ones(n - 1, dtype=bool)  # pairs equal on every key so far
    for key in keys:
        col = frame[key]
        if col.isna().any():
            return False  # let the sort place the nulls
        values = pa.array(col)
        prev, nxt = values[:-1], values[1:]
        less = np.asarray(pc.less(prev, nxt).to_numpy(zero_copy_only=False), dtype=bool)
        equal = np.asarray(pc.equal(prev, nxt).to_numpy(zero_copy_only=False), dtype=bool)
        if (undecided & ~less & ~equal).any():
            return False
        undecided &= equal
    return True


def sort_order(frame: pd.DataFrame, keys: list[str]) -> np.ndarray | None:
    """Positions that sort the frame by `keys` (nulls last), or None if it is already sorted."""
    if is_sorted(frame, keys):
        return None
    return key_order(frame, keys)[0]


# --------------------------------------------------------------------------- build

# What build_fx_rates reads from the cleaned org rate tables.
FX_INPUT_COLUMNS = {
    "CurrencyType": ["IsoCode", "ConversionRate", "IsCorporate"],
    "DatedConversionRate": ["IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
}


def _fx_rates(bronze: Mapping[str, pd.DataFrame], mapping: MappingConfig, ctx: Context, report: DataQualityReport, parts: list[pd.DataFrame]) -> pd.DataFrame:
    quality = TableQuality(FX_TABLE, ("CurrencyType", "DatedConversionRate"))
    report.tables[FX_TABLE] = quality
    runs = {}
    for table, steps in (("CurrencyType", currency.CURRENCY_TYPE_STEPS), ("DatedConversionRate", currency.DATED_RATE_STEPS)):
        frame = gather(bronze, [SourceSpec(table=table)], ["Id"])
        quality.rows_in += len(frame)
        runs[table] = run_steps(frame, steps, ctx, quality, FX_INPUT_COLUMNS[table])
        parts += runs[table].quarantine
    ct, dated = runs["CurrencyType"].frame, runs["DatedConversionRate"].frame
    fx = currency.build_fx_rates(ct, dated, mapping.currency)
    for frame, issues in ((ct, fx.currency_type_issues), (dated, fx.dated_issues)):
        for issue in issues:
            parts.append(quarantine_rows(frame, issue, issue.field))
            quality.add("quarantined", issue.rule, issue.field, issue.count)
            quality.rows_quarantined += issue.count
    for source, n in fx.rates["source"].value_counts().items():
        quality.add("fx_rate_source", str(source), "rate_to_usd", int(n))
    rates = conform(fx.rates, SILVER_TABLES[FX_TABLE]).frame[SILVER_TABLES[FX_TABLE].names]
    quality.rows_out = len(rates)
    return rates


def build_silver(bronze: Mapping[str, pd.DataFrame], mapping: MappingConfig, *, run_id: str) -> SilverResult:
    """Every silver table, the quarantine and the data-quality report from bronze frames."""
    validate_mapping(mapping)
    report = DataQualityReport(run_id)
    parts: list[pd.DataFrame] = []
    ctx = Context(default_term_months=mapping.default_term_months, qbr=mapping.qbr, currency=mapping.currency)
    ctx.fx_rates = _fx_rates(bronze, mapping, ctx, report, parts)
    tables: dict[str, pd.DataFrame] = {}
    for name in table_order(mapping):
        tm = mapping.tables[name]
        quality = TableQuality(name, tuple(s.table for s in tm.sources))
        report.tables[name] = quality
        frame = gather(bronze, tm.sources, tm.record_id_columns)
        quality.rows_in = len(frame)
        run = run_steps(frame, tm.steps, ctx, quality, SILVER_TABLES[name].names)
        table = finish(name, run, quality, tm.primary_key or [SILVER_TABLES[name].names[0]])
        quality.rows_out = len(table)
        parts += run.quarantine
        tables[name] = ctx.silver[name] = table
        ctx.rejected_ids[name] = run.rejected_ids
        ctx.deleted_ids[name] = run.deleted_ids
    tables[FX_TABLE] = ctx.fx_rates
    ordered = {name: tables[name] for name in SILVER_TABLES}
    report.tables = {name: report.tables[name] for name in SILVER_TABLES}
    return SilverResult(ordered, assemble_quarantine(parts), report)
