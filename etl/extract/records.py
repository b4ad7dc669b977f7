"""Turning API pages into bronze-shaped Arrow tables.

Bronze keeps the REST API's raw values (etl.contracts): text as text, dates
and datetimes as the strings REST returns, numbers as doubles, booleans as
booleans.  REST pages arrive as JSON records; Bulk 2.0 pages arrive as CSV
where everything is text, nulls are empty, and datetimes end in ``Z`` rather
than REST's ``+0000``.  Both are converted here to the same table, so a batch
does not depend on which API fetched it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.contracts import BRONZE_METADATA
from etl.errors import DataError

_DATETIME_TYPES = {"datetime"}


def bronze_schema(contract: pa.Schema) -> pa.Schema:
    """The contract's columns followed by the metadata columns: what `write_bronze_batch` writes."""
    return pa.schema(list(contract) + list(BRONZE_METADATA))


def _coerce(value: Any, typ: pa.DataType) -> Any:
    """One value the fast path could not convert: keep it, as faithfully as the type allows."""
    if value is None:
        return None
    if typ == pa.string():
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):  # compound fields (addresses, geolocations)
            return json.dumps(value, sort_keys=True)
        return str(value)
    if typ == pa.float64():
        return float(value)
    if typ == pa.bool_():
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)
    return value


def _array(values: list[Any], typ: pa.DataType, where: str) -> pa.Array:
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        try:
            return pa.array([_coerce(v, typ) for v in values], type=typ)
        except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"{where}: values cannot be read as {typ}: {type(exc).__name__}") from None


def _metadata(n: int, batch_id: str, extracted_at: str, source: str) -> list[pa.Array]:
    return [
        pa.array([batch_id] * n, pa.string()),
        pa.array([extracted_at] * n, pa.string()),
        pa.array([source] * n, pa.string()),
    ]


def rest_page_to_table(
    obj: str,
    records: Sequence[dict[str, Any]],
    selected: Sequence[str],
    contract: pa.Schema,
    *,
    batch_id: str,
    extracted_at: str,
    source: str,
) -> pa.Table:
    """REST records (with ``attributes``) -> one bronze table; unselected contract columns are null."""
    n = len(records)
    chosen = set(selected)
    picked = pa.schema([f for f in contract if f.name in chosen])
    try:  # fast path: Arrow converts the whole page in C++, ignoring "attributes"
        page = pa.Table.from_pylist(list(records), schema=picked)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        page = None
    cols = []
    for field in contract:
        if field.name not in chosen:
            cols.append(pa.nulls(n, field.type))
        elif page is not None:
            cols.append(page.column(field.name).combine_chunks())
        else:  # a value of an unexpected type somewhere in the page: convert field by field
            cols.append(_array([r.get(field.name) for r in records], field.type, f"{obj}.{field.name}"))
    return pa.Table.from_arrays(cols + _metadata(n, batch_id, extracted_at, source), schema=bronze_schema(contract))


def bulk_csv_to_table(
    obj: str,
    data: bytes,
    selected: Sequence[str],
    field_types: dict[str, str],
    contract: pa.Schema,
    *,
    batch_id: str,
    extracted_at: str,
    source: str,
) -> pa.Table:
    """A Bulk 2.0 CSV results page -> the same bronze table REST would give."""
    if not data.strip():
        raw = pa.table({f: pa.array([], pa.string()) for f in selected})
    else:
        try:
            raw = pacsv.read_csv(
                io.BytesIO(data),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={f: pa.string() for f in selected},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
        except pa.ArrowInvalid as exc:
            raise DataError(f"{obj}: Bulk 2.0 results are not readable CSV: {exc}") from None
    by_lower = {name.lower(): name for name in raw.column_names}
    n = raw.num_rows
    chosen = {f.lower() for f in selected}
    cols = []
    for field in contract:
        name = by_lower.get(field.name.lower())
        if field.name.lower() not in chosen or name is None:
            if field.name.lower() in chosen:
                raise DataError(f"{obj}: Bulk 2.0 results lack the selected column {field.name}")
            cols.append(pa.nulls(n, field.type))
            continue
        col = raw.column(name)
        if col.type != pa.string():
            col = col.cast(pa.string())
        try:
            if field.type == pa.bool_():
                col = pc.equal(pc.utf8_lower(col), "true")
            elif field.type == pa.float64():
                col = col.cast(pa.float64())
            elif field.type == pa.string() and field_types.get(field.name) in _DATETIME_TYPES:
                # Bulk writes 2024-03-15T10:22:01.000Z where REST writes ...+0000
                col = pc.replace_substring_regex(col, pattern=r"Z$", replacement="+0000")
            else:
                col = col.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(f"{obj}.{field.name}: Bulk 2.0 values cannot be read as {field.type}: {exc}") from None
        cols.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    return pa.Table.from_arrays(cols + _metadata(n, batch_id, extracted_at, source), schema=bronze_schema(contract))
