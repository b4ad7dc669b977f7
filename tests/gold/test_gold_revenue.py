"""MRR, ARR, active services, annual revenue, YoY, win rate and CLV on hand-checkable rows (as of 2024-06-30)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl.gold import compute_gold
from etl.gold.params import MetricsConfig
from etl.gold.revenue import customer_lifetime_value
from tests.gold.gold_builders import AS_OF, accounts, make_silver


def _opp(oid: str, acct: str, status: str, close: str, amount: float, term: int | None = 12) -> dict:
    return {
        "opportunity_id": oid, "account_id": acct, "opportunity_name": oid, "opportunity_type": "NEW_BUSINESS",
        "status": status, "amount_usd": amount, "close_date": close, "created_at": "2021-01-01T00:00", "term_months": term,
    }


def _line(lid: str, oid: str, acct: str, code: str, total: float, term: int | None, start: str, end: str) -> dict:
    return {
        "line_item_id": lid, "opportunity_id": oid, "account_id": acct, "product_code": code,
        "total_price_usd": total, "term_months": term, "service_start_date": start, "service_end_date": end,
    }


@pytest.fixture(scope="module")
def metrics(params: MetricsConfig) -> pd.DataFrame:
    silver = make_silver(
        accounts=accounts("A1", "A2", "A3"),
        opportunities=[
            _opp("O1", "A1", "WON", "2024-01-15", 12000.0),
            _opp("O2", "A1", "LOST", "2024-02-01", 1200.0),
            _opp("O3", "A1", "WON", "2023-06-30", 5000.0),   # last day of the previous year window
            _opp("O4", "A1", "WON", "2024-07-01", 999.0),    # after as_of: not yet won
            _opp("O5", "A1", "WON", "2022-06-30", 777.0),    # exactly 24 months back: outside both windows
            _opp("O6", "A1", "OPEN", "2024-08-01", 50000.0),  # open deals count nowhere
            _opp("O7", "A3", "WON", "2024-03-01", 3000.0),
        ],
        opportunity_line_items=[
            _line("L1", "O1", "A1", "FIBER", 12000.0, 12, "2024-06-30", "2025-06-30"),  # starts on as_of: counts
            _line("L2", "O1", "A1", "VOICE", 2400.0, 12, "2023-06-30", "2024-06-30"),   # ends on as_of: does not
            _line("L3", "O1", "A1", "FIBER", 6000.0, 24, "2023-01-01", "2025-01-01"),   # 250 a month
            _line("L4", "O1", "A1", "SIPT", 3600.0, None, "2024-01-01", "2025-01-01"),  # opportunity's 12 months: 300
            _line("L5", "O2", "A1", "MPLS", 1200.0, 12, "2024-03-01", "2025-03-01"),    # lost deal
            _line("L6", "O4", "A1", "MPLS", 1200.0, 12, "2024-03-01", "2025-03-01"),    # deal won after as_of
        ],
    )
    out = compute_gold(silver, params, AS_OF, run_id="t")["gold_customer_360_metrics"]
    return out.set_index("account_id")


def test_mrr_counts_won_lines_in_service_at_as_of(metrics: pd.DataFrame) -> None:
    assert metrics.loc["A1", "mrr_usd"] == pytest.approx(1000.0 + 250.0 + 300.0)
    assert metrics.loc["A1", "arr_usd"] == pytest.approx(12 * 1550.0)


def test_active_services_are_distinct_products(metrics: pd.DataFrame) -> None:
    assert metrics.loc["A1", "active_services"] == 2  # FIBER (twice) and SIPT


def test_annual_revenue_windows_are_open_below_closed_above(metrics: pd.DataFrame) -> None:
    assert metrics.loc["A1", "won_12m_usd"] == 12000.0
    assert metrics.loc["A1", "annual_revenue_usd"] == 12000.0
    assert metrics.loc["A1", "won_prev_12m_usd"] == 5000.0
    assert metrics.loc["A1", "yoy_growth"] == pytest.approx(7000.0 / 5000.0)


def test_yoy_is_null_without_revenue_the_year_before(metrics: pd.DataFrame) -> None:
    assert metrics.loc["A3", "annual_revenue_usd"] == 3000.0
    assert metrics.loc["A3", "won_prev_12m_usd"] == 0.0
    assert pd.isna(metrics.loc["A3", "yoy_growth"])


def test_win_rate_over_deals_closed_in_24_months(metrics: pd.DataFrame) -> None:
    assert (metrics.loc["A1", "won_24m"], metrics.loc["A1", "lost_24m"]) == (2, 1)  # O1, O3 won; O2 lost
    assert metrics.loc["A1", "win_rate"] == pytest.approx(2 / 3)
    assert metrics.loc["A3", "win_rate"] == 1.0


def test_account_without_deals_has_zero_revenue_and_null_ratios(metrics: pd.DataFrame) -> None:
    row = metrics.loc["A2"]
    assert (row["mrr_usd"], row["arr_usd"], row["active_services"], row["annual_revenue_usd"]) == (0.0, 0.0, 0, 0.0)
    assert (row["won_24m"], row["lost_24m"]) == (0, 0)
    assert pd.isna(row["yoy_growth"]) and pd.isna(row["win_rate"])


def test_clv_lifetime_is_clamped_between_1_and_10_years(params: MetricsConfig) -> None:
    arr = np.full(6, 1000.0)
    churn = np.array([0.0, 5.0, 10.0, 50.0, 100.0, np.nan])
    # lifetimes: 0 -> 10 (clamp), 5 -> 20 -> 10 (clamp), 10 -> 10, 50 -> 2, 100 -> 1, unknown -> null
    expected = np.array([6000.0, 6000.0, 6000.0, 1200.0, 600.0, np.nan])
    np.testing.assert_allclose(customer_lifetime_value(arr, churn, params), expected)


def test_clv_in_the_metrics_row_uses_the_stored_churn_risk(metrics: pd.DataFrame) -> None:
    # A1 and A3 have no invoice, case, usage or activity: churn is unknown, so CLV is null rather than a guess.
    assert pd.isna(metrics.loc["A1", "churn_risk"])
    assert pd.isna(metrics.loc["A1", "clv_usd"])
