"""Rule facts: what the rules test that gold_customer_360_metrics does not hold.

Gold keeps per-account aggregates; several rules need record-level detail
first: each open case's age against its priority's SLA, each unpaid
invoice's days past due and amount, the monthly usage series of each service
for the anomaly test, segment medians and the product an account lacks.
`build_rule_facts` computes those from silver plus the metrics and returns
the metrics with the extra columns (`rules.fields.RULE_FIELDS`) added.

Conventions follow gold (etl/gold/facts.py): records are seen as they stood
at the end of the as-of day (a case closed later is open, an invoice paid
later is unpaid, a record created later does not exist); a fact that cannot
be known is null, a count of nothing is 0.  Everything is array arithmetic
over all records at once (bincount, lexsort), never a loop over accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.arrays import distinct
from etl.errors import DataError
from rules.fields import GOLD_FIELDS, RULE_FIELDS
from rules.model import Parameters

# Silver columns the facts read (subset of etl.contracts.SILVER_TABLES).
SILVER_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": ("account_id", "case_id", "case_number", "priority", "is_escalated", "is_closed", "created_at", "closed_at"),
    "invoices": ("account_id", "invoice_id", "invoice_number", "issue_date", "due_date", "paid_date", "amount_usd", "status"),
    "usage": ("account_id", "service_code", "unit", "usage_month", "quantity"),
    "opportunities": ("opportunity_id", "status", "close_date", "term_months"),
    "opportunity_line_items": (
        "opportunity_id", "account_id", "product_id", "product_code", "total_price_usd",
        "service_start_date", "service_end_date", "term_months",
    ),
    "products": ("product_code", "product_name"),
}
METRICS_COLUMNS = ("account_id", "active_services", "last_qbr_date", *("industry", "region", "country_code"))
DEFAULT_TERM_MONTHS = 12  # a line with no term on it or its opportunity: the usual telecom contract year
_DAY = 86_400
_EPOCH = date(1970, 1, 1)


# --------------------------------------------------------------------------- conversions


def _arrow(series: pd.Series) -> pa.Array:
    return pa.array(series, from_pandas=True)


def _seconds(series: pd.Series, table: str, column: str) -> np.ndarray:
    """Timestamps (or dates, or ISO text) as float seconds since the epoch, NaN for null."""
    try:
        arr = _arrow(series)
        if pa.types.is_null(arr.type):
            return np.full(len(series), np.nan)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = pc.cast(arr, pa.timestamp("us", tz="UTC"))
        if pa.types.is_date(arr.type):
            arr = pc.cast(arr, pa.timestamp("s"))
        if pa.types.is_timestamp(arr.type):
            arr = pc.cast(pc.cast(arr, pa.timestamp("us", tz=arr.type.tz)), pa.int64())
            return np.where(arr.is_null().to_numpy(zero_copy_only=False), np.nan, arr.fill_null(0).to_numpy(zero_copy_only=False) / 1e6)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DataError(f"silver table {table!r}: column {column!r} does not hold timestamps: {exc}") from exc
    raise DataError(f"silver table {table!r}: column {column!r} does not hold timestamps (type {arr.type})")


def _days(series: pd.Series, table: str, column: str) -> np.ndarray:
    """Dates or timestamps as float day numbers (UTC calendar day), NaN for null."""
    return np.floor(_seconds(series, table, column) / _DAY)


def _flags(series: pd.Series) -> np.ndarray:
    arr = _arrow(series)
    if pa.types.is_null(arr.type):
        return np.zeros(len(series), dtype=bool)
    return pc.fill_null(pc.cast(arr, pa.bool_()), False).to_numpy(zero_copy_only=False)


def _upper(series: pd.Series) -> pa.Array:
    arr = _arrow(series)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(series), pa.string())
    return pc.utf8_upper(pc.cast(arr, pa.string()))


def _text(series: pd.Series) -> pa.Array:
    arr = _arrow(series)
    return pa.nulls(len(series), pa.string()) if pa.types.is_null(arr.type) else pc.cast(arr, pa.string())


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)


def _positions(keys: pd.Series, index: pa.Array) -> np.ndarray:
    arr = _arrow(keys)
    if len(arr) == 0 or pa.types.is_null(arr.type):
        return np.full(len(keys), -1, dtype=np.int64)
    return pc.fill_null(pc.index_in(pc.cast(arr, pa.string()), value_set=index), -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _day_number(d: date) -> int:
    return (d - _EPOCH).days


def _last_full_month(as_of: date) -> int:
    """Month index (year * 12 + month - 1) of the latest month complete by the end of as_of (as gold)."""
    ends_month = (as_of + timedelta(days=1)).day == 1
    return as_of.year * 12 + as_of.month - 1 - (0 if ends_month else 1)


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _as_dates(days: np.ndarray) -> np.ndarray:
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[s]")
    known = ~np.isnan(days)
    out[known] = days[known].astype(np.int64).astype("datetime64[D]")
    return out


# --------------------------------------------------------------------------- per-account reductions


def _count(acct: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(acct[mask], minlength=n).astype(np.float64)


def _total(acct: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(acct[mask], weights=values[mask], minlength=n).astype(np.float64)


def _best(acct: np.ndarray, score: np.ndarray, tiebreak: pa.Array, mask: np.ndarray, n: int) -> np.ndarray:
    """Per account, the row with the highest score (ties: the lowest `tiebreak` text); -1 where none."""
    rows = np.flatnonzero(mask & ~np.isnan(score))
    out = np.full(n, -1, dtype=np.int64)
    if len(rows) == 0:
        return out
    ranks = _ranks(tiebreak.take(pa.array(rows)))  # only the candidate rows are ranked
    order = rows[np.lexsort((ranks, -score[rows], acct[rows]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = acct[order][1:] != acct[order][:-1]
    out[acct[order][first]] = order[first]
    return out


def _pick(values: pa.Array, rows: np.ndarray) -> pa.Array:
    """values[rows] with -1 -> null."""
    if len(values) == 0:
        return pa.nulls(len(rows), values.type)
    taken = values.take(pa.array(np.where(rows >= 0, rows, 0)))
    return pc.if_else(pa.array(rows >= 0), taken, pa.scalar(None, taken.type))


def _ranks(keys: pa.Array) -> np.ndarray:
    """Rank of each key in text order: a tie-breaker independent of row order."""
    order = pc.array_sort_indices(pc.cast(keys, pa.string()), null_placement="at_end").to_numpy()
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def _known(frame: pd.DataFrame, index: pa.Array) -> tuple[pd.DataFrame, np.ndarray]:
    acct = _positions(frame["account_id"], index)
    keep = acct >= 0
    if keep.all():
        return frame.reset_index(drop=True), acct
    return frame.loc[keep].reset_index(drop=True), acct[keep]


# --------------------------------------------------------------------------- fact groups


def support_facts(cases: pd.DataFrame, acct: np.ndarray, n: int, as_of: date, params: Parameters) -> dict[str, object]:
    """Open cases past their SLA at the end of as_of; the latest missed SLA deadline; the latest escalation."""
    a = _day_number(as_of)
    ref = float((a + 1) * _DAY)  # the end of the as-of day, in seconds
    created = _seconds(cases["created_at"], "cases", "created_at")
    closed = _seconds(cases["closed_at"], "cases", "closed_at")
    # Closed with no closing time: taken as closed when it was opened (as gold does).
    closed = np.where(np.isnan(closed) & _flags(cases["is_closed"]), created, closed)
    priority = _upper(cases["priority"])
    sla = np.full(len(cases), np.nan)
    for name, hours in params.sla_hours.model_dump().items():
        sla[pc.fill_null(pc.equal(priority, name), False).to_numpy(zero_copy_only=False)] = hours * 3600.0
    exists = created < ref
    deadline = created + sla
    with np.errstate(invalid="ignore"):
        open_now = exists & ~(closed <= ref)
        open_breach = open_now & (deadline < ref)
        # Any case whose deadline passed before it was closed (or before now, while open).
        breached = exists & (deadline < np.where(closed <= ref, closed, ref))
    overrun = np.where(open_breach, (ref - deadline) / 3600.0, np.nan)
    worst = _best(acct, overrun, _text(cases["case_id"]), open_breach, n)
    worst_hours = np.full(n, np.nan)
    worst_hours[worst >= 0] = overrun[worst[worst >= 0]]
    last_breach_day = np.full(n, -np.inf)
    np.maximum.at(last_breach_day, acct[breached], np.floor(deadline[breached] / _DAY))
    escalated = exists & _flags(cases["is_escalated"])
    last_escalation_day = np.full(n, -np.inf)
    np.maximum.at(last_escalation_day, acct[escalated], np.floor(created[escalated] / _DAY))
    out: dict[str, object] = {
        "open_sla_breaches": _count(acct, open_breach, n),
        "worst_sla_breach_case": _pick(_text(cases["case_number"]), worst),
        "worst_sla_overrun_hours": worst_hours,
        "days_since_last_sla_breach": np.where(np.isfinite(last_breach_day), a - last_breach_day, np.nan),
        "days_since_last_escalation": np.where(np.isfinite(last_escalation_day), a - last_escalation_day, np.nan),
    }
    for name in ("CRITICAL", "HIGH", "MEDIUM", "LOW"):
        is_p = pc.fill_null(pc.equal(priority, name), False).to_numpy(zero_copy_only=False) if len(cases) else np.zeros(0, bool)
        out[f"open_sla_breaches_{name.lower()}"] = _count(acct, open_breach & is_p, n)
    return out


def payment_facts(invoices: pd.DataFrame, acct: np.ndarray, n: int, as_of: date) -> dict[str, object]:
    """Unpaid invoices past due at as_of: count, amount and the one longest overdue (gold's rules for paid/void)."""
    a = _day_number(as_of)
    status = _upper(invoices["status"])
    void = pc.fill_null(pc.equal(status, "VOID"), False).to_numpy(zero_copy_only=False)
    paid_day = _days(invoices["paid_date"], "invoices", "paid_date")
    paid_undated = pc.fill_null(pc.equal(status, "PAID"), False).to_numpy(zero_copy_only=False) & np.isnan(paid_day)
    issue = _days(invoices["issue_date"], "invoices", "issue_date")
    due = _days(invoices["due_date"], "invoices", "due_date")
    with np.errstate(invalid="ignore"):
        unpaid = (issue <= a) & ~void & ~((paid_day <= a) | paid_undated)
        overdue = unpaid & (due < a)
    days_overdue = np.where(overdue, a - due, np.nan)
    oldest = _best(acct, days_overdue, _text(invoices["invoice_id"]), overdue, n)
    numbers = _text(invoices["invoice_number"])
    return {
        "overdue_invoices": _count(acct, overdue, n),
        "overdue_amount_usd": _total(acct, _numbers(invoices["amount_usd"]), overdue, n),
        "oldest_overdue_invoice": _pick(numbers, oldest),
    }


def _usage_months(usage: pd.DataFrame) -> np.ndarray:
    """Month index (year * 12 + month - 1) of each usage row; -1 when undated."""
    month_days = _days(usage["usage_month"], "usage", "usage_month")
    dated = ~np.isnan(month_days)
    month = np.full(len(usage), -1, dtype=np.int64)
    month[dated] = month_days[dated].astype(np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    return month


def usage_delivered(usage: pd.DataFrame, as_of: date) -> bool:
    """Whether any row has a quantity for the last full month (else the feed has not delivered it)."""
    return bool(((_usage_months(usage) == _last_full_month(as_of)) & ~np.isnan(_numbers(usage["quantity"]))).any())


def usage_facts(
    usage: pd.DataFrame, acct: np.ndarray, n: int, as_of: date, params: Parameters, delivered: bool | None = None
) -> dict[str, object]:
    """Last full month against the trailing months, per (service, unit) series.

    Services are metered in different units, so each series is tested on its
    own and the account reports its worst one.  A month without a row counts
    as zero usage for a series seen in the window (a service that stopped
    shows a 100 % drop).  If no account at all has usage for the last month,
    the feed has not delivered it yet and every usage fact is null, rather
    than every account showing a 100 % drop.  `delivered` says so for the
    whole book when `usage` is one partition of it.
    """
    last = _last_full_month(as_of)
    t = params.usage_trailing_months
    month = _usage_months(usage)
    quantity = _numbers(usage["quantity"])
    window = (month >= last - t) & (month <= last) & ~np.isnan(quantity)
    nulls = {
        "usage_drop_vs_trailing_avg": np.full(n, np.nan),
        "usage_drop_service": pa.nulls(n, pa.string()),
        "usage_max_abs_zscore": np.full(n, np.nan),
        "usage_zscore_service": pa.nulls(n, pa.string()),
    }
    if not (delivered if delivered is not None else (window & (month == last)).any()):
        return nulls
    if not window.any():
        return nulls
    rows = np.flatnonzero(window)
    service = pc.cast(_arrow(usage["service_code"].iloc[rows]), pa.string())
    unit = pc.cast(_arrow(usage["unit"].iloc[rows]), pa.string())
    service_code, _ = pd.factorize(service.to_pandas(), use_na_sentinel=False)
    unit_code, _ = pd.factorize(unit.to_pandas(), use_na_sentinel=False)
    key = (acct[rows] * (service_code.max() + 1) + service_code) * (unit_code.max() + 1) + unit_code
    series_codes, _ = pd.factorize(key)
    series = series_codes.astype(np.int64)
    n_series = int(series.max()) + 1
    col = month[rows] - (last - t)
    grid = np.bincount(series * (t + 1) + col, weights=quantity[rows], minlength=n_series * (t + 1)).reshape(n_series, t + 1)
    trailing, latest = grid[:, :t], grid[:, t]
    mean = trailing.mean(axis=1)
    std = trailing.std(axis=1)
    drop = np.divide(mean - latest, mean, out=np.full(n_series, np.nan), where=mean > 0)
    z = np.divide(np.abs(latest - mean), std, out=np.full(n_series, np.nan), where=std > 0)
    first_row = np.full(n_series, -1, dtype=np.int64)
    first_row[series[::-1]] = np.arange(len(series))[::-1]  # the first row of each series
    series_acct = acct[rows][first_row]
    series_service = service.take(pa.array(first_row))
    all_series = np.ones(n_series, dtype=bool)
    worst_drop = _best(series_acct, drop, series_service, all_series, n)
    worst_z = _best(series_acct, z, series_service, all_series, n)
    return {
        "usage_drop_vs_trailing_avg": np.where(worst_drop >= 0, drop[np.maximum(worst_drop, 0)], np.nan),
        "usage_drop_service": _pick(series_service, worst_drop),
        "usage_max_abs_zscore": np.where(worst_z >= 0, z[np.maximum(worst_z, 0)], np.nan),
        "usage_zscore_service": _pick(series_service, worst_z),
    }


def segment_facts(metrics: pd.DataFrame, params: Parameters) -> tuple[dict[str, object], np.ndarray]:
    """Segment label, size and median active services; also the segment code of each account."""
    n = len(metrics)
    if params.segment_by:
        parts = [metrics[c].astype("str").fillna("(none)") for c in params.segment_by]
        label = parts[0]
        for part in parts[1:]:
            label = label + " / " + part
    else:
        label = pd.Series(["all"] * n, index=metrics.index, dtype="str")
    codes, _ = pd.factorize(label)
    services = pd.Series(_numbers(metrics["active_services"]))
    grouped = services.groupby(codes)
    return (
        {
            "segment": pa.array(label.to_numpy(dtype=object), pa.string()),
            "segment_accounts": np.bincount(codes, minlength=codes.max(initial=-1) + 1)[codes].astype(np.float64),
            "segment_median_active_services": grouped.transform("median").to_numpy(dtype=np.float64),
        },
        codes.astype(np.int64),
    )


HELD_COLUMNS = ("account_id", "product", "mrr_usd")


def held_products(silver: Mapping[str, pd.DataFrame], index: pa.Array, as_of: date) -> pd.DataFrame:
    """Each (account, product) the account holds at as_of, with its MRR: one row per pair.

    Held = a won line in service at as_of (start <= as_of < end), as gold's
    MRR counts it; a line's product is its product code, else its product id.
    Reads only the accounts' own lines, so it runs partition by partition.
    """
    a = _day_number(as_of)
    lines, acct = _known(silver["opportunity_line_items"], index)
    opp = silver["opportunities"]
    empty = pd.DataFrame({"account_id": pd.Series([], dtype="str"), "product": pd.Series([], dtype="str"),
                          "mrr_usd": pd.Series([], dtype="float64")})
    if len(lines) == 0:
        return empty
    opp_pos = _positions(lines["opportunity_id"], pc.cast(_arrow(opp["opportunity_id"]), pa.string()))
    has_opp = opp_pos >= 0
    safe = np.where(has_opp, opp_pos, 0)
    won = pc.fill_null(pc.equal(_upper(opp["status"]), "WON"), False).to_numpy(zero_copy_only=False) if len(opp) else np.zeros(0, bool)
    close = _days(opp["close_date"], "opportunities", "close_date") if len(opp) else np.zeros(0)
    opp_term = _numbers(opp["term_months"]) if len(opp) else np.zeros(0)
    won_by_now = has_opp & (won[safe] if len(opp) else False) & (np.where(has_opp, close[safe] if len(opp) else np.nan, np.nan) <= a)
    term = _numbers(lines["term_months"])
    from_opp = np.where(has_opp, opp_term[safe] if len(opp) else np.nan, np.nan)
    term = np.where(term > 0, term, np.where(from_opp > 0, from_opp, float(DEFAULT_TERM_MONTHS)))
    start = _days(lines["service_start_date"], "opportunity_line_items", "service_start_date")
    end = _days(lines["service_end_date"], "opportunity_line_items", "service_end_date")
    with np.errstate(invalid="ignore"):
        active = won_by_now & (start <= a) & (np.isnan(end) | (a < end))
    product_key = lines["product_code"].where(lines["product_code"].notna(), lines["product_id"])
    active &= product_key.notna().to_numpy()
    if not active.any():
        return empty
    product, products = pd.factorize(product_key[active])
    p_count = len(products)
    pair = acct[active] * p_count + product
    mrr = _numbers(lines["total_price_usd"])[active] / term[active]
    pair_codes, pairs = pd.factorize(pair)
    pair_mrr = np.bincount(pair_codes, weights=mrr, minlength=len(pairs))
    return pd.DataFrame({
        "account_id": pd.Series(pc.cast(index, pa.string()).take(pa.array(pairs // p_count)).to_numpy(zero_copy_only=False), dtype="str"),
        "product": pd.Series(np.array([str(p) for p in products], dtype=object)[pairs % p_count], dtype="str"),
        "mrr_usd": pair_mrr,
    })


def cross_sell_facts(
    held: pd.DataFrame, index: pa.Array, segment: np.ndarray, products: pd.DataFrame | None
) -> dict[str, object]:
    """The product an account lacks that most of its segment holds, and that product's median MRR.

    `held` is `held_products` of the whole book (or of partitions covering it).
    Candidates are ranked by adoption in the segment, then adoption in the
    whole book, then product code; the loop runs over products (tens), each
    step vectorised over all accounts.
    """
    n = len(segment)
    nulls = {
        "cross_sell_product": pa.nulls(n, pa.string()),
        "cross_sell_product_name": pa.nulls(n, pa.string()),
        "cross_sell_product_median_mrr_usd": np.full(n, np.nan),
    }
    held, pair_acct = _known(held, index)
    if len(held) == 0:
        return nulls
    pair_product, product_codes = pd.factorize(held["product"])
    p_count = len(product_codes)
    median_mrr = pd.Series(_numbers(held["mrr_usd"])).groupby(pair_product).median().reindex(range(p_count)).to_numpy(dtype=np.float64)
    held_matrix = np.zeros((n, p_count), dtype=bool)
    held_matrix[pair_acct, pair_product] = True
    n_segments = int(segment.max(initial=-1)) + 1
    holders = np.bincount(segment[pair_acct] * p_count + pair_product, minlength=n_segments * p_count).reshape(n_segments, p_count)
    seg_size = np.bincount(segment, minlength=n_segments).astype(np.float64)
    share = holders / np.maximum(seg_size, 1.0)[:, None]
    overall = held_matrix.sum(axis=0)
    codes_text = np.array([str(p) for p in product_codes], dtype=object)
    order = sorted(range(p_count), key=lambda p: (-overall[p], codes_text[p]))  # over products, not accounts
    best = np.full(n, -1, dtype=np.int64)
    best_share = np.full(n, -1.0)
    for p in order:
        candidate = ~held_matrix[:, p] & (share[segment, p] > best_share)
        best[candidate] = p
        best_share[candidate] = share[segment, p][candidate]
    code_arr = pa.array(codes_text.tolist(), pa.string())
    if products is not None and len(products):
        lookup = products.dropna(subset=["product_code"]).drop_duplicates("product_code")
        name_pos = _positions(pd.Series(codes_text), pc.cast(_arrow(lookup["product_code"]), pa.string()))
        name_arr = _pick(pc.cast(_arrow(lookup["product_name"]), pa.string()), name_pos)
    else:
        name_arr = pa.nulls(p_count, pa.string())
    return {
        "cross_sell_product": _pick(code_arr, best),
        "cross_sell_product_name": _pick(name_arr, best),
        "cross_sell_product_median_mrr_usd": np.where(best >= 0, median_mrr[np.maximum(best, 0)], np.nan),
    }


# --------------------------------------------------------------------------- entry point


def _check_inputs(silver: Mapping[str, pd.DataFrame], metrics: pd.DataFrame) -> None:
    for table, columns in SILVER_COLUMNS.items():
        if table == "products" and table not in silver:
            continue  # names are optional: cross_sell_product_name is null without them
        if table not in silver:
            raise DataError(f"rule facts: silver table {table!r} is missing (pass an empty frame when it has no rows)")
        missing = [c for c in columns if c not in silver[table].columns]
        if missing:
            raise DataError(f"rule facts: silver table {table!r} lacks column(s) {missing}")
    missing = [c for c in GOLD_FIELDS if c not in metrics.columns]
    if missing:
        raise DataError(f"rule facts: gold metrics lack column(s) {missing}")
    if metrics["account_id"].isna().any() or metrics["account_id"].duplicated().any():
        raise DataError("rule facts: gold metrics must have one row per non-null account_id")


@dataclass
class PartitionFacts:
    """The facts that read only an account's own records, for some of the book's accounts.

    `frame`: account_id plus the account-level fields, one row per account;
    `held`: `held_products`; `usage_delivered`: the partition saw last month's
    usage (the book's feed is late only when no partition did).
    """

    frame: pd.DataFrame
    held: pd.DataFrame
    usage_delivered: bool

    @classmethod
    def concat(cls, parts: list[PartitionFacts]) -> PartitionFacts:
        return cls(
            pd.concat([p.frame for p in parts], ignore_index=True),
            pd.concat([p.held for p in parts], ignore_index=True),
            any(p.usage_delivered for p in parts),
        )


def partition_facts(
    silver: Mapping[str, pd.DataFrame], metrics: pd.DataFrame, as_of: date, parameters: Parameters | None = None,
    *, usage_feed_delivered: bool | None = None,
) -> PartitionFacts:
    """Support, payment, usage and QBR facts and the held products of `metrics`' accounts.

    Every account's records must be in `silver` with it (an account-hash
    partition, or the whole book).  `usage_feed_delivered` decides the usage
    facts for the whole book when known; by default the usage facts assume
    the feed delivered, and `book_facts` clears them if no partition saw it.
    """
    params = parameters or Parameters()
    _check_inputs(silver, metrics)
    metrics = metrics.reset_index(drop=True)
    n = len(metrics)
    index = pc.cast(_arrow(metrics["account_id"]), pa.string())
    a = _day_number(as_of)
    cases, case_acct = _known(silver["cases"], index)
    invoices, inv_acct = _known(silver["invoices"], index)
    usage, use_acct = _known(silver["usage"], index)
    delivered = usage_delivered(usage, as_of)
    facts: dict[str, object] = {
        **support_facts(cases, case_acct, n, as_of, params),
        **payment_facts(invoices, inv_acct, n, as_of),
        **usage_facts(usage, use_acct, n, as_of, params, True if usage_feed_delivered is None else usage_feed_delivered),
        "days_since_last_qbr": a - _days(metrics["last_qbr_date"], "gold_customer_360_metrics", "last_qbr_date"),
    }
    frame = pd.DataFrame({"account_id": metrics["account_id"].astype("str")})
    for name, value in facts.items():
        frame[name] = pd.Series(value, dtype="str") if isinstance(value, (pa.Array, pa.ChunkedArray)) else value
    return PartitionFacts(frame, held_products(silver, index, as_of), delivered)


USAGE_FIELDS = ("usage_drop_vs_trailing_avg", "usage_drop_service", "usage_max_abs_zscore", "usage_zscore_service")


def book_facts(
    metrics: pd.DataFrame, parts: PartitionFacts, as_of: date, parameters: Parameters | None = None,
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The metrics (one row per account, their order kept) plus every `RULE_FIELDS` column.

    Adds what compares an account with others (segment size and median,
    cross-sell candidates from the segment's held products) to the
    per-account facts of `parts`, which must cover every account.
    """
    params = parameters or Parameters()
    metrics = metrics.reset_index(drop=True)
    n = len(metrics)
    index = pc.cast(_arrow(metrics["account_id"]), pa.string())
    pos = _positions(parts.frame["account_id"], index)
    if len(parts.frame) != n or (pos < 0).any() or len(distinct(pos)) != n:
        raise DataError(f"rule facts: partition facts cover {len(parts.frame)} rows for {n} accounts")
    local = parts.frame.iloc[np.argsort(pos)].reset_index(drop=True)
    if not parts.usage_delivered:  # no account at all has last month's usage: the feed is late
        for name in USAGE_FIELDS:
            local[name] = pd.Series([None] * n, dtype="str") if local[name].dtype == "str" else np.nan
    segments, segment_code = segment_facts(metrics, params)
    facts: dict[str, object] = {
        **segments,
        **cross_sell_facts(parts.held, index, segment_code, products),
        "usage_month": np.full(n, np.datetime64(_month_start(_last_full_month(as_of))), dtype="datetime64[s]"),
    }
    out = metrics.copy()
    for name in RULE_FIELDS:
        if name not in facts:
            out[name] = local[name].values  # positional: `local` is in metrics' order
            continue
        value = facts[name]
        out[name] = pd.Series(value, dtype="str") if isinstance(value, (pa.Array, pa.ChunkedArray)) else value
    return out


def build_rule_facts(
    silver: Mapping[str, pd.DataFrame],
    metrics: pd.DataFrame,
    as_of: date,
    parameters: Parameters | None = None,
) -> pd.DataFrame:
    """The metrics (one row per account, their order kept) plus every `RULE_FIELDS` column.

    Pure: reads silver ``cases``, ``invoices``, ``usage``, ``opportunities``,
    ``opportunity_line_items`` (and ``products`` for names, if given) and the
    gold metrics; `parameters` (SLA hours, usage window, segment keys) come
    from the rule files (``RuleSet.parameters``), defaults otherwise.  The
    whole book at once: `partition_facts` then `book_facts`.
    """
    parts = partition_facts(silver, metrics, as_of, parameters, usage_feed_delivered=None)
    return book_facts(metrics, parts, as_of, parameters, silver.get("products"))


def rule_facts_table(facts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The published `gold_rule_facts` frame: account_id, as_of and the computed columns only."""
    out = facts[["account_id", *RULE_FIELDS]].copy()
    out.insert(1, "as_of", pd.Timestamp(as_of).as_unit("s"))
    return out
