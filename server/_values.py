"""A few values of an in-memory Arrow column as Python objects, read from views of its buffers.

A customer 360 request reads one metrics row of 40-odd columns, a search
request 8 rows of a handful; through Arrow each column costs a call that
makes a scalar or a taken array and then converts it (about 1 us a column
for one row, 3-4 us for 8).  Numbers, booleans, dates and strings can be
read straight from the column's buffers instead: numpy views (for many rows)
and memoryviews (for one) of the values and the validity bitmap, made once
per column, no copy; so can timestamps in UTC or without a zone (an
alert's status change: 2.25 us through Arrow), and lists and structs of
all these (an alert's conditions).  `column_values` gives a reader for those
types and None for the others (other timestamps, maps, binaries, ...), which
stay with Arrow.  The values are ``to_pylist``'s: the same Python types, None
for a null; a float NaN is None too (the API's rule), except inside a list
or struct, where it stays NaN as in every other read of such a column.

`row_reader` turns the readers of a row's columns into one generated
function: every value read in line, no call a value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

_EPOCH = date(1970, 1, 1).toordinal()  # date32 counts days from here


def _view(buf: pa.Buffer, fmt: str, start: int, count: int) -> memoryview:
    """`count` items of format `fmt` from item `start` of a buffer: a view, whose items index as Python
    ints and floats (a numpy scalar costs several times more for one value)."""
    size = np.dtype(fmt).itemsize
    raw = memoryview(buf)
    return raw[: len(raw) // size * size].cast(fmt)[start : start + count]


class ColumnValues(ABC):
    """Values at positions of one array; `one` for a row, `many` for an array of positions.  A type's
    subclass reads its values (`_value`, `_values`); nulls are handled here, from the validity bitmap."""

    __slots__ = ("_bits", "_bitmap", "_off")

    def __init__(self, arr: pa.Array):
        self._off = arr.offset
        validity = arr.buffers()[0]
        has_nulls = bool(arr.null_count) and validity is not None
        self._bits = np.frombuffer(validity, np.uint8) if has_nulls else None  # for `many`
        self._bitmap = memoryview(validity) if has_nulls else None  # for `one`

    def one(self, p: int) -> Any:
        if self._bitmap is not None:
            q = p + self._off
            if not (self._bitmap[q >> 3] >> (q & 7)) & 1:
                return None
        return self._value(p)

    def many(self, ps: np.ndarray) -> list[Any]:
        out = self._values(ps)
        if self._bits is not None:
            for i in self._nulls(ps).tolist():
                out[i] = None
        return out

    def inline(self, v: str, p: str = "p") -> tuple[str, dict[str, Any]]:
        """`one` as a Python expression of the position, the variable named `p`, for generated code
        (`row_reader`): the expression and the names it uses, each starting with `v`."""
        expr, names = self._expr(v, p)
        if self._bitmap is None:
            return expr, names
        q = f"({p} + {self._off})" if self._off else p
        return f"(None if not ({v}_bits[{q} >> 3] >> ({q} & 7)) & 1 else {expr})", {**names, f"{v}_bits": self._bitmap}

    @abstractmethod
    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        """`_value` as an expression of the position `p` (see `inline`)."""

    def _nulls(self, ps: np.ndarray) -> np.ndarray:
        """Indexes into `ps` of the null values."""
        q = ps + self._off
        return np.flatnonzero(((self._bits[q >> 3] >> (q & 7)) & 1) == 0)

    @abstractmethod
    def _value(self, p: int) -> Any:
        """The value at position `p` (not null)."""

    @abstractmethod
    def _values(self, ps: np.ndarray) -> list[Any]:
        """The values at positions `ps`; a null's slot may give anything (`many` replaces it), but never raises."""


class _Numbers(ColumnValues):
    __slots__ = ("_float", "_items", "_vals")

    def __init__(self, arr: pa.Array, nan_is_null: bool = True):
        super().__init__(arr)
        dtype = np.dtype(arr.type.to_pandas_dtype())
        n = len(arr)
        self._vals = np.frombuffer(arr.buffers()[1], dtype, count=n + arr.offset)[arr.offset :]
        self._items = _view(arr.buffers()[1], dtype.char, arr.offset, n)
        self._float = dtype.kind == "f" and nan_is_null  # NaN read as None (not inside a list or struct)

    def _value(self, p: int) -> Any:
        v = self._items[p]
        return None if self._float and v != v else v

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        if self._float:
            return f"(None if ({v}_x := {v}_items[{p}]) != {v}_x else {v}_x)", {f"{v}_items": self._items}
        return f"{v}_items[{p}]", {f"{v}_items": self._items}

    def _values(self, ps: np.ndarray) -> list[Any]:
        out = self._vals[ps].tolist()
        return [None if v != v else v for v in out] if self._float else out


class _Booleans(ColumnValues):
    __slots__ = ("_vals", "_view")

    def __init__(self, arr: pa.Array):
        super().__init__(arr)
        self._vals = np.frombuffer(arr.buffers()[1], np.uint8)
        self._view = memoryview(arr.buffers()[1])

    def _value(self, p: int) -> Any:
        p += self._off
        return bool((self._view[p >> 3] >> (p & 7)) & 1)

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        q = f"({p} + {self._off})" if self._off else p
        return f"bool(({v}_view[{q} >> 3] >> ({q} & 7)) & 1)", {f"{v}_view": self._view}

    def _values(self, ps: np.ndarray) -> list[Any]:
        q = ps + self._off
        return (((self._vals[q >> 3] >> (q & 7)) & 1) == 1).tolist()


class _Dates(ColumnValues):
    __slots__ = ("_days", "_items")

    def __init__(self, arr: pa.Array):
        super().__init__(arr)
        self._days = np.frombuffer(arr.buffers()[1], np.int32, count=len(arr) + arr.offset)[arr.offset :]
        self._items = _view(arr.buffers()[1], "i", arr.offset, len(arr))

    def _value(self, p: int) -> Any:
        return date.fromordinal(_EPOCH + self._items[p])

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        return f"{v}_day({_EPOCH} + {v}_items[{p}])", {f"{v}_items": self._items, f"{v}_day": date.fromordinal}

    def _values(self, ps: np.ndarray) -> list[Any]:
        days = self._days[ps]  # a copy: a null's slot may hold any number, not always a valid date
        if self._bits is not None:
            days[self._nulls(ps)] = 0
        return [date.fromordinal(_EPOCH + d) for d in days.tolist()]


class _Strings(ColumnValues):
    __slots__ = ("_data", "_items", "_offsets")

    def __init__(self, arr: pa.Array):
        super().__init__(arr)
        large = pa.types.is_large_string(arr.type)
        n = len(arr) + 1
        self._offsets = np.frombuffer(arr.buffers()[1], np.int64 if large else np.int32, count=n + arr.offset)[arr.offset :]
        self._items = _view(arr.buffers()[1], "q" if large else "i", arr.offset, n)
        data = arr.buffers()[2]
        self._data = memoryview(data) if data is not None else memoryview(b"")

    def _value(self, p: int) -> Any:
        items = self._items
        return str(self._data[items[p] : items[p + 1]], "utf-8")

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        return f'str({v}_data[{v}_items[{p}] : {v}_items[{p} + 1]], "utf-8")', {f"{v}_items": self._items, f"{v}_data": self._data}

    def _values(self, ps: np.ndarray) -> list[Any]:
        data = self._data
        # "replace": a null's bytes need not be UTF-8 (its value is then None); valid strings are
        return [str(data[a:b], "utf-8", "replace")
                for a, b in zip(self._offsets[ps].tolist(), self._offsets[ps + 1].tolist(), strict=True)]


class _Timestamps(ColumnValues):
    """Timestamps in s, ms or us, naive or in UTC (to_pylist's tzinfo: ZoneInfo("UTC")): the epoch plus the
    count.  Other zones stay with Arrow (adding to an aware datetime is wall-clock arithmetic), and so do
    nanoseconds (Arrow gives pandas Timestamps for those)."""

    __slots__ = ("_counts", "_epoch", "_items", "_unit")

    _UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1}

    def __init__(self, arr: pa.Array):
        super().__init__(arr)
        self._counts = np.frombuffer(arr.buffers()[1], np.int64, count=len(arr) + arr.offset)[arr.offset :]
        self._items = _view(arr.buffers()[1], "q", arr.offset, len(arr))
        self._unit = self._UNITS[arr.type.unit]
        self._epoch = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC") if arr.type.tz else None)

    def _value(self, p: int) -> Any:
        return self._epoch + timedelta(microseconds=self._items[p] * self._unit)

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        return (f"{v}_epoch + {v}_delta(microseconds={v}_items[{p}] * {self._unit})",
                {f"{v}_items": self._items, f"{v}_epoch": self._epoch, f"{v}_delta": timedelta})

    def _values(self, ps: np.ndarray) -> list[Any]:
        counts = self._counts[ps]  # a copy: a null's slot may hold any number
        if self._bits is not None:
            counts[self._nulls(ps)] = 0
        epoch, unit = self._epoch, self._unit
        return [epoch + timedelta(microseconds=c * unit) for c in counts.tolist()]


class _Nested(ColumnValues):
    """Values of a nested type, made one at a time for `many` as for `one` (a null one is not read: what
    lies beneath a null list or struct need not be valid)."""

    __slots__ = ()

    def _values(self, ps: np.ndarray) -> list[Any]:
        one = self.one
        return [one(p) for p in ps.tolist()]


class _Structs(_Nested):
    """Structs whose every field has a reader: a dict of the fields a value, as to_pylist, NaN included (an alert's
    conditions are a list of them: 3.5 us a row through Arrow's as_py, 1.7 us in a row reader)."""

    __slots__ = ("_fields",)

    def __init__(self, arr: pa.StructArray, fields: list[tuple[str, ColumnValues]]):
        super().__init__(arr)
        self._fields = fields  # readers of the children as `field` gives them: the struct's offset applied

    def _value(self, p: int) -> Any:
        return {name: reader.one(p) for name, reader in self._fields}

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        items, names = [], {}
        for i, (name, reader) in enumerate(self._fields):
            expr, bound = reader.inline(f"{v}_{i}", p)
            items.append(f"{name!r}: {expr}")
            names.update(bound)
        return "{" + ", ".join(items) + "}", names


class _Lists(_Nested):
    """Lists (or large lists) of values with a reader: a list a value, as to_pylist (NaN included)."""

    __slots__ = ("_items", "_reader")

    def __init__(self, arr: pa.ListArray | pa.LargeListArray, item: ColumnValues):
        super().__init__(arr)
        large = pa.types.is_large_list(arr.type)
        self._items = _view(arr.buffers()[1], "q" if large else "i", arr.offset, len(arr) + 1)  # into the whole child
        self._reader = item

    def _value(self, p: int) -> Any:
        one = self._reader.one
        return [one(i) for i in range(self._items[p], self._items[p + 1])]

    def _expr(self, v: str, p: str) -> tuple[str, dict[str, Any]]:
        i = f"{v}_i"  # the item's position in the child, the comprehension's own variable
        expr, names = self._reader.inline(f"{v}_item", i)
        return f"[{expr} for {i} in range({v}_items[{p}], {v}_items[{p} + 1])]", {**names, f"{v}_items": self._items}


def column_values(arr: pa.Array, nested: bool = False) -> ColumnValues | None:
    """A reader of `arr`'s values from its buffers, or None for a type read through Arrow.  `nested`: the
    items of a list or the fields of a struct, whose float NaN stays NaN (as to_pylist and the column by
    column reads keep it)."""
    t = arr.type
    if pa.types.is_struct(t):
        fields = [(t.field(i).name, column_values(arr.field(i), nested=True)) for i in range(t.num_fields)]
        names = [name for name, _ in fields]
        # a name twice: to_pylist would keep one of them; leave that to Arrow
        if all(reader is not None for _, reader in fields) and len(set(names)) == len(names):
            return _Structs(arr, fields)
        return None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = column_values(arr.values, nested=True)
        return None if item is None else _Lists(arr, item)
    if pa.types.is_integer(t) or pa.types.is_floating(t) and not pa.types.is_float16(t):
        return _Numbers(arr, nan_is_null=not nested)
    if pa.types.is_boolean(t):
        return _Booleans(arr)
    if pa.types.is_date32(t):
        return _Dates(arr)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _Strings(arr)
    if pa.types.is_timestamp(t) and t.unit in _Timestamps._UNITS and t.tz in (None, "UTC"):
        return _Timestamps(arr)
    return None


def _arrow_value(arr: pa.Array, p: int, is_float: bool) -> Any:
    """A value of a type without a reader, through Arrow (NaN as None)."""
    v = arr[p].as_py()
    return None if is_float and v != v else v


def row_reader(columns: Sequence[tuple[str, pa.Array, bool, ColumnValues | None]]) -> Callable[[int], dict[str, Any]]:
    """One row of these columns as a dict, ``{name: value}`` in their order, by a function generated for
    them: each value read in line (`ColumnValues.inline`), the same as its reader's `one`, without the two
    calls a value costs there (a search page's 56 values: about 0.3 us each); a column (name, array, is
    floating point, its reader or None) without a reader through Arrow."""
    items, names = [], {"_arrow_value": _arrow_value}
    for i, (name, arr, is_float, reader) in enumerate(columns):
        v = f"c{i}"
        if reader is not None:
            expr, bound = reader.inline(v)
            names.update(bound)
        else:
            expr = f"_arrow_value({v}_arr, p, {is_float!r})"
            names[f"{v}_arr"] = arr
        items.append(f"{name!r}: {expr}")
    source = "def row(p):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<row reader>", "exec"), names)  # noqa: S102 - generated from column types and positions only
    # taken out of its own globals: no cycle, so a swapped-out snapshot's buffers go when its tables go
    return names.pop("row")


_DATE32 = pa.date32().id


def pylist(arr: pa.Array | pa.ChunkedArray) -> list[Any]:
    """``arr.to_pylist()``, with date32 values made from the buffer: Arrow's conversion costs about 0.75 us
    a date (a timeline page's 20 dates: 15 us), ``date.fromordinal`` on the day numbers a fifth of that."""
    if arr.type.id != _DATE32:
        return arr.to_pylist()
    if isinstance(arr, pa.ChunkedArray):
        return [v for chunk in arr.chunks for v in pylist(chunk)]
    days = np.frombuffer(arr.buffers()[1], np.int32, count=len(arr) + arr.offset)[arr.offset :]
    if not arr.null_count:
        return [date.fromordinal(_EPOCH + d) for d in days.tolist()]
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    # a null's slot may hold any number, not always a valid date
    return [date.fromordinal(_EPOCH + d) if ok else None for d, ok in zip(days.tolist(), valid.tolist(), strict=True)]
