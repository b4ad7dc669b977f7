"""The two file feeds: monthly invoices from billing and monthly usage from the
mediation platform, both derived from the services the contracts made active.

An invoice is issued on the first of every month an account has an active
service, for the monthly share of each active line (TotalPrice / term).
Payment behaviour follows the archetype, and for at-risk and churning
customers it deteriorates only in recent months.  Usage follows the
contracted quantity with an archetype trend (growing, flat, sliding, with
cliff drops for some churning customers), seasonality and noise.  Both feeds
are produced month by month so a million-account book never has to be held
in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import (
    AT_RISK,
    CHURNING,
    DAY,
    Clock,
    business_seconds,
    choice_rows,
    month_index,
    month_start,
)
from etl.generate.companies import Book
from etl.generate.sales import Deals

WINDOW_MONTHS = 24
INVOICE_STATUSES = ("ISSUED", "PAID", "VOID")
ISSUED, PAID, VOID = range(3)
# Payment outcome (on time, 1-20 days late, 21-90 days late, never) per archetype in the last
# nine months, and before that (when at-risk and churning customers still paid like the rest).
PAYMENT_RECENT = np.array([[0.96, 0.04, 0.0, 0.0], [0.91, 0.08, 0.01, 0.0], [0.62, 0.20, 0.13, 0.05],
                           [0.35, 0.25, 0.25, 0.15]])
PAYMENT_EARLIER = np.array([[0.96, 0.04, 0.0, 0.0], [0.91, 0.08, 0.01, 0.0], [0.84, 0.13, 0.03, 0.0],
                            [0.78, 0.16, 0.06, 0.0]])
VOID_SHARE = 0.005
# Usage trend in log-units per month: (min, max) before and after the onset of decline.
TREND_BEFORE = np.array([[0.02, 0.06], [-0.004, 0.004], [-0.005, 0.01], [-0.005, 0.01]])
TREND_AFTER = np.array([[0.02, 0.06], [-0.004, 0.004], [-0.04, -0.01], [-0.10, -0.03]])
ONSET_MONTHS_AGO = np.array([[0, 0], [0, 0], [4, 12], [3, 9]])  # (min, max); 0 = no decline
CLIFF_SHARE = 0.5  # of churning customers: a sudden drop in the last 1-3 months
NOISE = np.array([0.03, 0.02, 0.03, 0.04])

_UNIT = text.vocab([p.usage_unit for p in cat.PRODUCTS])
_CODE = text.vocab([p.code for p in cat.PRODUCTS])
_PER_UNIT = np.array([p.usage_per_unit for p in cat.PRODUCTS])
_INTEGER = np.array([p.integer_usage for p in cat.PRODUCTS])


@dataclass
class ActiveServices:
    """Which won lines are billed and used in which months of the window."""

    first_month: int  # month index of the window's first month
    account: np.ndarray  # per won line
    product: np.ndarray
    quantity: np.ndarray
    monthly: np.ndarray  # TotalPrice / term, in the account currency
    month_from: np.ndarray  # month index, inclusive
    month_to: np.ndarray  # exclusive


def active_services(deals: Deals, clock: Clock) -> ActiveServices:
    won = np.flatnonzero(deals.line_cover_start >= 0)
    # A service starting in the second half of a month is first billed the month after.
    return ActiveServices(
        first_month=clock.month - WINDOW_MONTHS + 1,
        account=deals.opp_account[deals.line_opp[won]],
        product=deals.line_product[won],
        quantity=deals.line_qty[won],
        monthly=deals.line_total[won] / deals.line_term[won],
        month_from=month_index(deals.line_cover_start[won] + 15),
        month_to=month_index(deals.line_cover_end[won] + 15),
    )


def invoice_months(book: Book, services: ActiveServices, clock: Clock, rng: np.random.Generator
                   ) -> Iterator[tuple[str, pa.Table]]:
    """One invoice file per issue month: (\"YYYY-MM\", table)."""
    n = book.n
    w = WINDOW_MONTHS
    start = np.clip(services.month_from - services.first_month, 0, w)
    stop = np.clip(services.month_to - services.first_month, 0, w)
    # Monthly charges per account as a running sum of starts and stops over the window.
    delta = (np.bincount(services.account * (w + 1) + start, weights=services.monthly, minlength=n * (w + 1))
             - np.bincount(services.account * (w + 1) + stop, weights=services.monthly, minlength=n * (w + 1)))
    charges = np.cumsum(delta.reshape(n, w + 1), axis=1)[:, :w]
    decimals = cat.CURRENCY_DECIMALS[book.currency]
    billed = ~book.no_billing
    currency = text.vocab(cat.CURRENCIES)
    sequence = int(rng.integers(10**6, 5 * 10**6))
    for offset in range(w):
        month = services.first_month + offset
        acct = np.flatnonzero(billed & (charges[:, offset] >= 1.0))
        m = len(acct)
        issue = np.full(m, month_start(np.array([month]))[0])
        due = issue + 30
        scale = 10.0 ** decimals[acct]
        amount = np.round(charges[acct, offset] * rng.normal(1.0, 0.015, m) * scale) / scale
        arch = book.archetype[acct]
        recent = month > clock.month - 9
        outcome = choice_rows(rng, (PAYMENT_RECENT if recent else PAYMENT_EARLIER)[arch])
        delay = np.select([outcome == 0, outcome == 1, outcome == 2],
                          [-rng.integers(0, 21, size=m), rng.integers(1, 21, size=m), rng.integers(21, 91, size=m)],
                          10**6)
        paid = due + delay
        is_paid = paid < clock.today  # payments land by the day before the extraction
        void = rng.random(m) < VOID_SHARE
        status = np.where(void, VOID, np.where(is_paid, PAID, ISSUED))
        is_paid &= ~void
        updated = np.select([is_paid, void], [paid * DAY + business_seconds(rng, m),
                                              (issue + rng.integers(1, 11, size=m)) * DAY + business_seconds(rng, m)],
                            issue * DAY + 2 * 3600 + rng.integers(0, 1800, size=m))
        updated = np.minimum(updated, clock.now - 60)
        seq = sequence + np.arange(m)
        sequence += m
        table = pa.table({
            "invoice_id": text.numbers(seq * 7 + 3, 10, "B"),
            "account_id": book.ids.take(pa.array(acct)),
            "invoice_number": text.numbers(seq, 8, "INV-"),
            "issue_date": text.dates(issue),
            "due_date": text.dates(due),
            "paid_date": text.dates(paid, valid=is_paid),
            "amount": pa.array(amount),
            "currency": currency.take(pa.array(book.currency[acct])),
            "status": text.pick(text.vocab(INVOICE_STATUSES), status),
            "updated_at": text.datetimes(updated),
        })
        yield text.year_months(np.array([month]))[0].as_py(), table


def usage_months(book: Book, services: ActiveServices, clock: Clock, rng: np.random.Generator
                 ) -> Iterator[tuple[str, pa.Table]]:
    """One usage file per usage month, up to and including the as-of month: (\"YYYY-MM\", table)."""
    n = book.n
    k = len(cat.PRODUCTS)
    w = WINDOW_MONTHS
    first = services.first_month
    # One metered service per account and product: the span of all its lines, at the largest quantity.
    key = services.account * k + services.product
    span_from = np.full(n * k, np.iinfo(np.int64).max)
    span_to = np.full(n * k, -1)
    peak = np.zeros(n * k)
    np.minimum.at(span_from, key, services.month_from)
    np.maximum.at(span_to, key, services.month_to)
    np.maximum.at(peak, key, services.quantity)
    keys = np.flatnonzero((span_to > first) & ~np.repeat(book.no_usage, k))
    acct, product = keys // k, keys % k
    span_from, span_to = span_from[keys], span_to[keys]
    base = peak[keys] * _PER_UNIT[product]

    # Cumulative log-growth per account at each window month.
    arch = book.archetype
    before = rng.uniform(*TREND_BEFORE[arch].T)
    after = rng.uniform(*TREND_AFTER[arch].T)
    onset_ago = rng.integers(ONSET_MONTHS_AGO[arch, 0], ONSET_MONTHS_AGO[arch, 1] + 1)
    onset = np.where(np.isin(arch, (AT_RISK, CHURNING)), clock.month - onset_ago, clock.month + 1)
    months = first + np.arange(w)[None, :]
    growth = before[:, None] * (np.minimum(months, onset[:, None]) - first) \
        + after[:, None] * np.maximum(months - onset[:, None], 0)
    cliff = (arch == CHURNING) & (rng.random(n) < CLIFF_SHARE)
    cliff_from = clock.month - rng.integers(0, 3, size=n)
    growth += np.where(cliff[:, None] & (months >= cliff_from[:, None]), np.log(rng.uniform(0.2, 0.6, n))[:, None], 0)
    anchor = np.clip(span_from - first, 0, w - 1)
    level_at_start = growth[acct, anchor]
    noise = NOISE[arch]
    del arch

    for offset in range(w):
        month = first + offset
        live = np.flatnonzero((span_from <= month) & (span_to > month))
        a, p = acct[live], product[live]
        m = len(live)
        qty = base[live] * np.exp(growth[a, offset] - level_at_start[live]) * cat.SEASONALITY[month % 12] \
            * rng.lognormal(0.0, noise[a])
        qty = np.where(_INTEGER[p], np.round(qty), np.round(qty, 1))
        updated = (month_start(np.array([month + 1]))[0] + 2) * DAY + rng.integers(3600, 5 * 3600, size=m)
        updated = np.where(updated < clock.now, updated, clock.now - rng.integers(600, 7200, size=m))
        label = text.year_months(np.array([month]))[0].as_py()
        table = pa.table({
            "account_id": book.ids.take(pa.array(a)),
            "service_code": _CODE.take(pa.array(p)),
            "usage_month": pa.repeat(label, m).cast(pa.string()),
            "quantity": pa.array(qty.astype(float)),
            "unit": _UNIT.take(pa.array(p)),
            "updated_at": text.datetimes(updated),
        })
        yield label, table
