"""All per-account metrics at one as-of date, as typed columns.

The one evaluation shared by compute_gold (today's metrics) and
compute_metric_history (the same metrics at past month-ends), so a history
row for a date and the metrics computed as of that date cannot disagree.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from etl.gold.book import Book
from etl.gold.churn import churn_components, churn_score
from etl.gold.facts import account_facts
from etl.gold.health import health_components, health_score
from etl.gold.params import MetricsConfig
from etl.gold.revenue import customer_lifetime_value, revenue_metrics

DATE_FACTS = ("last_qbr_date", "last_contact_activity_date", "next_contract_end_date")
DAY_COUNT_FACTS = ("max_days_overdue", "days_since_contact", "days_to_contract_end")
FLAG_FACTS = ("last_renewal_on_time",)


def as_dates(days: np.ndarray) -> np.ndarray:
    """Float day numbers (NaN = null) as datetime64[s] with NaT, which Arrow writes as date32."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[s]")
    known = ~np.isnan(days)
    out[known] = days[known].astype(np.int64).astype("datetime64[D]")
    return out


def as_nullable_int(values: np.ndarray) -> pd.arrays.IntegerArray:
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def as_nullable_bool(values: np.ndarray) -> pd.arrays.BooleanArray:
    missing = np.isnan(values)
    return pd.arrays.BooleanArray(np.where(missing, 0, values).astype(bool), missing)


def evaluate(book: Book, as_of: date, params: MetricsConfig) -> pd.DataFrame:
    """Scores, components, revenue and facts at as_of: one row per account, in book (account_id) order."""
    facts = account_facts(book, as_of, params)
    revenue = revenue_metrics(book, as_of, params)
    health = health_components(facts, params)
    churn = churn_components(facts, params)
    score, category = health_score(health, params)
    risk, level = churn_score(churn, params)
    clv = customer_lifetime_value(revenue["arr_usd"].to_numpy(), risk, params)

    out = pd.DataFrame(
        {
            "health_score": score,
            "health_category": category,
            "churn_risk": risk,
            "churn_level": level,
            **{c: revenue[c] for c in ("mrr_usd", "arr_usd", "active_services", "annual_revenue_usd", "yoy_growth", "win_rate")},
            "clv_usd": clv,
            **health,
            **churn,
        }
    )
    for name in facts.columns:
        values = facts[name].to_numpy()
        if name in DATE_FACTS:
            out[name] = as_dates(values)
        elif name in DAY_COUNT_FACTS:
            out[name] = as_nullable_int(values)
        elif name in FLAG_FACTS:
            out[name] = as_nullable_bool(values)
        else:
            out[name] = values
    for name in ("won_12m_usd", "won_prev_12m_usd", "won_24m", "lost_24m"):
        out[name] = revenue[name]
    return out
