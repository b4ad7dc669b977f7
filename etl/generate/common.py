"""Time and randomness shared by the generators.

Dates are int64 day numbers since 1970-01-01 and instants are int64 seconds,
so whole columns can be shifted and compared with numpy.  Every table draws
from its own random stream derived from the seed and a stream name, so one
table's draws never shift another's and the book is identical run to run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

DAY = 86_400
EXTRACTION_HOUR = 0  # the generated extraction runs as the as-of date begins: nothing is stamped later

ARCHETYPES: tuple[str, ...] = ("growing", "stable", "at_risk", "churning")
GROWING, STABLE, AT_RISK, CHURNING = range(4)


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent generator for one named stream (crc32, not hash(): stable across processes)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(stream.encode())]))


@dataclass(frozen=True)
class Clock:
    """The as-of date every generated record is placed relative to."""

    as_of: date

    @property
    def today(self) -> int:
        return (self.as_of - date(1970, 1, 1)).days

    @property
    def now(self) -> int:
        """The extraction instant: nothing is created or modified after it."""
        return self.today * DAY + EXTRACTION_HOUR * 3600

    @property
    def extracted_at(self) -> datetime:
        return datetime(self.as_of.year, self.as_of.month, self.as_of.day, EXTRACTION_HOUR, tzinfo=UTC)

    @property
    def month(self) -> int:
        return month_index(np.array([self.today]))[0]


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day number."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_start(months: np.ndarray) -> np.ndarray:
    """Day number of the first day of each month index."""
    return np.asarray(months).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Calendar month arithmetic, clipping the day to the target month's length (Jan 31 + 1 = Feb 28/29)."""
    days = np.asarray(days, dtype=np.int64)
    m = month_index(days)
    dom = days - month_start(m)
    target = m + np.asarray(months, dtype=np.int64)
    length = month_start(target + 1) - month_start(target)
    return month_start(target) + np.minimum(dom, length - 1)


def months_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whole months from start to end, rounded to the nearest month."""
    return np.rint((np.asarray(end) - np.asarray(start)) / 30.4375).astype(np.int64)


def choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix, e.g. per-archetype distributions."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def business_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Times of day between 07:00 and 19:00 UTC, when people touch CRM records."""
    return rng.integers(7 * 3600, 19 * 3600, size=n)


@dataclass
class Stamps:
    created: np.ndarray
    modified: np.ndarray  # LastModifiedDate
    system: np.ndarray  # SystemModstamp


def record_stamps(rng: np.random.Generator, created: np.ndarray, now: int, touched: np.ndarray | None = None) -> Stamps:
    """Created <= LastModified <= SystemModstamp <= now, with at least a minute between
    creation and the last system stamp (so an older version of any record can exist).

    ``touched`` is an instant the record must have been modified at or after
    (e.g. the moment an opportunity was closed).
    """
    created = np.asarray(created, dtype=np.int64)
    # Anything planned later than an hour before extraction was in fact created in the last few days.
    late = created > now - 3600
    created = np.where(late, now - rng.integers(3600, 3 * DAY, size=len(created)), created)
    span = now - created
    # Most records are edited soon after creation and rarely afterwards.
    modified = created + 60 + (rng.beta(0.6, 3.0, size=len(created)) * (span - 120)).astype(np.int64)
    if touched is not None:
        modified = np.maximum(modified, np.minimum(np.asarray(touched, dtype=np.int64), now - 120))
    system = np.minimum(modified + rng.integers(0, 90, size=len(created)), now)
    return Stamps(created, modified, system)


def expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten ranges: for each i, starts[i] .. starts[i]+counts[i]-1; also returns each element's owner i."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    within = np.arange(counts.sum()) - np.repeat(offsets, counts)
    return np.repeat(np.asarray(starts, dtype=np.int64), counts) + within, owner


def within_group(counts: np.ndarray) -> np.ndarray:
    """Position of each element inside its group, for groups laid out contiguously."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(offsets, counts)
