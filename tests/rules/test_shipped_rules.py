"""Every shipped alert and recommendation: a firing case, a non-firing case and the boundaries.

Each case is one account's facts and the severity (priority) expected, or
None for "does not fire"; both evaluation paths must give that answer.
"""

from __future__ import annotations

import pytest

from rules.evaluate import evaluate_batch, evaluate_customer
from rules.model import RuleSet
from tests.rules.conftest import only
from tests.rules.factories import facts_frame

CASES: dict[str, list[tuple[dict, str | None]]] = {
    "CHURN_RISK": [
        ({"churn_risk": 100}, "HIGH"),
        ({"churn_risk": 70}, "HIGH"),
        ({"churn_risk": 69.99}, "MEDIUM"),
        ({"churn_risk": 40}, "MEDIUM"),
        ({"churn_risk": 39.99}, None),
        ({"churn_risk": None}, None),
    ],
    "SLA_BREACH": [
        ({"open_sla_breaches": 1, "open_sla_breaches_critical": 1}, "HIGH"),
        ({"open_sla_breaches": 2, "open_sla_breaches_high": 1, "open_sla_breaches_low": 1}, "HIGH"),
        ({"open_sla_breaches": 3, "open_sla_breaches_medium": 1, "open_sla_breaches_low": 2}, "MEDIUM"),
        ({"open_sla_breaches": 1, "open_sla_breaches_low": 1}, "LOW"),
        ({"open_sla_breaches": 0, "open_sla_breaches_critical": 0}, None),
        ({}, None),
    ],
    "PAYMENT_OVERDUE": [
        ({"max_days_overdue": 61}, "HIGH"),
        ({"max_days_overdue": 60}, "MEDIUM"),
        ({"max_days_overdue": 31}, "MEDIUM"),
        ({"max_days_overdue": 30}, "LOW"),
        ({"max_days_overdue": 16}, "LOW"),
        ({"max_days_overdue": 15}, None),
        ({"max_days_overdue": 0}, None),
        ({"max_days_overdue": None}, None),
    ],
    "USAGE_ANOMALY": [
        ({"usage_drop_vs_trailing_avg": 0.51}, "HIGH"),
        ({"usage_drop_vs_trailing_avg": 0.5}, "MEDIUM"),
        ({"usage_drop_vs_trailing_avg": 0.31}, "MEDIUM"),
        ({"usage_drop_vs_trailing_avg": 0.3}, None),
        ({"usage_drop_vs_trailing_avg": 0.3, "usage_max_abs_zscore": 3.01}, "LOW"),
        ({"usage_drop_vs_trailing_avg": -2.0, "usage_max_abs_zscore": 4}, "LOW"),  # a spike
        ({"usage_drop_vs_trailing_avg": 0.1, "usage_max_abs_zscore": 3}, None),
        ({}, None),
    ],
    "CONTRACT_EXPIRING": [
        ({"days_to_contract_end": 0, "has_open_renewal_opportunity": False}, "HIGH"),
        ({"days_to_contract_end": 30, "has_open_renewal_opportunity": False}, "HIGH"),
        ({"days_to_contract_end": 31, "has_open_renewal_opportunity": False}, "MEDIUM"),
        ({"days_to_contract_end": 60, "has_open_renewal_opportunity": False}, "MEDIUM"),
        ({"days_to_contract_end": 61, "has_open_renewal_opportunity": False}, "LOW"),
        ({"days_to_contract_end": 90, "has_open_renewal_opportunity": False}, "LOW"),
        ({"days_to_contract_end": 91, "has_open_renewal_opportunity": False}, None),
        ({"days_to_contract_end": -1, "has_open_renewal_opportunity": False}, None),
        ({"days_to_contract_end": 10, "has_open_renewal_opportunity": True}, None),
        ({"days_to_contract_end": 10, "has_open_renewal_opportunity": None}, None),
        ({"days_to_contract_end": None, "has_open_renewal_opportunity": False}, None),
    ],
    "R001": [
        ({"churn_level": "HIGH", "arr_usd": 100000.01}, "HIGH"),
        ({"churn_level": "HIGH", "arr_usd": 100000}, None),
        ({"churn_level": "MEDIUM", "arr_usd": 5e6}, None),
        ({"churn_level": "HIGH", "arr_usd": None}, None),
    ],
    "R002": [
        (dict(health_score=80, usage_growth=0.2, active_services=1, segment_median_active_services=2, cross_sell_product="DIA"), "MEDIUM"),
        (dict(health_score=79.9, usage_growth=0.2, active_services=1, segment_median_active_services=2, cross_sell_product="DIA"), None),
        (dict(health_score=95, usage_growth=0.19, active_services=1, segment_median_active_services=2, cross_sell_product="DIA"), None),
        (dict(health_score=95, usage_growth=0.5, active_services=2, segment_median_active_services=2, cross_sell_product="DIA"), None),
        (dict(health_score=95, usage_growth=0.5, active_services=1, segment_median_active_services=1.5, cross_sell_product="DIA"), "MEDIUM"),
        (dict(health_score=95, usage_growth=0.5, active_services=1, segment_median_active_services=None, cross_sell_product="DIA"), None),
        (dict(health_score=95, usage_growth=0.5, active_services=1, segment_median_active_services=3, cross_sell_product=None), None),
    ],
    "R003": [
        ({"days_since_last_escalation": 30}, "HIGH"),
        ({"days_since_last_sla_breach": 0}, "HIGH"),
        ({"days_since_last_escalation": 31, "days_since_last_sla_breach": 31}, None),
        ({}, None),
    ],
    "R004": [
        ({"max_days_overdue": 16, "overdue_amount_usd": 50000}, "HIGH"),
        ({"max_days_overdue": 16, "overdue_amount_usd": 49999.99}, "MEDIUM"),
        ({"max_days_overdue": 200, "overdue_amount_usd": 10000}, "MEDIUM"),
        ({"max_days_overdue": 16, "overdue_amount_usd": 9999}, "LOW"),
        ({"max_days_overdue": 16, "overdue_amount_usd": None}, "LOW"),
        ({"max_days_overdue": 15, "overdue_amount_usd": 1e6}, None),
    ],
    "R005": [
        ({"days_to_contract_end": 30, "has_open_renewal_opportunity": False}, "HIGH"),
        ({"days_to_contract_end": 31, "has_open_renewal_opportunity": False}, "MEDIUM"),
        ({"days_to_contract_end": 90, "has_open_renewal_opportunity": False}, "MEDIUM"),
        ({"days_to_contract_end": 91, "has_open_renewal_opportunity": False}, None),
        ({"days_to_contract_end": 5, "has_open_renewal_opportunity": True}, None),
    ],
    "R006": [
        ({"days_since_last_qbr": 184, "days_since_contact": 10}, "MEDIUM"),
        ({"days_since_last_qbr": 183, "days_since_contact": 60}, None),
        ({"days_since_last_qbr": None, "days_since_contact": 10}, "MEDIUM"),
        ({"days_since_last_qbr": 10, "days_since_contact": 61}, "MEDIUM"),
        ({"days_since_last_qbr": 10, "days_since_contact": None}, "MEDIUM"),
    ],
}


def test_every_shipped_rule_has_cases(shipped: RuleSet):
    assert sorted(CASES) == sorted(r.id for r in shipped.rules)
    assert [r.id for r in shipped.rules] == [
        "CHURN_RISK", "SLA_BREACH", "PAYMENT_OVERDUE", "USAGE_ANOMALY", "CONTRACT_EXPIRING",
        "R001", "R002", "R003", "R004", "R005", "R006",
    ]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_cases_in_both_paths(shipped: RuleSet, rule_id: str):
    ruleset = only(shipped, rule_id)
    facts = facts_frame([c for c, _ in CASES[rule_id]])
    fired = evaluate_batch(facts, ruleset)
    batch = dict(zip(fired["account_id"], fired["severity"]))
    expected = {f"A{i:04d}": sev for i, (_, sev) in enumerate(CASES[rule_id]) if sev is not None}
    assert batch == expected
    for i, record in enumerate(facts.to_dict("records")):
        per_customer = evaluate_customer(record, ruleset)
        assert [f.severity for f in per_customer] == ([expected[f"A{i:04d}"]] if f"A{i:04d}" in expected else [])


def test_recommendations_carry_action_outcome_and_impact(shipped: RuleSet):
    facts = facts_frame(
        [
            {"account_name": "Acme GmbH", "churn_level": "HIGH", "churn_risk": 82, "arr_usd": 250000},
            {"account_name": "Beta", "max_days_overdue": 40, "overdue_amount_usd": 12345.6, "overdue_invoices": 2},
            {
                "account_name": "Gamma", "health_score": 90, "usage_growth": 0.25, "active_services": 1,
                "segment_median_active_services": 2, "segment": "Retail / EMEA", "cross_sell_product": "SDWAN",
                "cross_sell_product_name": "Managed SD-WAN", "cross_sell_product_median_mrr_usd": 4200,
            },
        ]
    )
    fired = evaluate_batch(facts, only(shipped, "R001", "R002", "R004")).set_index("rule_id")
    assert fired.loc["R001", "action"] == "Set up an executive retention call with Acme GmbH within 7 days"
    assert fired.loc["R001", "impact_usd"] == 250000  # ARR at risk
    assert fired.loc["R001", "message"] == "Churn risk 82/100 on 250,000 USD ARR"
    assert fired.loc["R004", "severity"] == "MEDIUM"
    assert fired.loc["R004", "impact_usd"] == 12345.6
    assert fired.loc["R004", "message"] == "12,346 USD overdue on 2 invoice(s); oldest 40 days late"
    assert fired.loc["R002", "action"] == "Propose Managed SD-WAN (SDWAN) to Gamma"
    assert fired.loc["R002", "impact_usd"] == 4200  # median MRR of the missing product
    assert fired.loc["R002", "message"] == "Healthy (90) and growing (25%) with 1 services, below the Retail / EMEA median of 2"
    assert fired.loc["R002", "expected_outcome"] == "One more active service within 90 days"
    assert fired.loc["R002", "category"] == "Growth"


def test_alerts_have_no_action(shipped: RuleSet):
    fired = evaluate_batch(facts_frame([{"churn_risk": 75, "arr_usd": 1000}]), only(shipped, "CHURN_RISK"))
    assert fired["action"].isna().all() and fired["expected_outcome"].isna().all()
    assert fired["impact_usd"].tolist() == [750.0]  # arr_usd * churn_risk / 100


def test_disabled_rules_do_not_fire(shipped: RuleSet):
    import dataclasses

    rule = dataclasses.replace(shipped.rule("CHURN_RISK"), enabled=False)
    ruleset = dataclasses.replace(shipped, rules=(rule,), _cache={})
    facts = facts_frame([{"churn_risk": 99}])
    assert len(evaluate_batch(facts, ruleset)) == 0
    assert evaluate_customer(facts.to_dict("records")[0], ruleset) == []
