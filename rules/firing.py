"""One rule firing for one account, as a plain object (the per-customer result).

`evaluate_customer` returns these; `firings_from_frame` turns rows of the
batch result into the same objects, which is how the tests prove the two
evaluation paths agree field for field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa


@dataclass(frozen=True)
class ConditionCheck:
    """One test of a rule with the account's actual value: the unit of an explanation."""

    field: str
    op: str
    threshold: str
    actual: str
    met: bool


@dataclass(frozen=True)
class Firing:
    account_id: str
    rule_id: str
    rule_name: str
    kind: str
    category: str
    severity: str
    message: str
    action: str | None
    expected_outcome: str | None
    impact_usd: float | None
    explanation: str
    conditions: tuple[ConditionCheck, ...]
    rule_version: int

    def sort_key(self) -> tuple[str, str]:
        return (self.account_id, self.rule_id)


def _opt_str(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else str(value)


def _opt_float(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    f = float(value)  # type: ignore[arg-type]
    return None if math.isnan(f) else f


def firings_from_frame(frame: pd.DataFrame) -> list[Firing]:
    """Rows of an `evaluate_batch` result as Firing objects (for small frames: the API, tests)."""
    return _firings(frame.to_dict("records"))


def firings_from_table(table: pa.Table) -> list[Firing]:
    """Rows of a FIRINGS_SCHEMA Arrow table as Firing objects."""
    return _firings(table.to_pylist())


def _firings(rows: list[dict]) -> list[Firing]:
    out = []
    for row in rows:
        checks = tuple(ConditionCheck(c["field"], c["op"], c["threshold"], c["actual"], bool(c["met"])) for c in row["conditions"])
        out.append(
            Firing(
                account_id=str(row["account_id"]),
                rule_id=str(row["rule_id"]),
                rule_name=str(row["rule_name"]),
                kind=str(row["kind"]),
                category=str(row["category"]),
                severity=str(row["severity"]),
                message=str(row["message"]),
                action=_opt_str(row["action"]),
                expected_outcome=_opt_str(row["expected_outcome"]),
                impact_usd=_opt_float(row["impact_usd"]),
                explanation=str(row["explanation"]),
                conditions=checks,
                rule_version=int(row["rule_version"]),
            )
        )
    return out
