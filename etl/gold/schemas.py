"""The gold tables' exact Arrow schemas, and the one conversion to them.

Gold frames are built in pandas; `to_arrow` is the single place they become
typed Arrow tables, so every writer (the pipeline, tests, benchmarks) gets the
same column order, types and not-null guarantees.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from etl.errors import DataError

STR = pa.string()
F64 = pa.float64()
I64 = pa.int64()
BOOL = pa.bool_()
DATE = pa.date32()


def _required(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, nullable=False)


IDENTITY = [
    _required("account_id", STR),
    pa.field("account_name", STR),
    pa.field("parent_id", STR),
    pa.field("region", STR),
    pa.field("country_code", STR),
    pa.field("industry", STR),
    pa.field("owner_id", STR),
    pa.field("owner_name", STR),
]
STAMP = [_required("as_of", DATE), _required("run_id", STR)]
HEADLINE = [
    pa.field("health_score", F64),
    pa.field("health_category", STR),
    pa.field("churn_risk", F64),
    pa.field("churn_level", STR),
    _required("mrr_usd", F64),
    _required("arr_usd", F64),
    _required("active_services", I64),
    _required("annual_revenue_usd", F64),
    pa.field("yoy_growth", F64),
    pa.field("win_rate", F64),
    pa.field("clv_usd", F64),
]
COMPONENTS = [
    pa.field(name, F64)
    for name in (
        "health_payment", "health_support", "health_usage", "health_engagement",
        "churn_usage_decline", "churn_payment", "churn_support", "churn_engagement",
    )
]
FACTS = [
    # payment
    _required("invoices_12m", I64),
    _required("invoices_due_12m", I64),
    _required("invoices_paid_on_time_12m", I64),
    _required("invoices_overdue_15d", I64),
    pa.field("max_days_overdue", I64),
    pa.field("unpaid_amount_usd", F64),
    # support
    _required("cases_total", I64),
    _required("cases_90d", I64),
    _required("high_critical_cases_90d", I64),
    _required("escalated_cases_90d", I64),
    _required("open_cases", I64),
    # usage
    pa.field("usage_last_3m", F64),
    pa.field("usage_prev_3m", F64),
    _required("usage_services_compared", I64),
    pa.field("usage_growth", F64),
    pa.field("usage_drop", F64),
    # engagement
    _required("qbrs_12m", I64),
    pa.field("last_qbr_date", DATE),
    pa.field("last_contact_activity_date", DATE),
    pa.field("days_since_contact", I64),
    pa.field("last_renewal_on_time", BOOL),
    # bookings
    _required("won_12m_usd", F64),
    _required("won_prev_12m_usd", F64),
    _required("won_24m", I64),
    _required("lost_24m", I64),
    # contract
    pa.field("next_contract_end_date", DATE),
    pa.field("days_to_contract_end", I64),
    _required("has_open_renewal_opportunity", BOOL),
]

METRICS_SCHEMA = pa.schema(IDENTITY + STAMP + HEADLINE + COMPONENTS + FACTS)

TIMELINE_SCHEMA = pa.schema(
    [
        _required("account_id", STR),
        _required("event_id", STR),
        _required("event_date", DATE),
        _required("event_type", STR),  # RENEWAL / SUPPORT / BILLING / USAGE / SALES / ENGAGEMENT
        _required("title", STR),
        pa.field("status", STR),
        pa.field("amount_usd", F64),
        _required("source_table", STR),
        _required("source_id", STR),
    ]
)

_BY_NAME = {f.name: f for f in IDENTITY + STAMP + HEADLINE + COMPONENTS + FACTS}
HISTORY_COLUMNS = (
    "account_id", "as_of", "run_id",
    "mrr_usd", "arr_usd", "active_services", "annual_revenue_usd",
    "health_score", "health_category", "churn_risk", "churn_level",
    "health_payment", "health_support", "health_usage", "health_engagement",
    "churn_usage_decline", "churn_payment", "churn_support", "churn_engagement",
    "clv_usd",
)
HISTORY_SCHEMA = pa.schema([_BY_NAME[c] for c in HISTORY_COLUMNS])

GOLD_SCHEMAS: dict[str, pa.Schema] = {
    "gold_customer_360_metrics": METRICS_SCHEMA,
    "gold_customer_timeline": TIMELINE_SCHEMA,
    "gold_customer_metric_history": HISTORY_SCHEMA,
}


def pandas_dtype(field: pa.Field) -> str:
    """The dtype gold frames use for a column: dates as datetime64[s], nullable ints and flags as masked arrays."""
    if field.type == DATE:
        return "datetime64[s]"
    if field.type == I64:
        return "int64" if not field.nullable else "Int64"
    if field.type == BOOL:
        return "bool" if not field.nullable else "boolean"
    if field.type == F64:
        return "float64"
    return "str"


def empty_frame(name: str) -> pd.DataFrame:
    """A zero-row frame with the same columns and dtypes as a non-empty one, so chunks concatenate cleanly."""
    return pd.DataFrame({f.name: pd.Series([], dtype=pandas_dtype(f)) for f in GOLD_SCHEMAS[name]})


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """Convert a gold frame to its table's schema, refusing missing columns and nulls in required ones."""
    if name not in GOLD_SCHEMAS:
        raise DataError(f"unknown gold table {name!r}; expected one of {sorted(GOLD_SCHEMAS)}")
    schema = GOLD_SCHEMAS[name]
    missing = [c for c in schema.names if c not in df.columns]
    if missing:
        raise DataError(f"gold table {name!r}: frame lacks column(s) {missing}")
    for field in schema:
        nulls = int(df[field.name].isna().sum())
        if not field.nullable and nulls:
            raise DataError(f"gold table {name!r}: column {field.name!r} has {nulls} null value(s)")
    try:
        table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError) as exc:
        raise DataError(f"gold table {name!r}: cannot convert to its schema: {exc}") from exc
    return table.replace_schema_metadata(None)
