"""Calendar arithmetic for as-of windows.

Gold works on whole days: a date is an integer day number (days since
1970-01-01, as numpy and Arrow count them) so windows over millions of rows
are plain integer comparisons.  Month windows are calendar months, with the
day clamped to the month's end (2024-02-29 minus 12 months is 2023-02-28).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def add_months(d: date, months: int) -> date:
    """Shift by calendar months, clamping the day to the target month's length."""
    total = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(total, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def month_index(d: date) -> int:
    """Months since January of year 0: consecutive months differ by one."""
    return d.year * 12 + d.month - 1


def last_full_month(as_of: date) -> int:
    """Month index of the latest calendar month that has ended by the end of as_of.

    That is as_of's own month when as_of is its last day, else the month before:
    usage for a month is only complete once the month is over.
    """
    is_month_end = (as_of + timedelta(days=1)).day == 1
    return month_index(as_of) - (0 if is_month_end else 1)


def month_ends_before(as_of: date, n: int) -> list[date]:
    """The last n month-ends strictly before as_of, oldest first (for --backfill-months)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    first_of_month = as_of.replace(day=1)
    # The latest month-end strictly before as_of: as_of itself is excluded even when it is one.
    latest = first_of_month - timedelta(days=1)
    ends = []
    for k in range(n):
        d = add_months(latest.replace(day=1), -k)
        ends.append(date(d.year, d.month, calendar.monthrange(d.year, d.month)[1]))
    return sorted(ends)
