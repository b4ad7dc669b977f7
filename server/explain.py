"""Why a customer scores what it scores: components and the facts behind them.

The gold metrics table stores every score's components and the facts each
was computed from; this module names them for people ("3 of 12 invoices
paid on time in the last 12 months").  The lists below are data: a new
component is a new entry, not new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (component, score column, [(fact column, label)]); weights come from config/silver_to_gold_metrics.json
HEALTH_COMPONENTS = [
    ("payment", "health_payment", [
        ("invoices_12m", "invoices issued in the last 12 months"),
        ("invoices_due_12m", "of them paid or past due"),
        ("invoices_paid_on_time_12m", "of those paid by the due date"),
        ("invoices_overdue_15d", "invoices more than 15 days overdue"),
        ("max_days_overdue", "days the oldest unpaid invoice is overdue"),
        ("unpaid_amount_usd", "unpaid amount (USD)"),
    ]),
    ("support", "health_support", [
        ("cases_90d", "cases opened in the last 90 days"),
        ("high_critical_cases_90d", "of them High or Critical"),
        ("escalated_cases_90d", "escalated cases in the last 90 days"),
        ("open_cases", "cases open now"),
    ]),
    ("usage", "health_usage", [
        ("usage_last_3m", "usage in the last 3 months"),
        ("usage_prev_3m", "usage in the 3 months before"),
        ("usage_growth", "usage growth (fraction, averaged over services)"),
        ("usage_services_compared", "services compared"),
    ]),
    ("engagement", "health_engagement", [
        ("qbrs_12m", "QBRs in the last 12 months"),
        ("last_qbr_date", "last QBR"),
        ("days_since_contact", "days since the last contact activity"),
        ("last_renewal_on_time", "last renewal won on time"),
    ]),
]

CHURN_COMPONENTS = [
    ("usage_decline", "churn_usage_decline", [
        ("usage_drop", "usage drop, last 3 months vs the 3 before (fraction)"),
        ("usage_last_3m", "usage in the last 3 months"),
        ("usage_prev_3m", "usage in the 3 months before"),
    ]),
    ("payment", "churn_payment", [
        ("max_days_overdue", "days the oldest unpaid invoice is overdue"),
        ("unpaid_amount_usd", "unpaid amount (USD)"),
    ]),
    ("support", "churn_support", [
        ("escalated_cases_90d", "escalated cases in the last 90 days"),
    ]),
    ("engagement", "churn_engagement", [
        ("days_since_contact", "days since the last contact activity"),
        ("last_contact_activity_date", "last contact activity"),
    ]),
]


def columns(spec) -> tuple[str, ...]:
    """The metrics columns `components` reads for `spec`: each component's score and its facts."""
    return tuple(dict.fromkeys(c for _, score, facts in spec for c in (score, *(f for f, _ in facts))))


# Plain slotted dataclasses (a profile makes ~22 of these): a frozen one's __init__ costs twice as much
@dataclass(slots=True)
class FactValue:
    name: str
    label: str
    value: Any


@dataclass(slots=True)
class ComponentValue:
    name: str
    score: float | None
    weight: float
    effective_weight: float | None  # after rescaling for components without data
    facts: list[FactValue]


def components(row: dict[str, Any], spec, weights: dict[str, float]) -> list[ComponentValue]:
    present = {name: row.get(col) is not None for name, col, _ in spec}
    total = sum(weights[name] for name in weights if present.get(name))
    out = []
    for name, col, facts in spec:
        score = row.get(col)
        weight = weights[name]
        effective = (weight / total) if score is not None and total else None
        out.append(ComponentValue(name, score, weight, effective, [FactValue(f, label, row[f]) for f, label in facts if f in row]))
    return out
