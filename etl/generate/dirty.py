"""Known dirt, injected into a small share of rows and listed record by record.

Each table has a menu of defects (kind, field).  ``inject`` picks
round(rate x rows) distinct rows, shares them evenly over the menu (each
defect only on rows where it makes sense: a negative amount needs an amount,
a deleted contact must not be referenced), changes them in place, appends the
older versions of the duplicated records, and returns the list of what it
did.  That list becomes ground_truth/dirty_records.csv, so silver's tests can
check that every defect is quarantined or repaired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.generate import text
from etl.generate.common import Stamps

KINDS = (
    "null_required", "bad_date", "negative_amount", "duplicate_id", "mixed_case_code", "unknown_country",
    "unknown_currency", "soft_deleted", "bad_email", "bad_phone",
)
BAD_DATES = ("2024-13-45", "31/02/2024", "not a date", "2023-02-30")
UNKNOWN_COUNTRIES = ("Atlantis", "XX", "Freedonia")
UNKNOWN_CURRENCIES = ("XYZ", "ZZZ", "ABC")
BAD_PHONES = ("12", "n/a", "tbc", "0")

RECORD_SCHEMA = pa.schema([("table", pa.string()), ("record_id", pa.string()), ("kind", pa.string()),
                           ("field", pa.string())])


@dataclass(frozen=True)
class Defect:
    kind: str
    field: str


def _d(spec: str) -> tuple[Defect, ...]:
    return tuple(Defect(*item.split(":")) for item in spec.split())


# Every defect silver is expected to quarantine sits on a field the bronze-to-silver mapping
# requires or parses strictly; mixed case, duplicates and deletions are repaired or dropped instead.
DEFECTS: dict[str, tuple[Defect, ...]] = {
    "Account": _d("null_required:Name unknown_country:BillingCountry mixed_case_code:CurrencyIsoCode "
                  "bad_phone:Phone duplicate_id:NumberOfEmployees"),
    "Contact": _d("null_required:AccountId bad_email:Email bad_phone:Phone duplicate_id:Title soft_deleted:IsDeleted"),
    "Opportunity": _d("null_required:AccountId null_required:CloseDate bad_date:CloseDate negative_amount:Amount "
                      "mixed_case_code:CurrencyIsoCode unknown_currency:CurrencyIsoCode duplicate_id:StageName"),
    "OpportunityLineItem": _d("negative_amount:TotalPrice bad_date:ServiceDate mixed_case_code:ProductCode "
                              "duplicate_id:Quantity"),
    "Contract": _d("null_required:AccountId bad_date:StartDate duplicate_id:Status"),
    "Asset": _d("duplicate_id:Status soft_deleted:IsDeleted"),
    "Case": _d("null_required:AccountId bad_date:CreatedDate duplicate_id:Status soft_deleted:IsDeleted"),
    "Event": _d("bad_date:ActivityDate duplicate_id:DurationInMinutes soft_deleted:IsDeleted"),
    "Task": _d("bad_date:ActivityDate duplicate_id:Status soft_deleted:IsDeleted"),
    "billing_invoices": _d("null_required:account_id bad_date:issue_date negative_amount:amount "
                           "mixed_case_code:currency unknown_currency:currency duplicate_id:status"),
    "monthly_usage": _d("bad_date:usage_month negative_amount:quantity mixed_case_code:service_code "
                        "duplicate_id:quantity"),
}


def record_ids(table: str, tbl: pa.Table) -> pa.Array:
    """The key a dirty record is listed under: Id, invoice_id, or "account_id|service_code|usage_month"
    for usage (which has no id of its own)."""
    if table == "billing_invoices":
        return tbl.column("invoice_id").combine_chunks()
    if table == "monthly_usage":
        return text.concat(tbl.column("account_id").combine_chunks(), "|", tbl.column("service_code").combine_chunks(),
                           "|", tbl.column("usage_month").combine_chunks())
    return tbl.column("Id").combine_chunks()


# --------------------------------------------------------------------------- older versions of duplicated records
# Each takes the current rows and returns (older rows, rows it can apply to).

Older = Callable[[pa.Table], pa.Table]


def _set(tbl: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    i = tbl.schema.get_field_index(name)
    return tbl.set_column(i, tbl.schema.field(i), values.cast(tbl.schema.field(i).type))


def _col(tbl: pa.Table, name: str) -> pa.Array:
    return tbl.column(name).combine_chunks()


def _older_account(t: pa.Table) -> pa.Table:
    emp = _col(t, "NumberOfEmployees")
    return _set(t, "NumberOfEmployees", pc.if_else(pc.is_null(emp), 50.0, pc.round(pc.multiply(emp, 0.8))))


def _older_contact(t: pa.Table) -> pa.Table:
    title = _col(t, "Title")
    return _set(t, "Title", pc.if_else(pc.equal(title.fill_null(""), "IT Manager"), "Network Manager", "IT Manager"))


def _older_opportunity(t: pa.Table) -> pa.Table:
    closed = _col(t, "IsClosed")
    stage = _col(t, "StageName")
    older = pc.if_else(closed, "Negotiation", pc.if_else(pc.equal(stage, "Prospecting"), "Qualification", "Prospecting"))
    prob = pc.if_else(pc.equal(older, "Negotiation"), 75.0, pc.if_else(pc.equal(older, "Qualification"), 20.0, 10.0))
    t = _set(t, "StageName", older)
    t = _set(t, "Probability", prob)
    t = _set(t, "IsClosed", pa.array(np.zeros(t.num_rows, bool)))
    return _set(t, "IsWon", pa.array(np.zeros(t.num_rows, bool)))


def _older_line(t: pa.Table) -> pa.Table:
    qty = _col(t, "Quantity")
    older = pc.if_else(pc.greater(qty, 1.0), pc.subtract(qty, 1.0), 2.0)
    t = _set(t, "Quantity", older)
    return _set(t, "TotalPrice", pc.round(pc.multiply(older, _col(t, "UnitPrice")), 2))


def _older_contract(t: pa.Table) -> pa.Table:
    return _set(t, "Status", pa.repeat("Draft", t.num_rows))


def _older_asset(t: pa.Table) -> pa.Table:
    return _set(t, "Status", pa.repeat("Shipped", t.num_rows))


def _older_case(t: pa.Table) -> pa.Table:
    t = _set(t, "Status", pa.repeat("New", t.num_rows))
    t = _set(t, "IsClosed", pa.array(np.zeros(t.num_rows, bool)))
    t = _set(t, "IsEscalated", pa.array(np.zeros(t.num_rows, bool)))
    return _set(t, "ClosedDate", pa.nulls(t.num_rows, pa.string()))


def _older_event(t: pa.Table) -> pa.Table:
    dur = _col(t, "DurationInMinutes")
    return _set(t, "DurationInMinutes", pc.if_else(pc.equal(dur, 30.0), 60.0, 30.0))


def _older_task(t: pa.Table) -> pa.Table:
    return _set(t, "Status", pa.repeat("Not Started", t.num_rows))


def _older_invoice(t: pa.Table) -> pa.Table:
    t = _set(t, "status", pa.repeat("ISSUED", t.num_rows))
    t = _set(t, "paid_date", pa.nulls(t.num_rows, pa.string()))
    return _set(t, "updated_at", text.concat(_col(t, "issue_date"), "T02:00:00.000+0000"))


def _older_usage(t: pa.Table) -> pa.Table:
    # A preliminary figure, revised upward two days later.
    t = _set(t, "quantity", pc.round(pc.multiply(_col(t, "quantity"), 0.9), 1))
    stamp = pc.strptime(pc.utf8_slice_codeunits(_col(t, "updated_at"), 0, 19), "%Y-%m-%dT%H:%M:%S", "s")
    older = pc.subtract(stamp.cast(pa.int64()), 2 * 86_400).to_numpy()
    return _set(t, "updated_at", text.datetimes(older))


OLDER: dict[str, Older] = {
    "Account": _older_account, "Contact": _older_contact, "Opportunity": _older_opportunity,
    "OpportunityLineItem": _older_line, "Contract": _older_contract, "Asset": _older_asset, "Case": _older_case, "Event": _older_event,
    "Task": _older_task, "billing_invoices": _older_invoice, "monthly_usage": _older_usage,
}


def _eligible(table: str, tbl: pa.Table, defect: Defect, protected: np.ndarray | None) -> np.ndarray:
    """Rows a defect can be put on without inventing a different kind of error."""
    n = tbl.num_rows
    if defect.kind == "soft_deleted":
        return np.ones(n, bool) if protected is None else ~protected
    if defect.kind == "duplicate_id":
        if table == "Case":
            return _col(tbl, "Status").to_numpy(zero_copy_only=False) != "New"
        if table == "Task":
            return _col(tbl, "Status").to_numpy(zero_copy_only=False) == "Completed"
        if table == "Asset":
            return _col(tbl, "Status").to_numpy(zero_copy_only=False) == "Installed"
        if table == "billing_invoices":
            return _col(tbl, "status").to_numpy(zero_copy_only=False) == "PAID"
        return np.ones(n, bool)
    if defect.kind in ("bad_date", "negative_amount", "bad_email", "mixed_case_code", "null_required"):
        col = _col(tbl, defect.field)
        ok = col.is_valid().to_numpy(zero_copy_only=False)
        if defect.kind == "negative_amount":
            ok &= pc.greater(col, 0).fill_null(False).to_numpy(zero_copy_only=False)
        return ok
    return np.ones(n, bool)


def _cycle(values: tuple[str, ...], n: int) -> pa.Array:
    return pa.array([values[i % len(values)] for i in range(n)], pa.string())


def _damaged(defect: Defect, current: pa.Array) -> pa.Array:
    """The dirty value for each selected row (same type as the column)."""
    n = len(current)
    kind = defect.kind
    if kind == "null_required":
        return pa.nulls(n, current.type)
    if kind == "bad_date" and defect.field == "usage_month":
        # Derived from the real month ("2023-07" -> "2023-19" or "07/2023") so the record key stays unique.
        year, month = pc.utf8_slice_codeunits(current, 0, 4), pc.utf8_slice_codeunits(current, 5, 7)
        past_december = pc.cast(pc.add(pc.cast(month, pa.int64()), 12), pa.string())
        return pc.if_else(pa.array(np.arange(n) % 2 == 0), text.concat(year, "-", past_december),
                          text.concat(month, "/", year))
    if kind == "bad_date":
        return _cycle(BAD_DATES, n)
    if kind == "negative_amount":
        return pc.negate(current)
    if kind == "mixed_case_code":
        lower = np.arange(n) % 2 == 0
        return pc.if_else(pa.array(lower), pc.utf8_lower(current), pc.utf8_capitalize(pc.utf8_lower(current)))
    if kind == "unknown_country":
        return _cycle(UNKNOWN_COUNTRIES, n)
    if kind == "unknown_currency":
        return _cycle(UNKNOWN_CURRENCIES, n)
    if kind == "soft_deleted":
        return pa.array(np.ones(n, bool))
    if kind == "bad_email":
        variant = np.arange(n) % 3
        no_domain = pc.replace_substring_regex(current, "@.*$", "@")
        spelled = pc.replace_substring(current, "@", " at ")
        return pc.if_else(pa.array(variant == 0), no_domain, pc.if_else(pa.array(variant == 1), "n/a", spelled))
    if kind == "bad_phone":
        return _cycle(BAD_PHONES, n)
    raise ValueError(f"no damage defined for defect kind {kind!r}")


def _older_stamps(stamps: Stamps, rows: np.ndarray, rng: np.random.Generator) -> tuple[pa.Array, pa.Array]:
    """An earlier LastModifiedDate and SystemModstamp, still after CreatedDate."""
    created, system = stamps.created[rows], stamps.system[rows]
    older_system = created + ((system - created) * rng.uniform(0.2, 0.8, len(rows))).astype(np.int64)
    older_system = np.minimum(np.maximum(older_system, created + 1), system - 1)
    older_modified = np.maximum(older_system - rng.integers(0, 30, len(rows)), created)
    return text.datetimes(older_modified), text.datetimes(older_system)


def inject(table: str, tbl: pa.Table, rate: float, rng: np.random.Generator, stamps: Stamps | None = None,
           protected: np.ndarray | None = None) -> tuple[pa.Table, pa.Table]:
    """Damage round(rate x rows) rows of one table (or one feed file); returns the damaged
    table and the list of injected records.  ``protected`` rows (referenced by other
    records) are never soft-deleted."""
    defects = DEFECTS.get(table, ())
    n = tbl.num_rows
    total = round(rate * n)
    if not defects or total == 0:
        return tbl, RECORD_SCHEMA.empty_table()
    order = rng.permutation(n)
    taken = np.zeros(n, bool)
    quota = np.full(len(defects), total // len(defects))
    quota[: total % len(defects)] += 1
    chosen: list[np.ndarray] = []
    for defect, q in zip(defects, quota, strict=True):
        ok = _eligible(table, tbl, defect, protected) & ~taken
        rows = np.sort(order[ok[order]][:q])
        taken[rows] = True
        chosen.append(rows)

    duplicates = []
    damaged = tbl
    for defect, rows in zip(defects, chosen, strict=True):
        if len(rows) == 0:
            continue
        if defect.kind == "duplicate_id":
            older = OLDER[table](tbl.take(pa.array(rows)))
            if stamps is not None:
                modified, system = _older_stamps(stamps, rows, rng)
                older = _set(_set(older, "LastModifiedDate", modified), "SystemModstamp", system)
            duplicates.append(older)
            continue
        mask = np.zeros(n, bool)
        mask[rows] = True
        column = _col(damaged, defect.field)
        new = _damaged(defect, column.take(pa.array(rows)))
        damaged = _set(damaged, defect.field, pc.replace_with_mask(column, pa.array(mask), new.cast(column.type)))
    # Listed under the key as it reads in bronze (for usage that includes a damaged month or code).
    ids = record_ids(table, damaged)
    records = [
        pa.table({"table": pa.repeat(table, len(rows)), "record_id": ids.take(pa.array(rows)),
                  "kind": pa.repeat(d.kind, len(rows)), "field": pa.repeat(d.field, len(rows))}, schema=RECORD_SCHEMA)
        for d, rows in zip(defects, chosen, strict=True)
        if len(rows)
    ]
    out = pa.concat_tables([damaged, *duplicates]) if duplicates else damaged
    return out, pa.concat_tables(records) if records else RECORD_SCHEMA.empty_table()
