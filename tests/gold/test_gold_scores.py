"""Health and churn: every component, the missing-data rule, and the band boundaries (as of 2024-06-30).

Each account exercises one thing; the expected numbers are worked out in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl.gold import compute_gold
from etl.gold.params import Band, MetricsConfig, Scale
from etl.gold.scoring import band, weighted_score
from tests.gold.gold_builders import AS_OF, accounts, make_silver


def inv(acct: str, n: int, issue: str, due: str, paid: str | None, amount: float = 100.0, status: str | None = None) -> dict:
    return {
        "invoice_id": f"{acct}-I{n}", "account_id": acct, "invoice_number": f"INV-{acct}-{n}", "issue_date": issue,
        "due_date": due, "paid_date": paid, "amount_usd": amount, "status": status or ("PAID" if paid else "ISSUED"),
    }


def good_payer(acct: str) -> list[dict]:
    """5 invoices judged (4 on time, one 5 days late), one not yet due, one void, one outside the window."""
    return [
        inv(acct, 1, "2024-01-01", "2024-01-31", "2024-01-31"),  # paid on its due date: on time
        inv(acct, 2, "2024-02-01", "2024-03-02", "2024-02-20"),
        inv(acct, 3, "2024-03-01", "2024-03-31", "2024-03-25"),
        inv(acct, 4, "2024-04-01", "2024-05-01", "2024-04-30"),
        inv(acct, 5, "2024-05-01", "2024-05-31", "2024-06-05"),  # 5 days late
        inv(acct, 6, "2024-06-25", "2024-07-25", None, amount=500.0),  # not due yet: not judged
        inv(acct, 7, "2024-03-15", "2024-04-14", None, status="VOID"),
        inv(acct, 8, "2023-06-30", "2023-07-30", "2023-07-01"),  # 12 months back exactly: outside
    ]


def case(acct: str, n: int, created: str, priority: str = "LOW", escalated: bool = False, closed: str | None = None) -> dict:
    return {
        "case_id": f"{acct}-C{n}", "account_id": acct, "case_number": f"{n:05d}", "priority": priority,
        "is_escalated": escalated, "is_closed": closed is not None, "created_at": created, "closed_at": closed,
    }


def busy_support(acct: str) -> list[dict]:
    """3 cases in the 90 days (1 LOW, 1 HIGH, 1 CRITICAL escalated): 100 - 15 - 20 - 15 = 50."""
    return [
        case(acct, 1, "2024-04-02T08:00", "LOW", closed="2024-07-05T09:00"),  # closed after as_of: open then
        case(acct, 2, "2024-05-10T08:00", "HIGH", closed="2024-05-12T09:00"),
        case(acct, 3, "2024-06-01T08:00", "CRITICAL", escalated=True),
        case(acct, 4, "2024-04-01T23:59", "CRITICAL", escalated=True, closed="2024-04-02T09:00"),  # day 90: outside
        case(acct, 5, "2024-07-02T08:00", "CRITICAL", escalated=True),  # after as_of: not yet opened
    ]


def use(acct: str, service: str, unit: str, month: str, qty: float) -> dict:
    return {"account_id": acct, "service_code": service, "usage_month": f"{month}-01", "quantity": qty, "unit": unit}


def mixed_usage(acct: str) -> list[dict]:
    """FIBER x1.3, VOICE x0.5, IOT new (not compared): mean ratio 0.9, growth -0.1."""
    rows = [use(acct, "FIBER", "GB", m, 100.0) for m in ("2024-01", "2024-02", "2024-03")]
    rows += [use(acct, "FIBER", "GB", m, 130.0) for m in ("2024-04", "2024-05", "2024-06")]
    rows += [use(acct, "VOICE", "minutes", "2024-02", 1000.0), use(acct, "VOICE", "minutes", "2024-06", 500.0)]
    rows += [use(acct, "IOT", "devices", "2024-05", 10.0)]
    rows += [use(acct, "FIBER", "GB", "2024-07", 99999.0), use(acct, "FIBER", "GB", "2023-12", 5000.0)]  # outside both periods
    return rows


def act(acct: str, n: int, day: str, qbr: bool = False) -> dict:
    return {"activity_id": f"{acct}-X{n}", "account_id": acct, "activity_type": "Meeting", "activity_date": day, "is_qbr": qbr}


def renewal(acct: str, n: int, status: str, close: str) -> dict:
    return {
        "opportunity_id": f"{acct}-R{n}", "account_id": acct, "opportunity_type": "RENEWAL", "status": status,
        "close_date": close, "amount_usd": 0.0, "created_at": "2023-01-01T00:00", "term_months": 12,
    }


def contract(acct: str, n: int, start: str, end: str, status: str = "ACTIVATED") -> dict:
    return {"contract_id": f"{acct}-K{n}", "account_id": acct, "status": status, "start_date": start, "end_date": end}


def middling_engagement(acct: str) -> tuple[list[dict], list[dict]]:
    """2 QBRs (25), last contact 60 days ago (15), last renewal lost (0): 40."""
    activities = [act(acct, 1, "2024-01-10", qbr=True), act(acct, 2, "2024-05-01", qbr=True)]
    opportunities = [renewal(acct, 1, "LOST", "2024-03-01"), renewal(acct, 2, "OPEN", "2024-09-30")]
    return activities, opportunities


def usage_only(acct: str, last: float) -> list[dict]:
    """1000 in March (the earlier period), `last` in June (the recent one)."""
    return [use(acct, "FIBER", "GB", "2024-03", 1000.0), use(acct, "FIBER", "GB", "2024-06", last)]


BOUNDARY_USAGE = {"B80": 1300.0, "B79_9": 1299.0, "B50": 1000.0, "B49_9": 999.0, "C70": 790.0, "C69_9": 790.3, "C40": 880.0, "C39_9": 880.3}


@pytest.fixture(scope="module")
def m(params: MetricsConfig) -> pd.DataFrame:
    mid_acts, mid_opps = middling_engagement("ENG_MID")
    all_acts, all_opps = middling_engagement("ALL")
    silver = make_silver(
        accounts=accounts("PAY_GOOD", "PAY_BAD", "PAY_MID", "SUP", "SUP_OLD", "SUP_BAD", "USE_TWO",
                          "ENG_TOP", "ENG_MID", "ENG_CONTACT", "ENG_LATE", "ALL", "NONE", *BOUNDARY_USAGE),
        invoices=[
            *good_payer("PAY_GOOD"),
            inv("PAY_BAD", 1, "2024-03-01", "2024-03-31", "2024-03-20"),
            inv("PAY_BAD", 2, "2024-05-01", "2024-06-10", None, amount=1000.0),  # 20 days overdue
            inv("PAY_BAD", 3, "2024-05-16", "2024-06-15", None, amount=200.0),  # 15 days: not over the grace
            inv("PAY_MID", 1, "2024-05-20", "2024-06-24", None),  # 6 days overdue
            *good_payer("ALL"),
        ],
        cases=[
            *busy_support("SUP"),
            case("SUP_OLD", 1, "2023-01-10T10:00", "HIGH", closed="2023-01-11T10:00"),
            *[case("SUP_BAD", n, "2024-06-0%dT10:00" % n, "CRITICAL", escalated=True) for n in (1, 2, 3)],
            *busy_support("ALL"),
        ],
        usage=[
            *mixed_usage("USE_TWO"),
            *mixed_usage("ALL"),
            *[row for acct, last in BOUNDARY_USAGE.items() for row in usage_only(acct, last)],
        ],
        activities=[
            *[act("ENG_TOP", n, d, qbr=True) for n, d in enumerate(["2023-06-30", "2023-07-01", "2023-10-01", "2024-01-15", "2024-04-15"])],
            act("ENG_TOP", 9, "2024-06-20"),
            act("ENG_TOP", 10, "2024-07-15", qbr=True),  # after as_of
            *mid_acts,
            *all_acts,
        ],
        contacts=[
            {"contact_id": "K1", "account_id": "ENG_CONTACT", "last_activity_date": "2024-04-01"},
            {"contact_id": "K2", "account_id": "ENG_CONTACT", "last_activity_date": "2024-07-10"},  # after as_of
        ],
        opportunities=[
            renewal("ENG_TOP", 1, "WON", "2024-06-15"),
            renewal("ENG_LATE", 1, "WON", "2024-01-20"),
            *mid_opps,
            *all_opps,
            {"opportunity_id": "ALL-O", "account_id": "ALL", "opportunity_type": "NEW_BUSINESS", "status": "WON",
             "close_date": "2024-01-01", "amount_usd": 1200.0, "term_months": 12},
        ],
        opportunity_line_items=[
            {"line_item_id": "ALL-L", "opportunity_id": "ALL-O", "account_id": "ALL", "product_code": "FIBER",
             "total_price_usd": 1200.0, "term_months": 12, "service_start_date": "2024-01-01", "service_end_date": "2025-01-01"},
        ],
        contracts=[
            contract("ENG_TOP", 1, "2023-07-01", "2024-06-30"),
            contract("ENG_TOP", 2, "2024-07-01", "2025-06-30"),  # the renewal's new term, not yet started
            contract("ENG_LATE", 1, "2023-01-01", "2023-12-31"),
            contract("ENG_MID", 1, "2023-04-01", "2024-09-30"),
            contract("ENG_MID", 2, "2023-01-01", "2024-08-31", status="DRAFT"),  # a draft is not in force
        ],
    )
    out = compute_gold(silver, params, AS_OF, run_id="t")["gold_customer_360_metrics"]
    return out.set_index("account_id")


# --------------------------------------------------------------------------- payment


def test_payment_share_paid_on_time_of_judged_invoices(m: pd.DataFrame) -> None:
    r = m.loc["PAY_GOOD"]
    assert (r.invoices_12m, r.invoices_due_12m, r.invoices_paid_on_time_12m, r.invoices_overdue_15d) == (6, 5, 4, 0)
    assert r.health_payment == 80.0  # 100 x 4/5
    assert r.max_days_overdue == 0 and r.churn_payment == 0.0
    assert r.unpaid_amount_usd == 500.0


def test_payment_penalty_only_beyond_15_days_overdue(m: pd.DataFrame) -> None:
    r = m.loc["PAY_BAD"]
    assert (r.invoices_due_12m, r.invoices_paid_on_time_12m, r.invoices_overdue_15d) == (3, 1, 1)
    assert r.health_payment == 23.3  # 100 x 1/3 - 10 x 1 = 23.33
    assert r.max_days_overdue == 20
    assert r.churn_payment == 100.0  # 20 / 15 x 100 = 133, clamped
    assert r.unpaid_amount_usd == 1200.0


def test_churn_payment_scales_with_days_overdue(m: pd.DataFrame) -> None:
    r = m.loc["PAY_MID"]
    assert r.max_days_overdue == 6
    assert r.churn_payment == 40.0  # 6 / 15 x 100
    assert r.health_payment == 0.0  # the only judged invoice is late


# --------------------------------------------------------------------------- support


def test_support_penalties_over_the_last_90_days(m: pd.DataFrame) -> None:
    r = m.loc["SUP"]
    assert (r.cases_total, r.cases_90d, r.high_critical_cases_90d, r.escalated_cases_90d) == (4, 3, 2, 1)
    assert r.open_cases == 2  # case 1 closes after as_of, case 3 never closed
    assert r.health_support == 50.0  # 100 - 3 x 5 - 2 x 10 - 1 x 15
    assert r.churn_support == 50.0  # 1 escalated x 50


def test_support_without_recent_cases_is_perfect_but_not_missing(m: pd.DataFrame) -> None:
    r = m.loc["SUP_OLD"]
    assert (r.cases_total, r.cases_90d) == (1, 0)
    assert r.health_support == 100.0 and r.churn_support == 0.0


def test_support_clamps(m: pd.DataFrame) -> None:
    r = m.loc["SUP_BAD"]
    assert r.health_support == 10.0  # 100 - 15 - 30 - 45
    assert r.churn_support == 100.0  # 150 clamped


# --------------------------------------------------------------------------- usage


def test_usage_growth_is_the_mean_ratio_over_services(m: pd.DataFrame) -> None:
    r = m.loc["USE_TWO"]
    assert r.usage_services_compared == 2  # IOT had nothing in the earlier period
    assert r.usage_growth == pytest.approx(-0.1)  # (130x3/300 + 500/1000) / 2 - 1
    assert r.usage_drop == pytest.approx(0.1)
    assert (r.usage_last_3m, r.usage_prev_3m) == (900.0, 1300.0)  # 390 + 500 + 10, 300 + 1000
    assert r.health_usage == 40.0  # 50 + 100 x -0.1
    assert r.churn_usage_decline == 33.3  # 0.1 / 0.3 x 100


# --------------------------------------------------------------------------- engagement


def test_engagement_full_marks(m: pd.DataFrame) -> None:
    r = m.loc["ENG_TOP"]
    assert r.qbrs_12m == 4  # the QBR exactly 12 months back and the one after as_of do not count
    assert r.last_qbr_date == pd.Timestamp("2024-04-15")
    assert r.last_contact_activity_date == pd.Timestamp("2024-06-20")
    assert r.days_since_contact == 10
    assert r.last_renewal_on_time == True  # noqa: E712  (a nullable boolean: NA would fail the assert)
    assert r.health_engagement == 100.0  # 50 + 30 + 20
    assert r.churn_engagement == 16.7  # 10 / 60 x 100


def test_engagement_partial(m: pd.DataFrame) -> None:
    r = m.loc["ENG_MID"]
    assert (r.qbrs_12m, r.days_since_contact) == (2, 60)
    assert r.last_renewal_on_time == False  # noqa: E712  lost
    assert r.health_engagement == 40.0  # 50 x 2/4 + 30 x (90-60)/60 + 0
    assert r.churn_engagement == 100.0
    assert r.has_open_renewal_opportunity == True  # noqa: E712
    assert r.next_contract_end_date == pd.Timestamp("2024-09-30") and r.days_to_contract_end == 92


def test_engagement_from_contacts_only_ignores_later_dates(m: pd.DataFrame) -> None:
    r = m.loc["ENG_CONTACT"]
    assert r.last_contact_activity_date == pd.Timestamp("2024-04-01") and r.days_since_contact == 90
    assert r.health_engagement == 0.0  # known, and at the bottom
    assert r.churn_engagement == 100.0


def test_renewal_won_after_the_contract_ended_is_late(m: pd.DataFrame) -> None:
    r = m.loc["ENG_LATE"]
    assert r.last_renewal_on_time == False  # noqa: E712
    assert r.health_engagement == 0.0
    assert pd.isna(r.days_since_contact) and pd.isna(r.churn_engagement)
    assert pd.isna(r.next_contract_end_date) and pd.isna(r.days_to_contract_end)


# --------------------------------------------------------------------------- combination


def test_all_four_components_weighted(m: pd.DataFrame) -> None:
    r = m.loc["ALL"]
    assert (r.health_payment, r.health_support, r.health_usage, r.health_engagement) == (80.0, 50.0, 40.0, 40.0)
    assert r.health_score == 54.5  # 0.3x80 + 0.25x50 + 0.25x40 + 0.2x40
    assert r.health_category == "At-Risk"
    assert (r.churn_usage_decline, r.churn_payment, r.churn_support, r.churn_engagement) == (33.3, 0.0, 50.0, 100.0)
    assert r.churn_risk == 37.5  # 0.3x33.3 + 0.3x0 + 0.25x50 + 0.15x100 = 37.49
    assert r.churn_level == "LOW"
    assert r.arr_usd == 1200.0
    assert r.clv_usd == pytest.approx(1200.0 * 0.6 * 100.0 / 37.5)  # lifetime 2.67 years


def test_missing_components_are_left_out_and_weights_rescaled(m: pd.DataFrame) -> None:
    r = m.loc["PAY_BAD"]  # payment only
    assert pd.isna(r.health_support) and pd.isna(r.health_usage) and pd.isna(r.health_engagement)
    assert r.health_score == 23.3 and r.health_category == "Critical"
    assert r.churn_risk == 100.0 and r.churn_level == "HIGH"
    r = m.loc["ENG_LATE"]  # engagement only
    assert r.health_score == 0.0 and pd.isna(r.churn_risk) and pd.isna(r.churn_level)


def test_weighted_score_rescales_over_available_components() -> None:
    scale = Scale(min=0, max=100, decimals=1)
    components = {"a": np.array([80.0, 80.0, np.nan]), "b": np.array([50.0, np.nan, np.nan])}
    weights = {"a": 0.30, "b": 0.25}
    got = weighted_score(components, weights, scale)
    # (0.3x80 + 0.25x50) / 0.55 = 66.36; 80 alone; nothing -> null
    np.testing.assert_array_equal(got, np.array([66.4, 80.0, np.nan]))


def test_account_without_records_has_null_scores(m: pd.DataFrame) -> None:
    r = m.loc["NONE"]
    for col in ("health_score", "health_category", "churn_risk", "churn_level", "clv_usd", "health_payment",
                "health_support", "health_usage", "health_engagement", "churn_usage_decline", "churn_payment",
                "churn_support", "churn_engagement", "max_days_overdue", "unpaid_amount_usd", "usage_growth",
                "usage_last_3m", "last_contact_activity_date", "days_since_contact", "last_renewal_on_time",
                "next_contract_end_date", "yoy_growth", "win_rate"):
        assert pd.isna(r[col]), col
    assert (r.invoices_12m, r.cases_90d, r.open_cases, r.qbrs_12m, r.active_services) == (0, 0, 0, 0, 0)
    assert (r.mrr_usd, r.annual_revenue_usd, r.has_open_renewal_opportunity) == (0.0, 0.0, False)


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize(
    ("acct", "health", "category"),
    [("B80", 80.0, "Healthy"), ("B79_9", 79.9, "At-Risk"), ("B50", 50.0, "At-Risk"), ("B49_9", 49.9, "Critical")],
)
def test_health_category_boundaries(m: pd.DataFrame, acct: str, health: float, category: str) -> None:
    # usage is the only component: 50 + 100 x (last/1000 - 1)
    assert m.loc[acct, "health_score"] == health
    assert m.loc[acct, "health_category"] == category


@pytest.mark.parametrize(
    ("acct", "risk", "level"),
    [("C70", 70.0, "HIGH"), ("C69_9", 69.9, "MEDIUM"), ("C40", 40.0, "MEDIUM"), ("C39_9", 39.9, "LOW"), ("B80", 0.0, "LOW")],
)
def test_churn_level_boundaries(m: pd.DataFrame, acct: str, risk: float, level: str) -> None:
    # usage decline is the only component: (1 - last/1000) / 0.3 x 100
    assert m.loc[acct, "churn_risk"] == risk
    assert m.loc[acct, "churn_level"] == level


def test_band_on_exact_values(params: MetricsConfig) -> None:
    scores = np.array([100.0, 80.0, 79.9, 50.0, 49.9, 0.0, np.nan])
    assert band(scores, params.health.categories).tolist()[:6] == ["Healthy", "Healthy", "At-Risk", "At-Risk", "Critical", "Critical"]
    assert pd.isna(band(scores, params.health.categories).iloc[6])
    risks = np.array([70.0, 69.9, 40.0, 39.9])
    assert band(risks, params.churn.levels).tolist() == ["HIGH", "MEDIUM", "MEDIUM", "LOW"]
    assert band(np.array([5.0]), (Band(name="X", min=0),)).tolist() == ["X"]
