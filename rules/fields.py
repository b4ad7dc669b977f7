"""The facts a rule may name: every field, its type and what it means.

This catalogue is the contract between the rule files and the code that
feeds them.  A rule that names a field not listed here, or compares a field
with a value of the wrong type, is refused when the file is loaded, so a
typo never silently turns into "never fires".  Two sources fill the fields:

* ``gold``: columns of ``gold_customer_360_metrics`` (etl/gold/schemas.py);
  a test checks names and types against that schema.
* ``rules``: facts the gold table lacks, computed by `rules.facts.build_rule_facts`
  from silver and the metrics (per-case SLA ages, per-invoice overdue amounts,
  monthly usage anomalies, segment medians, cross-sell candidates).

Types: ``number`` (integers too; compared as float64), ``string``,
``boolean`` and ``date``.  Dates can be quoted in messages and tested with
``is_null``; compare the ``days_*`` number facts instead of dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["number", "string", "boolean", "date"]
FIELD_TYPES: tuple[FieldType, ...] = ("number", "string", "boolean", "date")


@dataclass(frozen=True)
class FactField:
    name: str
    type: FieldType
    source: Literal["gold", "rules"]
    description: str


def _fields(source: Literal["gold", "rules"], rows: list[tuple[str, FieldType, str]]) -> dict[str, FactField]:
    return {name: FactField(name, kind, source, text) for name, kind, text in rows}


GOLD_FIELDS = _fields(
    "gold",
    [
        ("account_id", "string", "Salesforce Account Id"),
        ("account_name", "string", "account name"),
        ("parent_id", "string", "parent account Id"),
        ("region", "string", "AMER / EMEA / APAC"),
        ("country_code", "string", "ISO 3166-1 alpha-2 billing country"),
        ("industry", "string", "industry"),
        ("owner_id", "string", "account owner's user Id"),
        ("owner_name", "string", "account owner's name"),
        ("as_of", "date", "date the metrics are computed as of"),
        ("run_id", "string", "pipeline run that computed the metrics"),
        ("health_score", "number", "health score 0-100 (higher is healthier)"),
        ("health_category", "string", "Healthy / At-Risk / Critical"),
        ("churn_risk", "number", "churn risk 0-100 (higher is riskier)"),
        ("churn_level", "string", "LOW / MEDIUM / HIGH"),
        ("mrr_usd", "number", "monthly recurring revenue of active won lines, USD"),
        ("arr_usd", "number", "annual recurring revenue (12 x MRR), USD"),
        ("active_services", "number", "distinct products in service"),
        ("annual_revenue_usd", "number", "won amount in the last 12 months, USD"),
        ("yoy_growth", "number", "won amount growth against the 12 months before (fraction)"),
        ("win_rate", "number", "won / decided opportunities over the win-rate window (fraction)"),
        ("clv_usd", "number", "customer lifetime value, USD"),
        ("health_payment", "number", "health component: payment (0-100)"),
        ("health_support", "number", "health component: support (0-100)"),
        ("health_usage", "number", "health component: usage (0-100)"),
        ("health_engagement", "number", "health component: engagement (0-100)"),
        ("churn_usage_decline", "number", "churn component: usage decline (0-100)"),
        ("churn_payment", "number", "churn component: payment (0-100)"),
        ("churn_support", "number", "churn component: support (0-100)"),
        ("churn_engagement", "number", "churn component: engagement (0-100)"),
        ("invoices_12m", "number", "invoices issued in the payment window"),
        ("invoices_due_12m", "number", "invoices in the window already paid or past due"),
        ("invoices_paid_on_time_12m", "number", "invoices in the window paid by their due date"),
        ("invoices_overdue_15d", "number", "unpaid invoices more than the grace days past due"),
        ("max_days_overdue", "number", "days the oldest unpaid invoice is past due (0 if none; null without invoices)"),
        ("unpaid_amount_usd", "number", "unpaid invoice amount, due or not, USD"),
        ("cases_total", "number", "cases opened by as_of"),
        ("cases_90d", "number", "cases opened in the support window"),
        ("high_critical_cases_90d", "number", "High/Critical cases opened in the support window"),
        ("escalated_cases_90d", "number", "escalated cases opened in the support window"),
        ("open_cases", "number", "cases open at the end of as_of"),
        ("usage_last_3m", "number", "usage quantity in the last usage window (all units added)"),
        ("usage_prev_3m", "number", "usage quantity in the window before"),
        ("usage_services_compared", "number", "usage series compared for usage_growth"),
        ("usage_growth", "number", "mean per-service usage ratio last/previous window minus 1 (fraction)"),
        ("usage_drop", "number", "max(0, -usage_growth)"),
        ("qbrs_12m", "number", "QBRs held in the QBR window"),
        ("last_qbr_date", "date", "date of the last QBR"),
        ("last_contact_activity_date", "date", "date of the last activity with the account"),
        ("days_since_contact", "number", "days since the last activity"),
        ("last_renewal_on_time", "boolean", "whether the last decided renewal was won on time"),
        ("won_12m_usd", "number", "won amount in the last 12 months, USD"),
        ("won_prev_12m_usd", "number", "won amount in the 12 months before, USD"),
        ("won_24m", "number", "opportunities won in the win-rate window"),
        ("lost_24m", "number", "opportunities lost in the win-rate window"),
        ("next_contract_end_date", "date", "end date of the contract in force that ends first"),
        ("days_to_contract_end", "number", "days from as_of to next_contract_end_date"),
        ("has_open_renewal_opportunity", "boolean", "a renewal opportunity is open"),
    ],
)

RULE_FIELDS = _fields(
    "rules",
    [
        ("segment", "string", "the account's segment: the parameters.segment_by values joined with ' / '"),
        ("segment_accounts", "number", "accounts in the segment"),
        ("segment_median_active_services", "number", "median active_services over the segment"),
        ("cross_sell_product", "string", "product code the account lacks that most of its segment holds"),
        ("cross_sell_product_name", "string", "name of cross_sell_product"),
        ("cross_sell_product_median_mrr_usd", "number", "median MRR of cross_sell_product among accounts holding it, USD"),
        ("open_sla_breaches", "number", "open cases older than their priority's SLA at the end of as_of"),
        ("open_sla_breaches_critical", "number", "open Critical cases past SLA"),
        ("open_sla_breaches_high", "number", "open High cases past SLA"),
        ("open_sla_breaches_medium", "number", "open Medium cases past SLA"),
        ("open_sla_breaches_low", "number", "open Low cases past SLA"),
        ("worst_sla_breach_case", "string", "case number of the open case furthest past its SLA"),
        ("worst_sla_overrun_hours", "number", "hours that case is past its SLA"),
        ("days_since_last_sla_breach", "number", "days since the latest SLA deadline a case missed (open or closed late)"),
        ("days_since_last_escalation", "number", "days since the latest escalated case was opened"),
        ("overdue_invoices", "number", "unpaid invoices past their due date"),
        ("overdue_amount_usd", "number", "amount of unpaid invoices past their due date, USD"),
        ("oldest_overdue_invoice", "string", "invoice number of the unpaid invoice longest past due"),
        ("usage_month", "date", "first day of the last full usage month, the month tested for anomalies"),
        ("usage_drop_vs_trailing_avg", "number", "largest per-service drop of usage_month below the trailing average (fraction; negative = growth)"),
        ("usage_drop_service", "string", "service with that drop"),
        ("usage_max_abs_zscore", "number", "largest per-service distance of usage_month from the trailing mean, in trailing standard deviations"),
        ("usage_zscore_service", "string", "service with that z-score"),
        ("days_since_last_qbr", "number", "days since last_qbr_date (null if never)"),
    ],
)

FIELDS: dict[str, FactField] = {**GOLD_FIELDS, **RULE_FIELDS}

# Names a message template may use besides the fact fields.
TEMPLATE_EXTRAS: dict[str, FieldType] = {"severity": "string", "rule_id": "string", "rule_name": "string"}
