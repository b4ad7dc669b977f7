"""Every firing explains itself: each test with field, operator, threshold, actual value and outcome."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rules.evaluate import evaluate_batch, evaluate_customer
from rules.firing import ConditionCheck
from rules.formatting import format_array, format_numbers, format_plain, parse_number_spec
from rules.model import load_rules
from tests.rules.conftest import only, write
from tests.rules.factories import facts_frame


def test_explanation_of_a_level_rule(shipped):
    fired = evaluate_batch(facts_frame([{"days_to_contract_end": 45, "has_open_renewal_opportunity": False}]), only(shipped, "CONTRACT_EXPIRING"))
    row = fired.iloc[0]
    assert row["explanation"] == (
        "CONTRACT_EXPIRING MEDIUM: days_to_contract_end is 45 (between 0 and 90: met); "
        "has_open_renewal_opportunity is false (= false: met); days_to_contract_end is 45 (<= 60: met)"
    )
    assert list(row["conditions"]) == [
        {"field": "days_to_contract_end", "op": "between", "threshold": "0 and 90", "actual": "45", "met": True},
        {"field": "has_open_renewal_opportunity", "op": "=", "threshold": "false", "actual": "false", "met": True},
        {"field": "days_to_contract_end", "op": "<=", "threshold": "60", "actual": "45", "met": True},
    ]
    assert row["message"] == "Contract ends n/a (in 45 days) and no renewal opportunity is open"


def test_explanation_lists_unmet_alternatives_and_nulls(shipped):
    fired = evaluate_batch(facts_frame([{"days_since_last_qbr": None, "days_since_contact": 12}]), only(shipped, "R006"))
    assert fired["explanation"].tolist() == [
        "R006 MEDIUM: days_since_last_qbr is n/a (> 183: not met); days_since_last_qbr is n/a (is null: met); "
        "days_since_contact is 12 (> 60: not met); days_since_contact is 12 (is null: not met)"
    ]


def test_explanation_against_another_field_shows_its_value(shipped):
    facts = facts_frame(
        [dict(health_score=88, usage_growth=0.3, active_services=1, segment_median_active_services=2.5, cross_sell_product="DIA")]
    )
    checks = list(evaluate_batch(facts, only(shipped, "R002"))["conditions"].iloc[0])
    assert checks[2] == {
        "field": "active_services",
        "op": "<",
        "threshold": "segment_median_active_services (2.5)",
        "actual": "1",
        "met": True,
    }
    assert checks[3] == {"field": "cross_sell_product", "op": "is not null", "threshold": "", "actual": "DIA", "met": True}


def test_negated_tests_say_so(tmp_path):
    path = write(
        tmp_path,
        "n.yaml",
        """version: 1
rules:
  - id: NOT_HIGH
    name: not high
    kind: alert
    category: Retention
    condition: {all: [{not: {churn_level: {in: [HIGH, MEDIUM]}}}, {arr_usd: {gte: 1}}]}
    severity: LOW
    message: "{churn_level} level, ARR {arr_usd:,.2f} ({severity})"
""",
    )
    ruleset = load_rules(path)
    facts = facts_frame([{"churn_level": "LOW", "arr_usd": 1234567.891}, {"churn_level": None, "arr_usd": 5}, {"churn_level": "HIGH", "arr_usd": 5}])
    fired = evaluate_batch(facts, ruleset)
    assert fired["account_id"].tolist() == ["A0000", "A0001"]
    assert fired["explanation"].tolist() == [
        "NOT_HIGH LOW: churn_level is LOW (not in HIGH, MEDIUM: met); arr_usd is 1234567.891 (>= 1: met)",
        "NOT_HIGH LOW: churn_level is n/a (not in HIGH, MEDIUM: met); arr_usd is 5 (>= 1: met)",
    ]
    assert fired["message"].tolist() == ["LOW level, ARR 1,234,567.89 (LOW)", "n/a level, ARR 5.00 (LOW)"]
    per_customer = evaluate_customer(facts.to_dict("records")[0], ruleset)
    assert per_customer[0].conditions == (
        ConditionCheck("churn_level", "not in", "HIGH, MEDIUM", "LOW", True),
        ConditionCheck("arr_usd", ">=", "1", "1234567.891", True),
    )
    assert per_customer[0].explanation == fired["explanation"].iloc[0]


def test_number_formats():
    values = np.array([0, 5, 999.5, 1000, 1234567.891, -1234.5, -0.0001, np.nan, np.inf])
    assert format_numbers(values, parse_number_spec(",.2f")).to_pylist() == [
        "0.00", "5.00", "999.50", "1,000.00", "1,234,567.89", "-1,234.50", "0.00", "n/a", "inf",
    ]
    assert format_numbers(values, parse_number_spec(",.0f")).to_pylist() == [
        "0", "5", "1,000", "1,000", "1,234,568", "-1,234", "0", "n/a", "inf",
    ]
    assert format_numbers(np.array([0.456, -0.02, 1.0]), parse_number_spec(".0%")).to_pylist() == ["46%", "-2%", "100%"]
    assert format_numbers(np.array([3.0, 2.5, 12345.0]), parse_number_spec("d")).to_pylist() == ["3", "2", "12345"]
    assert format_plain(np.array([250000.0, 75.2, 0.1 + 0.2, 12.34567, -0.0001, np.nan, 1e20])).to_pylist() == [
        "250000", "75.2", "0.3", "12.346", "0", "n/a", "1e+20",
    ]


def test_other_types_format():
    assert format_array(pa.array([True, None, False]), "boolean").to_pylist() == ["true", "n/a", "false"]
    assert format_array(pa.array([20000, None], pa.date32()), "date").to_pylist() == ["2024-10-04", "n/a"]
    assert format_array(pa.array(["x", None]), "string").to_pylist() == ["x", "n/a"]
