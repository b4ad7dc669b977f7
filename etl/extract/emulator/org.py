"""The emulated org's records: bronze-shaped frames in, Salesforce wire format out.

`Org` holds one Arrow table per object, built from frames in the bronze
contract's shape (what `etl.storage.read_bronze` returns, metadata columns
ignored).  It normalises the frames the way Salesforce stores data: one row
per Id (the latest ``SystemModstamp``), empty text stored as null.  It
answers parsed SOQL with row indices, renders REST JSON records (with
``attributes``) and Bulk 2.0 CSV (datetimes ending in ``Z``, booleans as
``true``/``false``, nulls empty), and lets a test change the data the way
users do: update, soft-delete, insert, each stamping ``SystemModstamp``
with the emulator's clock.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.contracts import BRONZE_METADATA, BRONZE_SALESFORCE
from etl.extract.emulator.soql import Condition, Query, SoqlError

_DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_FIELDS = {"NumberOfEmployees", "ContractTerm", "DurationInMinutes"}
_META = set(BRONZE_METADATA.names)


def sf_datetime(value: datetime) -> str:
    """A datetime as the REST API writes it: ``2026-11-01T09:30:00.000+0000``."""
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}+0000"


def _epoch_ms(values: pd.Series) -> np.ndarray:
    """Datetime strings -> epoch milliseconds; null or unparseable -> int64 min (never matches)."""
    parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    naive = parsed.dt.tz_convert(None) if len(parsed) else parsed
    return naive.to_numpy(dtype="datetime64[ns]").astype("datetime64[ms]").astype(np.int64)


def _infer_type(name: str, col: pa.ChunkedArray) -> str:
    """The describe ``type`` of a column, inferred from the contract type and the values."""
    if name == "Id":
        return "id"
    if col.type == pa.bool_():
        return "boolean"
    if col.type == pa.float64():
        return "int" if name in _INT_FIELDS else "double"
    values = [v for v in col.drop_null().slice(0, 200).to_pylist()]
    if values and all(_DT_RE.match(v) for v in values):
        return "datetime"
    if values and all(_DATE_RE.match(v) for v in values):
        return "date"
    if name in ("CreatedDate", "LastModifiedDate", "SystemModstamp", "ClosedDate"):
        return "datetime"
    if name.endswith("Id") and name != "Id":
        return "reference"
    return "string"


@dataclass
class SObject:
    """One object's records and describe."""

    name: str
    table: pa.Table  # the org's columns only, contract types
    types: dict[str, str]  # field -> describe type
    stamps: np.ndarray  # SystemModstamp as epoch ms (int64 min for null)

    @property
    def by_lower(self) -> dict[str, str]:
        return {n.lower(): n for n in self.table.column_names}


def _normalise(obj: str, data: pd.DataFrame | pa.Table) -> pa.Table:
    contract = BRONZE_SALESFORCE[obj]
    frame = data.to_pandas() if isinstance(data, pa.Table) else data.copy()
    frame = frame[[c for c in frame.columns if c not in _META and c in contract.names]]
    for c in frame.columns:  # Salesforce stores empty text as null
        if contract.field(c).type == pa.string():
            frame[c] = frame[c].astype(object).where(frame[c].notna() & (frame[c].astype(object) != ""), None)
    if "Id" in frame.columns and frame["Id"].duplicated().any():
        order = ["SystemModstamp"] if "SystemModstamp" in frame.columns else []
        frame = frame.assign(_pos=np.arange(len(frame))).sort_values(order + ["_pos"], kind="stable")
        frame = frame.drop_duplicates("Id", keep="last").sort_values("_pos").drop(columns="_pos")
    schema = pa.schema([contract.field(c) for c in frame.columns])
    return pa.Table.from_pandas(frame.reset_index(drop=True), schema=schema, preserve_index=False)


class Org:
    """The records of an emulated org, safe to change from the test thread while serving."""

    def __init__(self, frames: Mapping[str, pd.DataFrame | pa.Table], clock: Callable[[], datetime]):
        self.lock = threading.RLock()
        self.clock = clock
        self.objects: dict[str, SObject] = {}
        self.unavailable: dict[str, str] = {}  # object -> "describe" (404 there too) or "query" (describe ok)
        for obj, data in frames.items():
            self.load(obj, data)

    # ------------------------------------------------------------------ data

    def load(self, obj: str, data: pd.DataFrame | pa.Table) -> None:
        table = _normalise(obj, data)
        with self.lock:
            old = self.objects.get(obj)
            types = {n: (old.types[n] if old and n in old.types else _infer_type(n, table.column(n))) for n in table.column_names}
            self.objects[obj] = SObject(obj, table, types, self._stamps(table))

    @staticmethod
    def _stamps(table: pa.Table) -> np.ndarray:
        if "SystemModstamp" not in table.column_names:
            return np.zeros(table.num_rows, dtype=np.int64)
        return _epoch_ms(table.column("SystemModstamp").to_pandas())

    def frame(self, obj: str, include_deleted: bool = True) -> pd.DataFrame:
        """The object's current records as a DataFrame (the test's ground truth)."""
        with self.lock:
            df = self.objects[obj].table.to_pandas()
        if not include_deleted and "IsDeleted" in df.columns:
            df = df[~df["IsDeleted"].fillna(False).astype(bool)].reset_index(drop=True)
        return df

    def _change(self, obj: str, ids: Iterable[str], values: Mapping[str, Any], at: datetime | None) -> None:
        stamp = sf_datetime(at or self.clock())
        with self.lock:
            df = self.objects[obj].table.to_pandas()
            mask = df["Id"].isin(list(ids))
            if not mask.any():
                raise KeyError(f"{obj}: none of the ids exist")
            for k, v in values.items():
                if k not in df.columns:
                    raise KeyError(f"{obj}.{k} is not a field of the emulated org")
                df.loc[mask, k] = v
            for k in ("LastModifiedDate", "SystemModstamp"):
                if k in df.columns:
                    df.loc[mask, k] = stamp
            self.load(obj, df)

    def update(self, obj: str, ids: Iterable[str], values: Mapping[str, Any], at: datetime | None = None) -> None:
        self._change(obj, ids, values, at)

    def soft_delete(self, obj: str, ids: Iterable[str], at: datetime | None = None) -> None:
        """Move records to the recycle bin: IsDeleted = true, visible to queryAll only."""
        self._change(obj, ids, {"IsDeleted": True}, at)

    def insert(self, obj: str, frame: pd.DataFrame, at: datetime | None = None) -> None:
        stamp = sf_datetime(at or self.clock())
        with self.lock:
            df = self.objects[obj].table.to_pandas()
            new = frame.copy()
            for k in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                if k in df.columns:
                    new[k] = stamp
            if "IsDeleted" in df.columns and "IsDeleted" not in new.columns:
                new["IsDeleted"] = False
            self.load(obj, pd.concat([df, new[[c for c in new.columns if c in df.columns]]], ignore_index=True))

    def hide_field(self, obj: str, field: str) -> None:
        """Make a field absent from the org (e.g. CurrencyIsoCode in a single-currency org)."""
        with self.lock:
            so = self.objects[obj]
            table = so.table.drop_columns([field])
            types = {k: v for k, v in so.types.items() if k != field}
            self.objects[obj] = SObject(obj, table, types, self._stamps(table))

    def respell(self, obj: str, field: str, org_name: str) -> None:
        """Give a field the org's own capitalisation (e.g. ``term_months__c``): API names are
        case-insensitive in SOQL, but the JSON keys come back spelled the org's way."""
        if org_name.lower() != field.lower():
            raise ValueError("respell changes capitalisation only")
        with self.lock:
            so = self.objects[obj]
            table = so.table.rename_columns([org_name if c == field else c for c in so.table.column_names])
            types = {(org_name if k == field else k): v for k, v in so.types.items()}
            self.objects[obj] = SObject(obj, table, types, so.stamps)

    def disable(self, obj: str, at: str = "describe") -> None:
        """Make an object unknown: 404 on describe (``at="describe"``) or only INVALID_TYPE on query."""
        self.unavailable[obj] = at

    # ------------------------------------------------------------------ describe and query

    def describe(self, obj: str) -> dict[str, Any] | None:
        with self.lock:
            so = self.objects.get(obj)
            if so is None or self.unavailable.get(obj) == "describe":
                return None
            fields = [
                {"name": n, "type": so.types[n], "nillable": n != "Id", "custom": n.endswith("__c"), "label": n}
                for n in so.table.column_names
            ]
        return {"name": obj, "label": obj, "queryable": True, "retrieveable": True, "custom": False, "fields": fields}

    def _sobject(self, name: str) -> SObject:
        for obj, so in self.objects.items():
            if obj.lower() == name.lower() and obj not in self.unavailable:
                return so
        raise SoqlError(f"\nsObject type '{name}' is not supported. If you are attempting to use a custom object, "
                        "be sure to append the '__c' after the entity name.", "INVALID_TYPE")

    def _mask(self, so: SObject, cond: Condition) -> np.ndarray:
        name = so.by_lower.get(cond.field.lower())
        if name is None:
            raise SoqlError(f"\nNo such column '{cond.field}' on entity '{so.name}'.", "INVALID_FIELD")
        ftype = so.types[name]
        if cond.kind == "dt":
            if ftype != "datetime":
                raise SoqlError(f"\nvalue of filter criterion for field '{name}' must be of type {ftype}", "INVALID_FIELD")
            values = so.stamps if name == "SystemModstamp" else _epoch_ms(so.table.column(name).to_pandas())
            present = values != np.iinfo(np.int64).min
            target = int(cond.value.timestamp() * 1000)
            ops = {"=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
            return present & ops[cond.op](values, target)
        col = so.table.column(name).to_pandas()
        if cond.kind == "null":
            return (col.isna() if cond.op == "=" else col.notna()).to_numpy()
        value = cond.value
        ops2 = {"=": col.eq, "!=": col.ne, "<": col.lt, "<=": col.le, ">": col.gt, ">=": col.ge}
        return (ops2[cond.op](value) & col.notna()).fillna(False).to_numpy(dtype=bool)

    def run(self, query: Query, include_deleted: bool) -> tuple[str, list[str], np.ndarray]:
        """(object, canonical field names, matching row indices) for a parsed query."""
        with self.lock:
            so = self._sobject(query.sobject)
            fields = []
            for f in query.fields:
                name = so.by_lower.get(f.lower())
                if name is None:
                    raise SoqlError(f"\n{', '.join(query.fields)}\n^\nERROR at Row:1:Column:8\nNo such column '{f}' on entity "
                                    f"'{so.name}'.", "INVALID_FIELD")
                fields.append(name)
            mask = np.ones(so.table.num_rows, dtype=bool)
            for cond in query.where:
                mask &= self._mask(so, cond)
            if not include_deleted and "IsDeleted" in so.table.column_names:
                mask &= ~so.table.column("IsDeleted").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
            idx = np.nonzero(mask)[0]
            if query.order_by is not None:
                name = so.by_lower.get(query.order_by[0].lower())
                if name is None:
                    raise SoqlError(f"\nNo such column '{query.order_by[0]}' on entity '{so.name}'.", "INVALID_FIELD")
                keys = so.table.column(name).to_pandas().iloc[idx]
                order = np.argsort(keys.to_numpy(dtype=object if keys.dtype == object else None), kind="stable")
                idx = idx[order[::-1] if query.order_by[1] else order]
            if query.limit is not None:
                idx = idx[: query.limit]
            return so.name, fields, idx

    def records_json(self, obj: str, fields: list[str], idx: np.ndarray, api_version: str) -> list[dict[str, Any]]:
        """REST records: ``attributes`` first, then the fields in SELECT order."""
        with self.lock:
            so = self.objects[obj]
            rows = so.table.select(fields).take(pa.array(idx, pa.int64())).to_pylist()
            ints = [f for f in fields if so.types[f] == "int"]
        out = []
        for row in rows:
            for f in ints:
                if row[f] is not None:
                    row[f] = int(row[f])
            rid = row.get("Id")
            out.append({"attributes": {"type": obj, "url": f"/services/data/v{api_version}/sobjects/{obj}/{rid}"}, **row})
        return out

    def records_csv(self, obj: str, fields: list[str], idx: np.ndarray) -> bytes:
        """Bulk 2.0 CSV: every value quoted, nulls empty, booleans lowercase, datetimes in ``Z``."""
        with self.lock:
            so = self.objects[obj]
            sub = so.table.select(fields).take(pa.array(idx, pa.int64()))
            types = dict(so.types)
        cols = []
        for f in fields:
            col = sub.column(f)
            if col.type == pa.bool_():
                col = pc.if_else(col, "true", "false")
            elif types[f] == "int":
                col = pc.round(col).cast(pa.int64()).cast(pa.string())
            elif col.type == pa.float64():
                col = col.cast(pa.string())
            elif types[f] == "datetime":
                col = pc.replace_substring_regex(col, pattern=r"\+0000$", replacement="Z")
            cols.append(col)
        buf = io.BytesIO()
        pacsv.write_csv(pa.table(cols, names=fields), buf, pacsv.WriteOptions(quoting_style="all_valid"))
        return buf.getvalue()
