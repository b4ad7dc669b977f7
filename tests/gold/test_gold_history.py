"""Metric history: each date sees the records as they stood then."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from etl.gold import compute_gold, compute_metric_history
from etl.gold.params import MetricsConfig
from tests.gold.gold_builders import accounts, make_silver

JAN, FEB, APR = date(2024, 1, 31), date(2024, 2, 29), date(2024, 4, 30)


def _silver() -> dict[str, pd.DataFrame]:
    return make_silver(
        accounts=accounts("H2", "H1"),
        invoices=[{"invoice_id": "I1", "account_id": "H1", "invoice_number": "INV-1", "issue_date": "2024-01-01",
                   "due_date": "2024-01-31", "paid_date": "2024-04-15", "amount_usd": 100.0, "status": "PAID"}],
        cases=[{"case_id": "C1", "account_id": "H1", "case_number": "1", "priority": "LOW", "is_escalated": True,
                "is_closed": True, "created_at": "2024-02-10T09:00", "closed_at": "2024-03-05T09:00"}],
        opportunities=[{"opportunity_id": "O1", "account_id": "H1", "opportunity_type": "NEW_BUSINESS", "status": "WON",
                        "close_date": "2024-02-15", "amount_usd": 2400.0, "term_months": 12}],
        opportunity_line_items=[{"line_item_id": "L1", "opportunity_id": "O1", "account_id": "H1", "product_code": "FIB",
                                 "total_price_usd": 2400.0, "term_months": 12, "service_start_date": "2024-03-01",
                                 "service_end_date": "2025-03-01"}],
    )


@pytest.fixture(scope="module")
def history(params: MetricsConfig) -> pd.DataFrame:
    return compute_metric_history(_silver(), params, [APR, JAN, FEB, APR], run_id="h")


def test_one_row_per_account_and_date_sorted(history: pd.DataFrame) -> None:
    keys = list(zip(history.account_id, history.as_of.dt.date))
    assert keys == [("H1", JAN), ("H1", FEB), ("H1", APR), ("H2", JAN), ("H2", FEB), ("H2", APR)]
    assert (history.run_id == "h").all()


def test_invoice_paid_later_counts_as_unpaid_then(history: pd.DataFrame) -> None:
    h1 = history[history.account_id == "H1"].set_index(history.as_of[history.account_id == "H1"].dt.date)
    # Jan 31: due that very day, not yet late: no payment evidence for health, nothing overdue for churn.
    assert pd.isna(h1.loc[JAN, "health_payment"]) and h1.loc[JAN, "churn_payment"] == 0.0
    # Feb 29: unpaid 29 days past due: 0/1 on time - 10 -> 0; churn 29/15 -> 100.
    assert h1.loc[FEB, "health_payment"] == 0.0 and h1.loc[FEB, "churn_payment"] == 100.0
    # Apr 30: paid, 75 days late: still 0/1 on time, but nothing overdue any more.
    assert h1.loc[APR, "health_payment"] == 0.0 and h1.loc[APR, "churn_payment"] == 0.0


def test_scores_combine_what_existed_at_each_date(history: pd.DataFrame) -> None:
    h1 = history[history.account_id == "H1"].set_index(history.as_of[history.account_id == "H1"].dt.date)
    # Jan 31: the case does not exist yet; health has no component; churn = payment 0.
    assert pd.isna(h1.loc[JAN, "health_score"]) and pd.isna(h1.loc[JAN, "health_category"])
    assert h1.loc[JAN, "churn_risk"] == 0.0 and h1.loc[JAN, "churn_level"] == "LOW"
    # Feb 29: payment 0 and support 100 - 5 - 15 = 80: (0.3x0 + 0.25x80) / 0.55 = 36.4;
    # churn payment 100 and support 50: (30 + 12.5) / 0.55 = 77.3.
    assert h1.loc[FEB, "health_support"] == 80.0 and h1.loc[FEB, "churn_support"] == 50.0
    assert (h1.loc[FEB, "health_score"], h1.loc[FEB, "health_category"]) == (36.4, "Critical")
    assert (h1.loc[FEB, "churn_risk"], h1.loc[FEB, "churn_level"]) == (77.3, "HIGH")
    # Apr 30: churn = (0 + 12.5) / 0.55 = 22.7.
    assert (h1.loc[APR, "churn_risk"], h1.loc[APR, "churn_level"]) == (22.7, "LOW")


def test_revenue_as_of_each_date(history: pd.DataFrame) -> None:
    h1 = history[history.account_id == "H1"].set_index(history.as_of[history.account_id == "H1"].dt.date)
    assert list(h1.annual_revenue_usd) == [0.0, 2400.0, 2400.0]  # won 2024-02-15
    assert list(h1.mrr_usd) == [0.0, 0.0, 200.0]  # in service from 2024-03-01
    assert list(h1.active_services) == [0, 0, 1]
    assert h1.loc[APR, "clv_usd"] == pytest.approx(2400.0 * 0.6 * 100.0 / 22.7)


def test_account_without_records_has_null_scores_every_date(history: pd.DataFrame) -> None:
    h2 = history[history.account_id == "H2"]
    assert h2.health_score.isna().all() and h2.churn_risk.isna().all() and h2.clv_usd.isna().all()
    assert (h2.mrr_usd == 0.0).all()


def test_a_case_closed_later_is_open_then(params: MetricsConfig) -> None:
    at = {d: compute_gold(_silver(), params, d, run_id="h")["gold_customer_360_metrics"].set_index("account_id") for d in (FEB, APR)}
    assert at[FEB].loc["H1", "open_cases"] == 1
    assert at[APR].loc["H1", "open_cases"] == 0


def test_history_rows_equal_the_metrics_computed_as_of_that_date(params: MetricsConfig, history: pd.DataFrame) -> None:
    metrics = compute_gold(_silver(), params, FEB, run_id="h")["gold_customer_360_metrics"]
    same = history[history.as_of == pd.Timestamp(FEB)].reset_index(drop=True)
    assert_frame_equal(same, metrics[list(history.columns)])


def test_no_dates_gives_an_empty_table(params: MetricsConfig) -> None:
    out = compute_metric_history(_silver(), params, [], run_id="h")
    assert len(out) == 0 and "health_score" in out.columns
