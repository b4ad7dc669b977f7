"""Quarantine rows and the data-quality report.

Two kinds of problem, kept apart on purpose (see docs/data-quality.md):

* a *rejected row* cannot be trusted as a record (no id, unparseable date it
  depends on, unknown currency, orphan ...): it leaves the silver table and
  gets a quarantine row;
* a *nulled field* is one bad attribute of an otherwise good record (a
  malformed email, an impossible phone number): the record stays, the field
  becomes null, and a quarantine row still says what was removed.

Superseded duplicates and soft-deleted rows are neither: they are expected
Salesforce behaviour and are only counted in the report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl.contracts import QUARANTINE_SCHEMA
from etl.silver.mapping import BATCH_COL, RECORD_ID_COL, TABLE_COL

QUARANTINE_COLUMNS: list[str] = QUARANTINE_SCHEMA.names


@dataclass(frozen=True)
class Issue:
    """One problem one step found, on the rows flagged in `mask`.

    `mask` and `values` are positional over the step's output frame (steps that
    report issues never drop rows themselves; the build removes rejected rows).
    """

    rule: str
    field: str
    mask: np.ndarray
    values: pd.Series
    message: str
    rejects_row: bool

    @property
    def count(self) -> int:
        return int(self.mask.sum())


def value_text(values: pd.Series) -> pd.Series:
    """Offending values as text for the quarantine `value` column (nulls stay null)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("str")
    if pd.api.types.is_float_dtype(values.dtype):
        # 12.0 -> "12", -3.5 -> "-3.5": the value as a person would have typed it
        text = values.astype("str")
        return text.where(~text.str.endswith(".0"), text.str.slice(0, -2))
    return values.astype("str")


def record_ids(frame: pd.DataFrame) -> pd.Series:
    """The record id of each row: its id column, or the parts of a composite id joined by '|'."""
    parts = [c for c in frame.columns if c == RECORD_ID_COL or c.startswith(RECORD_ID_COL + ".")]
    out = frame[parts[0]].astype("str")
    for col in parts[1:]:
        out = out.fillna("") + "|" + frame[col].astype("str").fillna("")
    return out


def quarantine_rows(frame: pd.DataFrame, issue: Issue, field_label: str) -> pd.DataFrame:
    """The quarantine rows for one issue; the record's table, id and batch come from the frame."""
    pos = np.flatnonzero(issue.mask)
    meta = frame.iloc[pos]
    n = len(pos)
    return pd.DataFrame(
        {
            "table": meta[TABLE_COL].astype("str").to_numpy(),
            "record_id": record_ids(meta).to_numpy(),
            "rule": np.full(n, issue.rule, dtype=object),
            "field": np.full(n, field_label, dtype=object),
            "value": value_text(issue.values.iloc[pos]).to_numpy(),
            "message": np.full(n, issue.message, dtype=object),
            "source_batch_id": meta[BATCH_COL].astype("str").to_numpy(),
        }
    ).astype("str")


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="str") for c in QUARANTINE_COLUMNS})


def assemble_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """All quarantine rows of a run, in a deterministic order."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_quarantine()
    out = pd.concat(parts, ignore_index=True)[QUARANTINE_COLUMNS].astype("str")
    out = out.sort_values(["table", "record_id", "rule", "field"], kind="stable", na_position="last")
    return out.reset_index(drop=True)


# -------------------------------------------------------------------------- report


@dataclass
class TableQuality:
    """What happened to one silver table's input rows.

    rows_in = rows_out + rows_quarantined + duplicates_superseded + soft_deleted_dropped
    """

    table: str
    sources: tuple[str, ...]
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    duplicates_superseded: int = 0
    soft_deleted_dropped: int = 0
    # (check, rule, field) -> count, for check in
    # quarantined / field_nulled / value_normalised / default_applied / fx_rate_source
    detail: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, check: str, rule: str, field_name: str, n: int) -> None:
        if n:
            self.detail[(check, rule, field_name)] += int(n)

    def by_check(self, check: str) -> dict[str, int]:
        """One detail check summed by rule (quarantined, fx_rate_source) or field."""
        out: Counter[str] = Counter()
        for (c, rule, fld), n in self.detail.items():
            if c == check:
                out[rule or fld] += n
        return dict(sorted(out.items()))

    def to_rows(self) -> list[tuple[str, str, str, str, int]]:
        rows = [
            (self.table, "rows_in", "", "", self.rows_in),
            (self.table, "rows_out", "", "", self.rows_out),
            (self.table, "rows_quarantined", "", "", self.rows_quarantined),
            (self.table, "duplicates_superseded", "", "", self.duplicates_superseded),
            (self.table, "soft_deleted_dropped", "", "", self.soft_deleted_dropped),
        ]
        rows += [(self.table, c, r, f, n) for (c, r, f), n in sorted(self.detail.items())]
        return rows

    def to_dict(self) -> dict[str, Any]:
        def nested(check: str) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (c, rule, fld), n in sorted(self.detail.items()):
                if c == check:
                    out.setdefault(rule, {})[fld] = n
            return out

        return {
            "sources": list(self.sources),
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_quarantined": self.rows_quarantined,
            "duplicates_superseded": self.duplicates_superseded,
            "soft_deleted_dropped": self.soft_deleted_dropped,
            "quarantined": nested("quarantined"),  # rule -> field -> rows
            "fields_nulled": nested("field_nulled"),  # rule -> field -> rows
            "values_normalised": nested("value_normalised"),  # step type -> field -> rows
            "defaults_applied": nested("default_applied"),
            "fx_rate_sources": self.by_check("fx_rate_source"),  # source -> rows converted
        }


REPORT_COLUMNS = ["table", "check", "rule", "field", "count"]


@dataclass
class DataQualityReport:
    run_id: str
    tables: dict[str, TableQuality] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per (table, check[, rule, field]) with its count; tables in build order."""
        rows = [row for tq in self.tables.values() for row in tq.to_rows()]
        frame = pd.DataFrame(rows, columns=REPORT_COLUMNS)
        return frame.astype({"table": "str", "check": "str", "rule": "str", "field": "str", "count": "int64"})

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "totals": {
                "rows_in": sum(t.rows_in for t in self.tables.values()),
                "rows_out": sum(t.rows_out for t in self.tables.values()),
                "rows_quarantined": sum(t.rows_quarantined for t in self.tables.values()),
                "fields_nulled": sum(n for t in self.tables.values() for (c, _, _), n in t.detail.items() if c == "field_nulled"),
                "duplicates_superseded": sum(t.duplicates_superseded for t in self.tables.values()),
                "soft_deleted_dropped": sum(t.soft_deleted_dropped for t in self.tables.values()),
            },
            "tables": {name: tq.to_dict() for name, tq in self.tables.items()},
        }
