"""One chronological table of what happened to each account.

Events come from the records gold already reads (docs/metrics.md lists every
kind): renewal and sales opportunities opened, won and lost; contracts
started and ended; cases opened and closed; invoices issued, paid and
overdue; notable month-over-month usage changes; activities.  Only events on
or before as_of appear, each stated as it stood at as_of.  Event ids are
"<source_table>:<source_id>:<kind>", stable across runs so the API and
actions can refer to them.

A large book yields millions of events, so titles are built with Arrow
string kernels on the selected rows only, and the sort works on integer keys:
strings are moved once, into their final order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.gold.book import Book
from etl.gold.dates import day_number, last_full_month
from etl.gold.params import MetricsConfig
from etl.gold.schemas import empty_frame

TIMELINE_TABLE = "gold_customer_timeline"

EVENT_TYPES = ("BILLING", "ENGAGEMENT", "RENEWAL", "SALES", "SUPPORT", "USAGE")  # alphabetical: codes sort like names
_TYPE_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}

OPPORTUNITY_LABELS = {"RENEWAL": "Renewal", "NEW_BUSINESS": "New business", "UPSELL": "Upsell"}


TEXT = pa.large_string()  # pandas' own string storage: no conversion on the way out


@dataclass(frozen=True)
class Status:
    """A status column stored as codes into a few distinct values, so reordering millions of rows moves integers."""

    codes: np.ndarray  # int32, -1 for null
    values: pa.Array

    @classmethod
    def constant(cls, text: str | None, n: int) -> Status:
        if text is None:
            return cls(np.full(n, -1, dtype=np.int32), pa.array([], TEXT))
        return cls(np.zeros(n, dtype=np.int32), pa.array([text], TEXT))

    @classmethod
    def either(cls, condition: np.ndarray, yes: str, no: str) -> Status:
        return cls(np.where(condition, 0, 1).astype(np.int32), pa.array([yes, no], TEXT))

    @classmethod
    def of(cls, text: pa.Array) -> Status:
        encoded = pc.dictionary_encode(text)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        return cls(codes, encoded.dictionary.cast(TEXT))


@dataclass(frozen=True)
class Events:
    """One kind of event from one source table; every column in the same row order."""

    source_table: str
    kind: str
    acct: np.ndarray
    day: np.ndarray
    type_code: np.ndarray
    source_id: pa.Array
    title: pa.Array
    status: Status
    amount_usd: np.ndarray

    def __len__(self) -> int:
        return len(self.acct)


def _col(frame: pd.DataFrame, name: str) -> pa.Array:
    """A text column as an Arrow large string array, nulls kept."""
    arr = pa.array(frame[name], from_pandas=True)
    return arr if arr.type == TEXT else arr.cast(TEXT)


def _lit(part: pa.Array | str) -> pa.Array | pa.Scalar:
    return pa.scalar(part, TEXT) if isinstance(part, str) else part


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*(_lit(p) for p in parts), _lit(""))


def _choose(condition: np.ndarray, yes: pa.Array | str, no: pa.Array | str) -> pa.Array:
    return pc.if_else(pa.array(condition, pa.bool_()), _lit(yes), _lit(no))


def _fill(arr: pa.Array, text: str) -> pa.Array:
    return pc.fill_null(arr, _lit(text))


def _number_text(values: np.ndarray) -> pa.Array:
    """Whole numbers without a trailing '.0', others to at most two decimals."""
    return pc.cast(pc.round(pa.array(values, pa.float64()), 2), TEXT)


def _days_text(days: np.ndarray) -> pa.Array:
    """A whole number of days (differences of day numbers) as text."""
    return pc.cast(pa.array(days.astype(np.int64)), TEXT)


def _events(
    source_table: str,
    kind: str,
    rows: np.ndarray,
    acct: np.ndarray,
    day: np.ndarray,
    event_type: str | np.ndarray,
    source_id: pa.Array,
    title: pa.Array,
    status: Status | str | None,
    amount_usd: np.ndarray | None = None,
) -> Events:
    """Events for `rows` of a source table; `source_id`, `title` and `status` are already per selected row."""
    n = len(rows)
    codes = np.full(n, _TYPE_CODE[event_type], dtype=np.int8) if isinstance(event_type, str) else event_type
    return Events(
        source_table=source_table,
        kind=kind,
        acct=acct[rows],
        day=day[rows].astype(np.int64),
        type_code=codes,
        source_id=source_id,
        title=title,
        status=status if isinstance(status, Status) else Status.constant(status, n),
        amount_usd=amount_usd[rows] if amount_usd is not None else np.full(n, np.nan),
    )


def _pick(arr: pa.Array, rows: np.ndarray) -> pa.Array:
    return arr.take(pa.array(rows, pa.int64()))


def opportunity_events(book: Book, a: int) -> list[Events]:
    opp = book.opportunities
    if len(opp.acct) == 0:
        return []
    f = opp.frame
    ids = _col(f, "opportunity_id")
    name = pc.coalesce(_col(f, "opportunity_name"), ids)
    labels = pa.array([*OPPORTUNITY_LABELS.values(), "Other"], TEXT)
    known = pa.array(list(OPPORTUNITY_LABELS), TEXT)
    label = labels.take(pc.index_in(pc.utf8_upper(_col(f, "opportunity_type")), value_set=known).fill_null(len(known)))
    type_code = np.where(opp.renewal, _TYPE_CODE["RENEWAL"], _TYPE_CODE["SALES"]).astype(np.int8)
    out = []
    for kind, status, rows, day in (
        ("opened", "OPEN", np.flatnonzero(np.isfinite(opp.created) & (opp.created <= a)), opp.created),
        ("won", "WON", np.flatnonzero(opp.won & (opp.close <= a)), opp.close),
        ("lost", "LOST", np.flatnonzero(opp.lost & (opp.close <= a)), opp.close),
    ):
        title = _join(_pick(label, rows), ' opportunity "', _pick(name, rows), f'" {kind}')
        out.append(_events("opportunities", kind, rows, opp.acct, day, type_code[rows], _pick(ids, rows), title, status, opp.amount_usd))
    return out


def contract_events(book: Book, a: int) -> list[Events]:
    ct = book.contracts
    if len(ct.acct) == 0:
        return []
    ids = _col(ct.frame, "contract_id")
    number = pc.coalesce(_col(ct.frame, "contract_number"), ids)
    out = []
    for kind, status, verb, day in (("start", "STARTED", "started", ct.start), ("end", "ENDED", "ended", ct.end)):
        rows = np.flatnonzero(ct.in_effect & (day <= a))
        title = _join("Contract ", _pick(number, rows), f" {verb}")
        out.append(_events("contracts", kind, rows, ct.acct, day, "RENEWAL", _pick(ids, rows), title, status))
    return out


def case_events(book: Book, a: int) -> list[Events]:
    """Opened and closed.  Silver has no escalation time, so escalation is stated on the opened event."""
    cs = book.cases
    if len(cs.acct) == 0:
        return []
    f = cs.frame
    ids = _col(f, "case_id")
    number = pc.coalesce(_col(f, "case_number"), ids)

    opened = np.flatnonzero(cs.created <= a)
    escalated = cs.escalated[opened]
    subject = _pick(_col(f, "subject"), opened)
    opened_title = _join(
        "Case ", _pick(number, opened),
        " opened (", _fill(pc.utf8_upper(_pick(_col(f, "priority"), opened)), "NO PRIORITY"), ")",
        _choose(escalated, ", escalated", ""),
        _fill(_join(": ", subject), ""),
    )
    # Only a real closing time makes a "closed" event (a closed case without one has no date to show).
    has_close_time = pa.array(f["closed_at"], from_pandas=True).is_valid().to_numpy(zero_copy_only=False)
    closed = np.flatnonzero(has_close_time & (cs.closed <= a))
    closed_title = _join("Case ", _pick(number, closed), " closed after ", _days_text(cs.closed[closed] - cs.created[closed]), " days")
    return [
        _events("cases", "opened", opened, cs.acct, cs.created, "SUPPORT", _pick(ids, opened), opened_title, Status.either(escalated, "ESCALATED", "OPEN")),
        _events("cases", "closed", closed, cs.acct, cs.closed, "SUPPORT", _pick(ids, closed), closed_title, "CLOSED"),
    ]


def invoice_events(book: Book, a: int) -> list[Events]:
    inv = book.invoices
    if len(inv.acct) == 0:
        return []
    f = inv.frame
    ids = _col(f, "invoice_id")
    number = pc.coalesce(_col(f, "invoice_number"), ids)
    live = ~inv.void

    issued = np.flatnonzero(live & (inv.issue <= a))
    issued_title = _join("Invoice ", _pick(number, issued), " issued")

    paid = np.flatnonzero(live & (inv.paid <= a))
    late_days = inv.paid[paid] - inv.due[paid]
    late = late_days > 0
    paid_title = _join(
        "Invoice ", _pick(number, paid),
        _choose(late, _join(" paid ", _days_text(np.where(late, late_days, 0)), " days late"), _choose(np.isnan(late_days), " paid", " paid on time")),
    )

    unpaid = live & (inv.issue <= a) & ~((inv.paid <= a) | inv.paid_undated)
    overdue = np.flatnonzero(unpaid & (inv.due < a))
    overdue_title = _join("Invoice ", _pick(number, overdue), " overdue: unpaid ", _days_text(a - inv.due[overdue]), " days after its due date")
    return [
        _events("invoices", "issued", issued, inv.acct, inv.issue, "BILLING", _pick(ids, issued), issued_title, "ISSUED", inv.amount_usd),
        _events("invoices", "paid", paid, inv.acct, inv.paid, "BILLING", _pick(ids, paid), paid_title, Status.either(late, "PAID_LATE", "PAID"), inv.amount_usd),
        _events("invoices", "overdue", overdue, inv.acct, inv.due + 1, "BILLING", _pick(ids, overdue), overdue_title, "OVERDUE", inv.amount_usd),
    ]


def usage_events(book: Book, as_of: date, params: MetricsConfig) -> list[Events]:
    """A rise or drop of at least the threshold against the previous calendar month, per service and unit.

    Dated the month's last day, when its usage is complete; a month not yet
    complete at as_of is not compared, nor is a month whose previous month has
    no usage: there is no base to measure from.
    """
    us = book.usage
    rows = np.flatnonzero((us.month >= 0) & (us.month <= last_full_month(as_of)))
    if len(rows) == 0:
        return []
    # Sort by (series, month): a month's predecessor is then the group just before it, if it is month - 1.
    span = int(us.month[rows].max()) + 2
    key = us.series[rows] * span + us.month[rows]
    sorter = np.argsort(key, kind="stable")
    sorted_key = key[sorter]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    keys = sorted_key[starts]
    qty = np.add.reduceat(us.quantity[rows][sorter], starts)  # one row per month normally; duplicates add up
    first_row = sorter[starts]
    has_prev = np.r_[False, keys[1:] == keys[:-1] + 1]
    prev = np.where(has_prev, np.r_[np.nan, qty[:-1]], np.nan)
    change = np.divide(qty, prev, out=np.full(len(qty), np.nan), where=has_prev & (prev > 0)) - 1.0
    notable = np.flatnonzero(np.abs(change) >= params.timeline.usage_change_threshold)
    if len(notable) == 0:
        return []

    src = rows[first_row[notable]]  # one usage row of each notable (series, month), for its text columns
    month = us.month[src]
    year, month0 = np.divmod(month, 12)
    next_month = np.datetime64("1970-01", "M") + (month + 1 - 1970 * 12)
    last_day = (next_month.astype("datetime64[D]") - np.timedelta64(1, "D")).astype(np.int64)
    f = us.frame
    service = _fill(_pick(_col(f, "service_code"), src), "(no service)")
    unit = _fill(_pick(_col(f, "unit"), src), "")
    period = _join(pc.cast(pa.array(year), TEXT), "-", pc.utf8_lpad(pc.cast(pa.array(month0 + 1), TEXT), 2, "0"))
    source_id = _join(_pick(_col(f, "account_id"), src), "|", service, "|", unit, "|", period)
    ch = change[notable]
    rise = ch > 0
    title = _join(
        service, " usage ", _choose(rise, "up ", "down "), _number_text(np.round(np.abs(ch) * 100)),
        "% on the previous month (", _number_text(prev[notable]), " -> ", _number_text(qty[notable]), " ", unit, ")",
    )
    local = np.arange(len(src))
    return [_events("usage", "change", local, us.acct[src], last_day, "USAGE", source_id, title, Status.either(rise, "RISE", "DROP"))]


def activity_events(book: Book, a: int) -> list[Events]:
    act = book.activities
    if len(act.acct) == 0:
        return []
    f = act.frame
    held = np.flatnonzero(act.day <= a)
    label = _choose(act.qbr[held], "QBR", _fill(_pick(_col(f, "activity_type"), held), "Activity"))
    subject = _pick(_col(f, "subject"), held)
    # "Call: check-in", but a subject that already names the kind ("Call: check-in") is not prefixed again.
    labelled = np.zeros(len(held), dtype=bool)
    lower_subject = pc.utf8_lower(_fill(subject, ""))
    for kind in pc.unique(label).to_pylist():  # a handful of activity types
        of_kind = pc.equal(label, _lit(kind)).to_numpy(zero_copy_only=False)
        labelled |= of_kind & pc.starts_with(lower_subject, kind.lower()).to_numpy(zero_copy_only=False)
    title = pc.coalesce(_choose(labelled, subject, _join(label, ": ", subject)), label)
    ids = _pick(_col(f, "activity_id"), held)
    return [_events("activities", "activity", held, act.acct, act.day, "ENGAGEMENT", ids, title, Status.of(_pick(_col(f, "status"), held)))]


def _event_order(pieces: list[Events]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sort by (account, day) on integers, then break the ties by event id text: the order the
    API shows an account's events in, so it reads them from the file without sorting."""
    acct = np.concatenate([p.acct for p in pieces])
    day = np.concatenate([p.day for p in pieces])
    type_code = np.concatenate([p.type_code for p in pieces]).astype(np.int64)
    piece = np.repeat(np.arange(len(pieces)), [len(p) for p in pieces])
    span = int(day.max() - day.min()) + 1
    key = acct * span + (day - day.min())
    order = np.argsort(key)  # ties are re-ordered by event id below, so stability is not needed
    sorted_key = key[order]
    tie = np.zeros(len(order), dtype=bool)
    same = sorted_key[1:] == sorted_key[:-1]
    tie[1:] |= same
    tie[:-1] |= same
    if tie.any():
        at = np.flatnonzero(tie)
        rows = order[at]
        ids = _event_ids(pieces, piece[rows], _chunked(pieces, "source_id").take(pa.array(rows)))
        by = pa.table({"key": pa.array(sorted_key[at]), "event_id": ids})
        within = pc.sort_indices(by, sort_keys=[("key", "ascending"), ("event_id", "ascending")]).to_numpy()
        order[at] = rows[within]
    return order, acct, day, type_code, piece


def _chunked(pieces: list[Events], field: str) -> pa.ChunkedArray:
    return pa.chunked_array([getattr(p, field) for p in pieces], TEXT)


def _event_ids(pieces: list[Events], piece: np.ndarray, source_id: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The "<source_table>:<source_id>:<kind>" text of rows from the given pieces."""
    prefix = pa.array([f"{p.source_table}:" for p in pieces], TEXT)
    suffix = pa.array([f":{p.kind}" for p in pieces], TEXT)
    which = pa.array(piece)
    return _join(prefix.take(which), _fill(source_id, ""), suffix.take(which))


def _statuses(pieces: list[Events], order: np.ndarray) -> pa.Array:
    offsets = np.cumsum([0] + [len(p.status.values) for p in pieces[:-1]])
    codes = np.concatenate([np.where(p.status.codes >= 0, p.status.codes + off, -1) for p, off in zip(pieces, offsets)])[order]
    values = pa.concat_arrays([p.status.values for p in pieces])
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=codes < 0), values).cast(TEXT)


def build_timeline(book: Book, as_of: date, params: MetricsConfig) -> pd.DataFrame:
    """All events on or before as_of, sorted by account_id, event_date, event_id."""
    a = day_number(as_of)
    pieces = [
        *opportunity_events(book, a),
        *contract_events(book, a),
        *case_events(book, a),
        *invoice_events(book, a),
        *usage_events(book, as_of, params),
        *activity_events(book, a),
    ]
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return empty_frame(TIMELINE_TABLE)
    order, acct, day, type_code, piece = _event_order(pieces)
    take = pa.array(order)
    source_id = _chunked(pieces, "source_id").take(take)
    tables = pa.array([p.source_table for p in pieces], TEXT)
    columns = {
        # account positions are in account_id order, and the rows are sorted by them
        "account_id": book.account_ids.take(pa.array(acct[order])),
        "event_id": _event_ids(pieces, piece[order], source_id),
        "event_type": pa.array(list(EVENT_TYPES), TEXT).take(pa.array(type_code[order])),
        "title": _chunked(pieces, "title").take(take),
        "status": _statuses(pieces, order),
        "amount_usd": pa.array(np.concatenate([p.amount_usd for p in pieces])[order], pa.float64()),
        "source_table": tables.take(pa.array(piece[order])),
        "source_id": source_id,
    }
    frame = pa.table(columns).to_pandas()
    frame.insert(2, "event_date", day[order].astype("datetime64[D]").astype("datetime64[s]"))
    return frame
