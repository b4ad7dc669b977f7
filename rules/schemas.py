"""Arrow schemas of everything the rules stage produces, and the one conversion to them.

* ``FIRINGS_SCHEMA``: what `evaluate_batch` returns, one row per (account,
  rule) that fires today, with its explanation.  Not published by itself.
* ``gold_risk_alerts``: one row per (alert type, account) alert, carried
  across runs by the lifecycle (OPEN / ACKNOWLEDGED / SNOOZED / RESOLVED).
* ``gold_recommendations``: one row per issued recommendation instance
  (OPEN / EXECUTED / DISMISSED / EXPIRED) with the measured outcome of
  executed ones.
* ``gold_rule_facts``: the facts `build_rule_facts` adds to the metrics, so
  the API can re-evaluate one customer (metrics row + this row) later.

The ``conditions`` column is the structured explanation: one entry per test
of the rule (and of the chosen level), with the field, the operator, the
threshold, the account's actual value and whether the test held.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from etl.errors import DataError
from rules.fields import RULE_FIELDS

STR = pa.string()
F64 = pa.float64()
I64 = pa.int64()
BOOL = pa.bool_()
DATE = pa.date32()
TS = pa.timestamp("us", tz="UTC")

CONDITION_STRUCT = pa.struct(
    [
        pa.field("field", STR, nullable=False),
        pa.field("op", STR, nullable=False),  # '>=', 'between', 'is null', 'not <', ...
        pa.field("threshold", STR, nullable=False),  # '' for null checks; 'field (value)' against a field
        pa.field("actual", STR, nullable=False),  # the account's value as text; 'n/a' when null
        pa.field("met", BOOL, nullable=False),
    ]
)
CONDITIONS = pa.list_(CONDITION_STRUCT)


def _req(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, nullable=False)


_EXPLAINED = [
    _req("message", STR),
    _req("explanation", STR),  # the conditions rendered as one line of text
    _req("conditions", CONDITIONS),
    pa.field("impact_usd", F64),
    _req("rule_version", I64),  # version of the file the rule came from
]

FIRINGS_SCHEMA = pa.schema(
    [
        _req("account_id", STR),
        _req("rule_id", STR),
        _req("rule_name", STR),
        _req("kind", STR),  # alert / recommendation
        _req("category", STR),
        _req("severity", STR),  # HIGH / MEDIUM / LOW (a recommendation's priority)
        _req("message", STR),
        pa.field("action", STR),  # recommendations only
        pa.field("expected_outcome", STR),  # recommendations only
        pa.field("impact_usd", F64),
        _req("explanation", STR),
        _req("conditions", CONDITIONS),
        _req("rule_version", I64),
    ]
)

ALERTS_SCHEMA = pa.schema(
    [
        _req("alert_id", STR),  # '<alert type>:<account_id>': stable across runs
        _req("account_id", STR),
        _req("alert_type", STR),  # the rule id: CHURN_RISK, SLA_BREACH, ...
        _req("rule_name", STR),
        _req("category", STR),
        _req("severity", STR),  # as last seen
        _req("status", STR),  # OPEN / ACKNOWLEDGED / SNOOZED / RESOLVED
        _req("first_seen", DATE),  # first day of the current episode
        _req("last_seen", DATE),  # last day the condition held
        pa.field("resolved_on", DATE),  # set when RESOLVED
        pa.field("snoozed_until", DATE),  # SNOOZED: reopens on this date if the condition still holds
        pa.field("acknowledged_severity", STR),  # severity when acknowledged/snoozed: a rise reopens
        _req("status_changed_at", TS),
        _req("status_changed_by", STR),  # 'system' or 'user'
        pa.field("status_reason", STR),
        pa.field("user_changed_at", TS),  # last user change applied (older ones are ignored)
        *_EXPLAINED,
        _req("as_of", DATE),
        _req("run_id", STR),
    ]
)

RECOMMENDATIONS_SCHEMA = pa.schema(
    [
        _req("recommendation_id", STR),  # '<rule id>:<account_id>:<first_seen yyyymmdd>'
        _req("account_id", STR),
        _req("rule_id", STR),
        _req("rule_name", STR),
        _req("category", STR),
        _req("priority", STR),  # HIGH / MEDIUM / LOW
        _req("status", STR),  # OPEN / EXECUTED / DISMISSED / EXPIRED
        _req("first_seen", DATE),
        _req("last_seen", DATE),
        _req("status_changed_at", TS),
        _req("status_changed_by", STR),
        pa.field("status_reason", STR),  # dismissal reason, 'condition cleared', ...
        pa.field("user_changed_at", TS),
        _req("action", STR),
        _req("expected_outcome", STR),
        *_EXPLAINED,
        pa.field("health_score_at_last_seen", F64),
        pa.field("churn_risk_at_last_seen", F64),
        pa.field("executed_on", DATE),
        pa.field("health_score_change_30d", F64),  # later minus at_last_seen; null until known
        pa.field("churn_risk_change_30d", F64),
        pa.field("health_score_change_90d", F64),
        pa.field("churn_risk_change_90d", F64),
        _req("as_of", DATE),
        _req("run_id", STR),
    ]
)

_RULE_FACT_TYPES = {"number": F64, "string": STR, "boolean": BOOL, "date": DATE}
RULE_FACTS_SCHEMA = pa.schema(
    [_req("account_id", STR), _req("as_of", DATE)]
    + [pa.field(name, _RULE_FACT_TYPES[f.type]) for name, f in RULE_FIELDS.items()]
)

RULES_SCHEMAS: dict[str, pa.Schema] = {
    "gold_risk_alerts": ALERTS_SCHEMA,
    "gold_recommendations": RECOMMENDATIONS_SCHEMA,
    "gold_rule_facts": RULE_FACTS_SCHEMA,
}

# The order each table is published in: by account, so the API reads one account's rows
# (and a page of any filter's rows) from the file instead of holding the table.
READ_ORDER: dict[str, list[str]] = {
    "gold_risk_alerts": ["account_id", "alert_type"],
    "gold_recommendations": ["account_id", "rule_id", "first_seen", "recommendation_id"],
    "gold_rule_facts": ["account_id"],
}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping list columns Arrow-backed (no per-row Python objects)."""
    return table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)


def empty(schema: pa.Schema) -> pd.DataFrame:
    return to_pandas(schema.empty_table())


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """A rules frame as its published table: exact columns and types, required columns non-null."""
    if name not in RULES_SCHEMAS:
        raise DataError(f"unknown rules table {name!r}; expected one of {sorted(RULES_SCHEMAS)}")
    schema = RULES_SCHEMAS[name]
    missing = [c for c in schema.names if c not in df.columns]
    if missing:
        raise DataError(f"rules table {name!r}: frame lacks column(s) {missing}")
    try:
        table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"rules table {name!r}: cannot convert to its schema: {exc}") from exc
    for field in schema:
        if not field.nullable and table.column(field.name).null_count:
            raise DataError(f"rules table {name!r}: column {field.name!r} has {table.column(field.name).null_count} null value(s)")
    return table.replace_schema_metadata(None)
