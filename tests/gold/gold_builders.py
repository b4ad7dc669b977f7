"""Helpers for gold tests: silver frames written as short literal rows.

Rows are dicts with only the columns a test cares about; the rest are null.
Frames go through Arrow with the silver contract's schema, so they carry the
same dtypes as silver read back from Parquet (dates as datetime.date objects,
timestamps as UTC datetime64).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from etl.contracts import SILVER_TABLES
from etl.gold.params import MetricsConfig, load_metrics_config

CONFIG = Path(__file__).resolve().parents[2] / "config" / "silver_to_gold_metrics.json"
AS_OF = date(2024, 6, 30)


def _value(value: Any, kind: pa.DataType) -> Any:
    if isinstance(value, str) and kind == pa.date32():
        return date.fromisoformat(value)
    if isinstance(value, str) and pa.types.is_timestamp(kind):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return value


def frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    schema = SILVER_TABLES[table]
    unknown = {k for r in rows for k in r} - set(schema.names)
    assert not unknown, f"test rows name columns not in silver {table}: {unknown}"
    full = [{f.name: _value(r.get(f.name), f.type) for f in schema} for r in rows]
    return pa.Table.from_pylist(full, schema=schema).to_pandas()


def make_silver(**tables: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Every silver table, empty unless rows are given; accounts default to the ids used elsewhere."""
    return {name: frame(name, tables.get(name, [])) for name in SILVER_TABLES}


def accounts(*ids: str) -> list[dict[str, Any]]:
    return [{"account_id": i, "account_name": f"Account {i}", "region": "EMEA", "country_code": "DE"} for i in ids]


def load_params() -> MetricsConfig:
    return load_metrics_config(CONFIG)
