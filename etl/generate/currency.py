"""The org's multi-currency tables: CurrencyType (one static rate per currency)
and DatedConversionRate (monthly rates drifting around it, covering every
close date and invoice date the book contains)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import DAY, Clock, Stamps, business_seconds, month_start, record_stamps

HISTORY_MONTHS = 48  # opportunities close up to ~37 months back; invoices go back 24
OPEN_END = "9999-12-31"  # the last period has no end


def currency_type_table(clock: Clock, rng: np.random.Generator, pod: str) -> tuple[pa.Table, Stamps]:
    n = len(cat.CURRENCIES)
    created = (clock.today - 2500 + np.arange(n)) * DAY + business_seconds(rng, n)
    stamps = record_stamps(rng, created, clock.now)
    table = pa.table({
        "Id": text.salesforce_ids("02c", np.arange(n) + 11, pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "IsoCode": text.vocab(cat.CURRENCIES),
        "ConversionRate": pa.array(cat.CURRENCY_RATES),
        "IsCorporate": pa.array(np.arange(n) == 0),
        "IsActive": pa.repeat(True, n).cast(pa.bool_()),
    })
    return table, stamps


def dated_rate_table(clock: Clock, rng: np.random.Generator, pod: str) -> tuple[pa.Table, Stamps]:
    """Monthly periods; rates follow a mean-reverting walk of about 2% a month around CurrencyType."""
    k = len(cat.CURRENCIES)
    months = clock.month - HISTORY_MONTHS + np.arange(HISTORY_MONTHS + 1)
    shocks = rng.normal(0.0, 0.02, size=(len(months), k))
    drift = np.zeros_like(shocks)
    for t in range(1, len(months)):  # one step per month (49), not per row
        drift[t] = 0.85 * drift[t - 1] + shocks[t]
    drift[:, 0] = 0.0  # the corporate currency is always 1
    rates = np.round(cat.CURRENCY_RATES[None, :] * np.exp(drift), 6)
    code = np.tile(np.arange(k), len(months))
    period = np.repeat(months, k)
    start = month_start(period)
    next_start = text.dates(month_start(period + 1))
    last = period == months[-1]
    n = len(code)
    created = start * DAY - rng.integers(3600, 5 * DAY, size=n)  # entered shortly before each period
    stamps = record_stamps(rng, created, clock.now)
    table = pa.table({
        "Id": text.salesforce_ids("04w", text.creation_rank(created) + 101, pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "IsoCode": text.vocab(cat.CURRENCIES).take(pa.array(code)),
        "ConversionRate": pa.array(rates.ravel()),
        "StartDate": text.dates(start),
        "NextStartDate": text.where(last, OPEN_END, next_start),
    })
    return table, stamps
