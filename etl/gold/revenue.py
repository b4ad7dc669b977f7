"""Revenue metrics at an as-of date: MRR, ARR, active services, annual revenue, YoY, win rate, CLV.

Sums over nothing are true zeros (an account with no active line has an MRR
of 0 USD); ratios over nothing are null (no closed deal, no win rate).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from etl.arrays import distinct
from etl.gold.book import Book
from etl.gold.dates import add_months, day_number
from etl.gold.params import MetricsConfig
from etl.gold.reduce import count, total


def recurring_revenue(book: Book, as_of: date) -> dict[str, np.ndarray]:
    """MRR of the won lines in service at as_of (start <= as_of < end), and their distinct products."""
    li, n = book.lines, book.n
    a = day_number(as_of)
    active = (li.won_on <= a) & (li.start <= a) & (a < li.end)
    mrr = total(li.acct, li.mrr_usd, active, n)
    priced = active & (li.product >= 0)
    pairs = distinct(li.acct[priced] * (int(li.product.max(initial=0)) + 1) + li.product[priced])
    services = np.bincount(pairs // (int(li.product.max(initial=0)) + 1), minlength=n).astype(np.int64)
    return {"mrr_usd": mrr, "arr_usd": 12.0 * mrr, "active_services": services}


def bookings(book: Book, as_of: date, params: MetricsConfig) -> dict[str, np.ndarray]:
    """Won amounts in the year to as_of and the year before, and the win rate over the win-rate window."""
    opp, n = book.opportunities, book.n
    a = day_number(as_of)
    months = params.windows.annual_revenue_months
    year_start = day_number(add_months(as_of, -months))  # exclusive bounds: (start, end]
    prev_start = day_number(add_months(as_of, -2 * months))
    rate_start = day_number(add_months(as_of, -params.windows.win_rate_months))
    this_year = opp.won & (opp.close > year_start) & (opp.close <= a)
    prev_year = opp.won & (opp.close > prev_start) & (opp.close <= year_start)
    in_rate_window = (opp.close > rate_start) & (opp.close <= a)
    won_12m = total(opp.acct, opp.amount_usd, this_year, n)
    won_prev = total(opp.acct, opp.amount_usd, prev_year, n)
    won = count(opp.acct, opp.won & in_rate_window, n)
    lost = count(opp.acct, opp.lost & in_rate_window, n)
    decided = won + lost
    return {
        "won_12m_usd": won_12m,
        "won_prev_12m_usd": won_prev,
        "won_24m": won,
        "lost_24m": lost,
        "annual_revenue_usd": won_12m,
        "yoy_growth": np.divide(won_12m - won_prev, won_prev, out=np.full(n, np.nan), where=won_prev != 0),
        "win_rate": np.divide(won, decided, out=np.full(n, np.nan), where=decided > 0),
    }


def revenue_metrics(book: Book, as_of: date, params: MetricsConfig) -> pd.DataFrame:
    return pd.DataFrame({**recurring_revenue(book, as_of), **bookings(book, as_of, params)})


def customer_lifetime_value(arr_usd: np.ndarray, churn_risk: np.ndarray, params: MetricsConfig) -> np.ndarray:
    """ARR x gross margin x expected lifetime, lifetime = clamp(100 / churn risk, min, max) years.

    A churn risk of 0 means the maximum lifetime; an unknown churn risk gives
    no basis for a lifetime, so CLV is null then rather than a guess.
    """
    c = params.clv
    with np.errstate(divide="ignore"):
        lifetime = np.clip(100.0 / churn_risk, c.lifetime_min_years, c.lifetime_max_years)
    return arr_usd * c.gross_margin * lifetime
