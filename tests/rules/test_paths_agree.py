"""The batch path (pandas/Arrow masks) and the per-customer path (durable-rules) agree exactly.

Three samples: accounts whose facts sit on and around every threshold of the
shipped rules (with nulls), a rule file exercising every operator under
all/any/not, and the full generated sample book.  On the generated book the
batch counts are also checked against plain pandas expressions written
independently of the rule engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rules.evaluate import evaluate_batch, evaluate_customer
from rules.firing import firings_from_frame
from rules.model import RuleSet, load_rules
from tests.rules.conftest import only, write
from tests.rules.factories import facts_frame, random_facts


def both_paths(facts: pd.DataFrame, ruleset: RuleSet) -> tuple[list, list]:
    batch = sorted(firings_from_frame(evaluate_batch(facts, ruleset)), key=lambda f: f.sort_key())
    per_customer = []
    for record in facts.to_dict("records"):
        per_customer.extend(evaluate_customer(record, ruleset))
    return batch, sorted(per_customer, key=lambda f: f.sort_key())


def test_boundary_values_of_every_shipped_rule(shipped):
    facts = random_facts(shipped, 300, seed=11)
    batch, per_customer = both_paths(facts, shipped)
    assert len(batch) > 600  # the sample exercises every rule at every level ...
    assert {(f.rule_id, f.severity) for f in batch} >= {
        ("CHURN_RISK", "HIGH"), ("CHURN_RISK", "MEDIUM"), ("SLA_BREACH", "LOW"), ("PAYMENT_OVERDUE", "MEDIUM"),
        ("USAGE_ANOMALY", "LOW"), ("CONTRACT_EXPIRING", "LOW"), ("R002", "MEDIUM"), ("R004", "LOW"), ("R005", "MEDIUM"),
    }
    assert batch == per_customer  # ... and both paths give identical firings, text included


OPERATORS = """version: 1
rules:
  - id: NOT_REF
    name: not less than a field
    kind: alert
    category: Growth
    condition: {not: {active_services: {lt: {field: segment_median_active_services}}}}
    severity: LOW
    message: m
  - id: REF_EQ_NE
    name: field equalities
    kind: alert
    category: Growth
    condition:
      any:
        - {cross_sell_product: {eq: {field: usage_drop_service}}}
        - {usage_drop_service: {ne: {field: usage_zscore_service}}}
    severity: LOW
    message: m
  - id: NOT_BETWEEN_IN
    name: outside a range, not in a set
    kind: alert
    category: Usage
    condition:
      all:
        - not: {days_to_contract_end: {between: [10, 20]}}
        - not: {max_days_overdue: {in: [0, 15, 30]}}
    severity: MEDIUM
    message: m
  - id: NULLS_BOOLS_STRINGS
    name: null checks, booleans, strings
    kind: alert
    category: Retention
    condition:
      any:
        - all: [{last_qbr_date: {is_null: false}}, {has_open_renewal_opportunity: {ne: true}}]
        - all: [{not: {churn_level: {ne: LOW}}}, {last_renewal_on_time: true}]
        - not: {any: [{region: {in: [EMEA, APAC]}}, {health_score: {gte: 50}}]}
    severity: HIGH
    message: m
"""


def test_every_operator_under_and_or_not(tmp_path):
    ruleset = load_rules(write(tmp_path, "ops.yaml", OPERATORS))
    values = {
        "active_services": [1, 2, 3, None],
        "segment_median_active_services": [2, 2.5, None],
        "cross_sell_product": ["A", "B", None],
        "usage_drop_service": ["A", "B", None],
        "usage_zscore_service": ["A", "C", None],
        "days_to_contract_end": [9, 10, 15, 20, 21, None],
        "max_days_overdue": [0, 15, 16, 30, None],
        "last_qbr_date": ["2026-01-01", None],
        "has_open_renewal_opportunity": [True, False, None],
        "churn_level": ["LOW", "HIGH", None],
        "last_renewal_on_time": [True, False, None],
        "region": ["EMEA", "AMER", None],
        "health_score": [49.99, 50, None],
    }
    rng = np.random.default_rng(5)
    rows = [{name: options[rng.integers(len(options))] for name, options in values.items()} for _ in range(400)]
    batch, per_customer = both_paths(facts_frame(rows), ruleset)
    assert {f.rule_id for f in batch} == {"NOT_REF", "REF_EQ_NE", "NOT_BETWEEN_IN", "NULLS_BOOLS_STRINGS"}
    assert 0 < len(batch) < 4 * 400
    assert batch == per_customer


def test_not_of_a_null_test_holds(tmp_path):
    """The semantics both paths implement: a test on null is false, so its negation is true."""
    ruleset = load_rules(write(tmp_path, "ops.yaml", OPERATORS))
    facts = facts_frame([{"active_services": None, "segment_median_active_services": 2}, {"active_services": 1, "segment_median_active_services": 2}])
    fired = evaluate_batch(facts, ruleset)
    assert fired.loc[fired["rule_id"] == "NOT_REF", "account_id"].tolist() == ["A0000"]
    assert [f.rule_id for f in evaluate_customer(facts.to_dict("records")[0], ruleset) if f.rule_id == "NOT_REF"] == ["NOT_REF"]


# --------------------------------------------------------------------------- the generated sample book


@pytest.fixture(scope="module")
def generated_facts(rules_sample) -> pd.DataFrame:
    return rules_sample["facts"]


def independent_expectations(f: pd.DataFrame) -> dict[tuple[str, str], set[str]]:
    """The shipped rules re-stated as plain pandas, to check the engine's counts against."""

    def ids(mask: pd.Series) -> set[str]:
        return set(f.loc[mask.fillna(False).astype(bool), "account_id"])

    churn, overdue, drop, z = f["churn_risk"], f["max_days_overdue"], f["usage_drop_vs_trailing_avg"], f["usage_max_abs_zscore"]
    days, renewal = f["days_to_contract_end"], f["has_open_renewal_opportunity"]
    expiring = days.between(0, 90) & (renewal == False)  # noqa: E712 - null is not False here
    amount = f["overdue_amount_usd"]
    out = {
        ("CHURN_RISK", "HIGH"): ids(churn >= 70),
        ("CHURN_RISK", "MEDIUM"): ids((churn >= 40) & (churn < 70)),
        ("SLA_BREACH", "HIGH"): ids((f["open_sla_breaches_critical"] > 0) | (f["open_sla_breaches_high"] > 0)),
        ("SLA_BREACH", "MEDIUM"): ids((f["open_sla_breaches_critical"] == 0) & (f["open_sla_breaches_high"] == 0) & (f["open_sla_breaches_medium"] > 0)),
        ("SLA_BREACH", "LOW"): ids(
            (f["open_sla_breaches_critical"] + f["open_sla_breaches_high"] + f["open_sla_breaches_medium"] == 0) & (f["open_sla_breaches_low"] > 0)
        ),
        ("PAYMENT_OVERDUE", "HIGH"): ids(overdue > 60),
        ("PAYMENT_OVERDUE", "MEDIUM"): ids((overdue > 30) & (overdue <= 60)),
        ("PAYMENT_OVERDUE", "LOW"): ids((overdue > 15) & (overdue <= 30)),
        ("USAGE_ANOMALY", "HIGH"): ids(drop > 0.5),
        ("USAGE_ANOMALY", "MEDIUM"): ids((drop > 0.3) & (drop <= 0.5)),
        ("USAGE_ANOMALY", "LOW"): ids(~(drop > 0.3) & (z > 3)),
        ("CONTRACT_EXPIRING", "HIGH"): ids(expiring & (days <= 30)),
        ("CONTRACT_EXPIRING", "MEDIUM"): ids(expiring & (days > 30) & (days <= 60)),
        ("CONTRACT_EXPIRING", "LOW"): ids(expiring & (days > 60)),
        ("R001", "HIGH"): ids((f["churn_level"] == "HIGH") & (f["arr_usd"] > 100000)),
        ("R002", "MEDIUM"): ids(
            (f["health_score"] >= 80)
            & (f["usage_growth"] >= 0.2)
            & (f["active_services"] < f["segment_median_active_services"])
            & f["cross_sell_product"].notna()
        ),
        ("R003", "HIGH"): ids((f["days_since_last_escalation"] <= 30) | (f["days_since_last_sla_breach"] <= 30)),
        ("R004", "HIGH"): ids((overdue > 15) & (amount >= 50000)),
        ("R004", "MEDIUM"): ids((overdue > 15) & (amount >= 10000) & (amount < 50000)),
        ("R004", "LOW"): ids((overdue > 15) & ~(amount >= 10000)),
        ("R005", "HIGH"): ids(expiring & (days <= 30)),
        ("R005", "MEDIUM"): ids(expiring & (days > 30)),
        ("R006", "MEDIUM"): ids(
            (f["days_since_last_qbr"] > 183) | f["days_since_last_qbr"].isna() | (f["days_since_contact"] > 60) | f["days_since_contact"].isna()
        ),
    }
    return {k: v for k, v in out.items() if v}


def test_generated_sample_counts_match_an_independent_evaluation(generated_facts, shipped):
    fired = evaluate_batch(generated_facts, shipped)
    got = {k: set(g["account_id"]) for k, g in fired.groupby(["rule_id", "severity"])}
    expected = independent_expectations(generated_facts)
    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in expected.items()}
    assert got == expected
    assert len(got) >= 15  # the sample book exercises most rules and levels


def test_generated_sample_both_paths_identical(generated_facts, shipped):
    batch, per_customer = both_paths(generated_facts, shipped)
    assert len(batch) > len(generated_facts)  # on average more than one firing per account
    assert batch == per_customer


def test_numbers_durable_rules_cannot_parse_as_python_writes_them(shipped):
    """1e-09, 5e-324 and 1e+20 are written as 1.0e-09 ... for durable-rules; the results still agree."""
    from rules.engine import _number

    assert [_number(v) for v in (1e-09, 5e-324, 1e20, 70.0, 0.30000000000000004)] == [
        "1.0e-09", "5.0e-324", "1.0e+20", "70.0", "0.30000000000000004",
    ]
    facts = facts_frame(
        [
            {"open_sla_breaches": 5e-324, "open_sla_breaches_low": 1e-09, "churn_risk": 1e20, "arr_usd": 1e-9},
            {"open_sla_breaches": 0.0, "churn_risk": 39.99999999999999},
        ]
    )
    batch, per_customer = both_paths(facts, shipped)
    assert {(f.account_id, f.rule_id, f.severity) for f in batch} >= {("A0000", "SLA_BREACH", "LOW"), ("A0000", "CHURN_RISK", "HIGH")}
    assert not [f for f in batch if f.account_id == "A0001" and f.rule_id in ("SLA_BREACH", "CHURN_RISK")]
    assert batch == per_customer


def test_a_fresh_engine_whose_first_customer_matches_nothing_keeps_working(shipped):
    """The first fact of a durable-rules session matching nothing must not break later evaluations."""
    ruleset = only(shipped, "CHURN_RISK")
    quiet, loud = facts_frame([{"churn_risk": 1}, {"churn_risk": 95}]).to_dict("records")
    assert evaluate_customer(quiet, ruleset) == []
    assert [f.severity for f in evaluate_customer(loud, ruleset)] == ["HIGH"]
    assert evaluate_customer(quiet, ruleset) == []
