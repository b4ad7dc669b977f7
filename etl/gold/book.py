"""The book of accounts: silver turned once into flat numpy arrays.

Every gold figure is a per-account aggregate evaluated at an as-of date, and
the metric history evaluates it at a dozen dates.  Parsing strings and
dates once, and mapping every record to its account's position (accounts
sorted by account_id) once, turns each evaluation into integer comparisons
and ``np.bincount`` over arrays.

Conventions: a date is a float day number (days since 1970-01-01) with NaN
for null, so a comparison with a missing date is simply False; ``acct`` is
the account's position in `Book.account_ids`.  Records of accounts that are
not in silver ``accounts`` are dropped: gold has no row to put them on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.errors import DataError
from etl.gold.params import MetricsConfig

# Columns gold reads from each silver table (a subset of etl.contracts.SILVER_TABLES).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id", "account_name", "parent_id", "industry", "country_code", "region", "owner_id", "owner_name"),
    "contacts": ("contact_id", "account_id", "last_activity_date"),
    "opportunities": (
        "opportunity_id", "account_id", "opportunity_name", "opportunity_type", "status",
        "amount_usd", "close_date", "created_at", "term_months",
    ),
    "opportunity_line_items": (
        "line_item_id", "opportunity_id", "account_id", "product_id", "product_code",
        "total_price_usd", "service_start_date", "term_months", "service_end_date",
    ),
    "cases": ("case_id", "account_id", "case_number", "subject", "status", "priority", "is_escalated", "is_closed", "created_at", "closed_at"),
    "contracts": ("contract_id", "account_id", "contract_number", "status", "start_date", "end_date"),
    "activities": ("activity_id", "account_id", "activity_type", "subject", "status", "activity_date", "is_qbr"),
    "invoices": ("invoice_id", "account_id", "invoice_number", "issue_date", "due_date", "paid_date", "amount_usd", "status"),
    "usage": ("account_id", "service_code", "usage_month", "quantity", "unit"),
}


# --------------------------------------------------------------------------- conversions


def _arrow(series: pd.Series) -> pa.Array:
    return pa.array(series, from_pandas=True)


def day_numbers(series: pd.Series, table: str, column: str) -> np.ndarray:
    """Dates or UTC timestamps as float day numbers, NaN for null.

    Accepts what silver frames carry after a Parquet round trip (datetime.date
    objects, datetime64 with or without a time zone) and ISO strings.
    """
    try:
        arr = _arrow(series)
        if pa.types.is_null(arr.type):
            return np.full(len(series), np.nan)
        if pa.types.is_timestamp(arr.type):
            # The UTC calendar day, whatever zone the timestamp is displayed in.
            per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[arr.type.unit]
            raw = arr.cast(pa.int64())
            days = (raw.fill_null(0).to_numpy(zero_copy_only=False) // per_day).astype(np.float64)
            days[raw.is_null().to_numpy(zero_copy_only=False)] = np.nan
            return days
        days = arr.cast(pa.date32()).cast(pa.int32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DataError(f"silver table {table!r}: column {column!r} does not hold dates: {exc}") from exc
    return days.to_numpy(zero_copy_only=False).astype(np.float64)


def flags(series: pd.Series) -> np.ndarray:
    """A boolean column as a numpy bool array; null counts as False."""
    arr = _arrow(series)
    if pa.types.is_null(arr.type):
        return np.zeros(len(series), dtype=bool)
    return arr.cast(pa.bool_()).fill_null(False).to_numpy(zero_copy_only=False)


def upper_in(series: pd.Series, values: tuple[str, ...]) -> np.ndarray:
    """Case-insensitive membership of a text column in a set of codes; null is False."""
    arr = _arrow(series)
    if pa.types.is_null(arr.type) or len(arr) == 0:
        return np.zeros(len(series), dtype=bool)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    codes = pa.array([v.upper() for v in values], arr.type)
    return pc.is_in(pc.utf8_upper(arr), value_set=codes).fill_null(False).to_numpy(zero_copy_only=False)


def numbers(series: pd.Series, table: str, column: str) -> np.ndarray:
    try:
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise DataError(f"silver table {table!r}: column {column!r} does not hold numbers: {exc}") from exc


def positions(keys: pd.Series, index: pa.Array) -> np.ndarray:
    """Position of each key in `index` (unique keys), -1 when absent or null."""
    arr = _arrow(keys)
    if pa.types.is_null(arr.type) or len(arr) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    found = pc.index_in(arr.cast(index.type), value_set=index)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def id_ranks(ids: pd.Series) -> np.ndarray:
    """Rank of each id in string order: a tie-breaker that does not depend on row order."""
    arr = _arrow(ids)
    order = pc.array_sort_indices(arr, null_placement="at_start").to_numpy()
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def add_months_days(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Day numbers shifted by calendar months (day clamped to month end); NaN in, NaN out."""
    out = np.full(len(days), np.nan)
    ok = ~np.isnan(days) & ~np.isnan(months)
    d = days[ok].astype("int64").astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    day_of_month = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + months[ok].astype(np.int64)
    month_len = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out[ok] = (target.astype("datetime64[D]") + np.minimum(day_of_month, month_len - 1)).astype(np.int64)
    return out


# --------------------------------------------------------------------------- per-table arrays


@dataclass(frozen=True)
class Invoices:
    frame: pd.DataFrame
    acct: np.ndarray
    issue: np.ndarray
    due: np.ndarray
    paid: np.ndarray
    paid_undated: np.ndarray  # status PAID but no paid_date: paid, at an unknown date
    void: np.ndarray
    amount_usd: np.ndarray


@dataclass(frozen=True)
class Cases:
    frame: pd.DataFrame
    acct: np.ndarray
    created: np.ndarray
    closed: np.ndarray  # NaN while open
    escalated: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class Opportunities:
    frame: pd.DataFrame
    acct: np.ndarray
    close: np.ndarray
    created: np.ndarray  # -inf when unknown: the opportunity is taken to have always existed
    won: np.ndarray
    lost: np.ndarray
    renewal: np.ndarray
    amount_usd: np.ndarray
    id_rank: np.ndarray


@dataclass(frozen=True)
class Lines:
    frame: pd.DataFrame
    acct: np.ndarray
    start: np.ndarray
    end: np.ndarray  # exclusive
    mrr_usd: np.ndarray
    product: np.ndarray  # integer code of product_code (product_id when the code is missing); -1 unknown
    won_on: np.ndarray  # close day of the opportunity if it was won, else NaN


@dataclass(frozen=True)
class Contracts:
    frame: pd.DataFrame
    acct: np.ndarray
    start: np.ndarray
    end: np.ndarray  # inclusive, as Salesforce's Contract.EndDate
    in_effect: np.ndarray  # not DRAFT


@dataclass(frozen=True)
class Activities:
    frame: pd.DataFrame
    acct: np.ndarray
    day: np.ndarray
    qbr: np.ndarray


@dataclass(frozen=True)
class Contacts:
    acct: np.ndarray
    last_activity: np.ndarray


@dataclass(frozen=True)
class Usage:
    frame: pd.DataFrame
    acct: np.ndarray
    series: np.ndarray  # one id per (account, service_code, unit)
    month: np.ndarray  # month index (year * 12 + month - 1)
    quantity: np.ndarray
    series_acct: np.ndarray  # account position of each series


@dataclass(frozen=True)
class Book:
    accounts: pd.DataFrame  # sorted by account_id, index 0..n-1
    account_ids: pa.Array
    invoices: Invoices
    cases: Cases
    opportunities: Opportunities
    lines: Lines
    contracts: Contracts
    activities: Activities
    contacts: Contacts
    usage: Usage

    @property
    def n(self) -> int:
        return len(self.accounts)


def _check_columns(silver: Mapping[str, pd.DataFrame]) -> None:
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in silver:
            raise DataError(f"silver table {table!r} is missing (pass an empty frame when it has no rows)")
        missing = [c for c in columns if c not in silver[table].columns]
        if missing:
            raise DataError(f"silver table {table!r} lacks column(s) {missing}")


def _duplicates(series: pd.Series) -> list[str]:
    return sorted(series[series.duplicated()].astype(str).unique().tolist())[:5]


def _known(frame: pd.DataFrame, index: pa.Array) -> tuple[pd.DataFrame, np.ndarray]:
    acct = positions(frame["account_id"], index)
    keep = acct >= 0
    if keep.all():
        return frame.reset_index(drop=True), acct
    return frame.loc[keep].reset_index(drop=True), acct[keep]


def _unique_ids(frame: pd.DataFrame, table: str, column: str) -> None:
    if frame[column].isna().any():
        raise DataError(f"silver table {table!r}: {column} is null in some rows")
    dup = _duplicates(frame[column])
    if dup:
        raise DataError(f"silver table {table!r}: duplicate {column} {dup}")


def _invoices(frame: pd.DataFrame, account_ids: pa.Array) -> Invoices:
    inv, acct = _known(frame, account_ids)
    return Invoices(
        frame=inv,
        acct=acct,
        issue=day_numbers(inv["issue_date"], "invoices", "issue_date"),
        due=day_numbers(inv["due_date"], "invoices", "due_date"),
        paid=day_numbers(inv["paid_date"], "invoices", "paid_date"),
        paid_undated=upper_in(inv["status"], ("PAID",)) & inv["paid_date"].isna().to_numpy(),
        void=upper_in(inv["status"], ("VOID",)),
        amount_usd=numbers(inv["amount_usd"], "invoices", "amount_usd"),
    )


def _cases(frame: pd.DataFrame, account_ids: pa.Array, params: MetricsConfig) -> Cases:
    cs, acct = _known(frame, account_ids)
    created = day_numbers(cs["created_at"], "cases", "created_at")
    closed = day_numbers(cs["closed_at"], "cases", "closed_at")
    # Closed with no closing time: taken as closed since it was opened, the only date we have.
    closed = np.where(np.isnan(closed) & flags(cs["is_closed"]), created, closed)
    return Cases(
        frame=cs,
        acct=acct,
        created=created,
        closed=closed,
        escalated=flags(cs["is_escalated"]),
        high=upper_in(cs["priority"], params.facts.high_priorities),
    )


def _opportunities(frame: pd.DataFrame, account_ids: pa.Array) -> Opportunities:
    _unique_ids(frame, "opportunities", "opportunity_id")
    opp, acct = _known(frame, account_ids)
    created = day_numbers(opp["created_at"], "opportunities", "created_at")
    return Opportunities(
        frame=opp,
        acct=acct,
        close=day_numbers(opp["close_date"], "opportunities", "close_date"),
        created=np.where(np.isnan(created), -np.inf, created),
        won=upper_in(opp["status"], ("WON",)),
        lost=upper_in(opp["status"], ("LOST",)),
        renewal=upper_in(opp["opportunity_type"], ("RENEWAL",)),
        amount_usd=numbers(opp["amount_usd"], "opportunities", "amount_usd"),
        id_rank=id_ranks(opp["opportunity_id"]),
    )


def _lines(frame: pd.DataFrame, account_ids: pa.Array, opps: Opportunities, params: MetricsConfig) -> Lines:
    """Line items with their monthly value and the day their opportunity was won.

    A line without a term takes its opportunity's, then the configured default;
    a line without an end date ends start + term months (exclusive).
    """
    table = "opportunity_line_items"
    li, acct = _known(frame, account_ids)
    opp_pos = positions(li["opportunity_id"], pa.array(opps.frame["opportunity_id"].astype("str"), pa.large_string()))
    has_opp = opp_pos >= 0
    at = np.where(has_opp, opp_pos, 0)
    opp_term = numbers(opps.frame["term_months"], "opportunities", "term_months")
    from_opp = np.where(has_opp, opp_term[at], np.nan) if len(opps.acct) else np.full(len(li), np.nan)
    won_on = np.where(has_opp, np.where(opps.won[at], opps.close[at], np.nan), np.nan) if len(opps.acct) else np.full(len(li), np.nan)
    term = numbers(li["term_months"], table, "term_months")
    term = np.where(term > 0, term, np.where(from_opp > 0, from_opp, float(params.revenue.default_term_months)))
    start = day_numbers(li["service_start_date"], table, "service_start_date")
    end = day_numbers(li["service_end_date"], table, "service_end_date")
    product, _ = pd.factorize(li["product_code"].where(li["product_code"].notna(), li["product_id"]), use_na_sentinel=True)
    return Lines(
        frame=li,
        acct=acct,
        start=start,
        end=np.where(np.isnan(end), add_months_days(start, term), end),
        mrr_usd=numbers(li["total_price_usd"], table, "total_price_usd") / term,
        product=product.astype(np.int64),
        won_on=won_on,
    )


def _contracts(frame: pd.DataFrame, account_ids: pa.Array) -> Contracts:
    ct, acct = _known(frame, account_ids)
    return Contracts(
        frame=ct,
        acct=acct,
        start=day_numbers(ct["start_date"], "contracts", "start_date"),
        end=day_numbers(ct["end_date"], "contracts", "end_date"),
        in_effect=~upper_in(ct["status"], ("DRAFT",)),
    )


def _activities(frame: pd.DataFrame, account_ids: pa.Array) -> Activities:
    act, acct = _known(frame, account_ids)
    return Activities(
        frame=act,
        acct=acct,
        day=day_numbers(act["activity_date"], "activities", "activity_date"),
        qbr=flags(act["is_qbr"]),
    )


def _contacts(frame: pd.DataFrame, account_ids: pa.Array) -> Contacts:
    con, acct = _known(frame, account_ids)
    return Contacts(acct=acct, last_activity=day_numbers(con["last_activity_date"], "contacts", "last_activity_date"))


def _usage(frame: pd.DataFrame, account_ids: pa.Array) -> Usage:
    """One series per (account, service, unit), so quantities are only ever compared within one unit."""
    us, acct = _known(frame, account_ids)
    service, _ = pd.factorize(us["service_code"], use_na_sentinel=False)
    unit, _ = pd.factorize(us["unit"], use_na_sentinel=False)
    key = (acct * (service.max(initial=0) + 1) + service) * (unit.max(initial=0) + 1) + unit
    series, uniques = pd.factorize(key)
    series_acct = np.zeros(len(uniques), dtype=np.int64)
    series_acct[series] = acct
    first_days = day_numbers(us["usage_month"], "usage", "usage_month")
    dated = ~np.isnan(first_days)
    month = np.full(len(us), -1, dtype=np.int64)
    month[dated] = first_days[dated].astype(np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    return Usage(
        frame=us,
        acct=acct,
        series=series.astype(np.int64),
        month=month,
        quantity=numbers(us["quantity"], "usage", "quantity"),
        series_acct=series_acct,
    )


def prepare_book(silver: Mapping[str, pd.DataFrame], params: MetricsConfig) -> Book:
    """Validate the silver frames gold reads and convert them to arrays, once per run."""
    _check_columns(silver)
    _unique_ids(silver["accounts"], "accounts", "account_id")
    accounts = silver["accounts"].sort_values("account_id", kind="stable").reset_index(drop=True)
    account_ids = pa.array(accounts["account_id"].astype("str"), pa.large_string())
    opportunities = _opportunities(silver["opportunities"], account_ids)
    return Book(
        accounts=accounts,
        account_ids=account_ids,
        invoices=_invoices(silver["invoices"], account_ids),
        cases=_cases(silver["cases"], account_ids, params),
        opportunities=opportunities,
        lines=_lines(silver["opportunity_line_items"], account_ids, opportunities, params),
        contracts=_contracts(silver["contracts"], account_ids),
        activities=_activities(silver["activities"], account_ids),
        contacts=_contacts(silver["contacts"], account_ids),
        usage=_usage(silver["usage"], account_ids),
    )
