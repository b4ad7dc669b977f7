"""Per-account facts at an as-of date: the evidence behind health and churn.

Health and churn read the same counts, days and ratios, and the API shows
them next to the scores so a user can see why an account scores 42.  Every
fact sees the records as they stood at the end of the as-of day: an invoice
paid later is unpaid, a case closed later is open, a record dated later does
not exist.  A fact that cannot be known is NaN (null), never a made-up 0; a
count of nothing is a true 0.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from etl.gold.book import Book
from etl.gold.dates import add_months, day_number, last_full_month
from etl.gold.params import MetricsConfig
from etl.gold.reduce import count, last_per_account, maximum, minimum, total


def payment_facts(book: Book, as_of: date, params: MetricsConfig) -> dict[str, np.ndarray]:
    inv, n = book.invoices, book.n
    a = day_number(as_of)
    window_start = day_number(add_months(as_of, -params.windows.payment_months))  # exclusive
    issued = (inv.issue <= a) & ~inv.void
    paid = (inv.paid <= a) | inv.paid_undated
    in_window = issued & (inv.issue > window_start)
    # Only invoices already paid or past their due date can be judged on time or late.
    judged = in_window & (paid | (inv.due < a))
    on_time = in_window & (inv.paid <= inv.due) & (inv.paid <= a)
    unpaid = issued & ~paid
    days_overdue = np.where(unpaid & (inv.due < a), a - inv.due, np.nan)
    has_invoices = count(inv.acct, issued, n) > 0
    worst = maximum(inv.acct, days_overdue, unpaid, n)
    return {
        "invoices_12m": count(inv.acct, in_window, n),
        "invoices_due_12m": count(inv.acct, judged, n),
        "invoices_paid_on_time_12m": count(inv.acct, on_time, n),
        "invoices_overdue_15d": count(inv.acct, unpaid & (a - inv.due > params.facts.overdue_grace_days), n),
        "max_days_overdue": np.where(has_invoices, np.where(np.isnan(worst), 0.0, worst), np.nan),
        "unpaid_amount_usd": np.where(has_invoices, total(inv.acct, inv.amount_usd, unpaid, n), np.nan),
    }


def support_facts(book: Book, as_of: date, params: MetricsConfig) -> dict[str, np.ndarray]:
    cs, n = book.cases, book.n
    a = day_number(as_of)
    opened = cs.created <= a
    recent = opened & (cs.created > a - params.windows.support_days)
    return {
        "cases_total": count(cs.acct, opened, n),
        "cases_90d": count(cs.acct, recent, n),
        "high_critical_cases_90d": count(cs.acct, recent & cs.high, n),
        "escalated_cases_90d": count(cs.acct, recent & cs.escalated, n),
        "open_cases": count(cs.acct, opened & ~(cs.closed <= a), n),
    }


def usage_facts(book: Book, as_of: date, params: MetricsConfig) -> dict[str, np.ndarray]:
    """Compare the last k full months with the k before, service by service.

    Services are metered in different units (GB, minutes, lines), so their
    quantities are never added for the score: each (service, unit) series
    gives a ratio last/previous, and the account's growth is the mean ratio
    minus one over the series that had usage in the earlier period.
    """
    us, n = book.usage, book.n
    k = params.windows.usage_months
    last_month = last_full_month(as_of)
    recent = (us.month > last_month - k) & (us.month <= last_month)
    earlier = (us.month > last_month - 2 * k) & (us.month <= last_month - k)
    n_series = len(us.series_acct)
    last_qty = np.bincount(us.series[recent], weights=us.quantity[recent], minlength=n_series)
    prev_qty = np.bincount(us.series[earlier], weights=us.quantity[earlier], minlength=n_series)
    compared = prev_qty > 0
    ratio = np.divide(last_qty, prev_qty, out=np.zeros(n_series), where=compared)
    n_compared = np.bincount(us.series_acct[compared], minlength=n).astype(np.int64)
    ratio_sum = np.bincount(us.series_acct[compared], weights=ratio[compared], minlength=n)
    growth = np.divide(ratio_sum, n_compared, out=np.full(n, np.nan), where=n_compared > 0) - 1.0
    has_rows = count(us.acct, recent | earlier, n) > 0
    return {
        "usage_last_3m": np.where(has_rows, total(us.acct, us.quantity, recent, n), np.nan),
        "usage_prev_3m": np.where(has_rows, total(us.acct, us.quantity, earlier, n), np.nan),
        "usage_services_compared": n_compared,
        "usage_growth": growth,
        "usage_drop": np.maximum(0.0, -growth),  # NaN stays NaN
    }


def engagement_facts(book: Book, as_of: date, params: MetricsConfig) -> dict[str, np.ndarray]:
    act, con, opp, ct, n = book.activities, book.contacts, book.opportunities, book.contracts, book.n
    a = day_number(as_of)
    qbr_start = day_number(add_months(as_of, -params.windows.qbr_months))
    done = act.day <= a
    # A contact's last_activity_date after as_of hides any earlier one, so it is ignored then.
    last_contact = np.fmax(
        maximum(act.acct, act.day, done, n),
        maximum(con.acct, con.last_activity, con.last_activity <= a, n),
    )

    # The last renewal decided by as_of is on time when won no later than the end of the
    # contract it renews: the latest-ending contract in effect that had started by its close.
    closed_renewal = opp.renewal & (opp.won | opp.lost) & (opp.close <= a)
    last = last_per_account(opp.acct, (opp.close, opp.id_rank), closed_renewal, n)
    has_renewal = last >= 0
    renewal_close = np.full(n, np.nan)
    renewal_close[has_renewal] = opp.close[last[has_renewal]]
    renewal_won = np.zeros(n, dtype=bool)
    renewal_won[has_renewal] = opp.won[last[has_renewal]]
    renewed = ct.in_effect & (ct.start <= renewal_close[ct.acct])
    renewed_end = maximum(ct.acct, ct.end, renewed, n)
    on_time = renewal_won & (np.isnan(renewed_end) | (renewal_close <= renewed_end))

    return {
        "qbrs_12m": count(act.acct, done & act.qbr & (act.day > qbr_start), n),
        "last_qbr_date": maximum(act.acct, act.day, done & act.qbr, n),
        "last_contact_activity_date": last_contact,
        "days_since_contact": a - last_contact,
        "last_renewal_on_time": np.where(has_renewal, on_time.astype(np.float64), np.nan),
    }


def contract_facts(book: Book, as_of: date, params: MetricsConfig) -> dict[str, np.ndarray]:
    """What the renewal rules need: when the contract in force ends, and whether a renewal is being worked."""
    ct, opp, n = book.contracts, book.opportunities, book.n
    a = day_number(as_of)
    in_force = ct.in_effect & (ct.start <= a) & (ct.end >= a)
    next_end = minimum(ct.acct, ct.end, in_force, n)
    open_then = opp.renewal & (opp.created <= a) & ~((opp.won | opp.lost) & (opp.close <= a))
    return {
        "next_contract_end_date": next_end,
        "days_to_contract_end": next_end - a,
        "has_open_renewal_opportunity": count(opp.acct, open_then, n) > 0,
    }


def account_facts(book: Book, as_of: date, params: MetricsConfig) -> pd.DataFrame:
    """All health/churn/contract facts, one row per account in book order; dates as day numbers."""
    parts = {}
    for extract in (payment_facts, support_facts, usage_facts, engagement_facts, contract_facts):
        parts.update(extract(book, as_of, params))
    return pd.DataFrame(parts)

