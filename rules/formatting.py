"""Typed fact columns, value formatting and message templates, all vectorised.

Both evaluation paths turn their input (a facts frame of a million rows, or
one customer's dict) into the same `Columns` - one typed Arrow array per
field - and render messages and explanations with the same functions here.
That is what makes "both paths give identical text" true by construction,
and keeps the batch path free of per-account Python loops: numbers are
formatted with numpy/Arrow arithmetic, not ``format()`` per value.

Number format specs accepted in templates (a subset of Python's)::

    {arr_usd}          default: up to 3 decimals, shortest form (250000, 75.2, 0.35)
    {arr_usd:,.0f}     fixed decimals, with (",") or without separators
    {churn_risk:.1f}
    {usage_growth:.0%} percent
    {open_cases:d}     whole number

A null value renders as ``n/a``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.errors import DataError
from rules.conditions import ConditionError
from rules.fields import FIELDS, TEMPLATE_EXTRAS, FieldType

NULL_TEXT = "n/a"
_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    "number": pa.float64(),
    "string": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


# --------------------------------------------------------------------------- typed columns


def _to_arrow(values: pd.Series, name: str, kind: FieldType) -> pa.Array:
    if len(values) and values.isna().all():  # a column of nothing but nulls, whatever its dtype
        return pa.nulls(len(values), _ARROW_TYPES[kind])
    try:
        if kind == "number":
            if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
                values = pd.to_numeric(values, errors="raise")
            floats = values.to_numpy(dtype=np.float64, na_value=np.nan)
            return pa.array(floats, pa.float64(), mask=np.isnan(floats))
        arr = pa.array(values, from_pandas=True)
        if kind == "date" and pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
            arr = pc.cast(arr, pa.timestamp(arr.type.unit))
        return pc.cast(arr, _ARROW_TYPES[kind])
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DataError(f"rule facts: column {name!r} cannot be read as {kind}: {exc}") from exc


def _is_null(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def _scalar_to_arrow(value: object, name: str, kind: FieldType) -> pa.Array:
    """One value as a one-element typed array (the per-customer twin of `_to_arrow`)."""
    if _is_null(value):
        return pa.nulls(1, _ARROW_TYPES[kind])
    if kind == "number" and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return pa.array([float(value)], pa.float64())
    if kind == "string" and isinstance(value, str):
        return pa.array([value], pa.string())
    if kind == "boolean" and isinstance(value, (bool, np.bool_)):
        return pa.array([bool(value)], pa.bool_())
    if kind == "date" and isinstance(value, dt.date):  # also datetime and pd.Timestamp
        day = value.date() if isinstance(value, dt.datetime) and value.tzinfo is None else None
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            day = value.astimezone(dt.timezone.utc).date()
        return pa.array([day or value], pa.date32())
    # Anything less plain (text numbers, timestamps, numpy dates...) goes the batch path's way.
    return _to_arrow(pd.Series([value], dtype=object if kind != "date" else None), name, kind)


class Columns:
    """The facts the rules read, as typed Arrow arrays (float64, string, bool, date32).

    Built once per evaluation; numbers are also kept as numpy float64 with
    NaN for null, the form the comparisons use.
    """

    def __init__(self, arrays: Mapping[str, pa.Array], n: int):
        self.arrays = dict(arrays)
        self.n = n
        self._numbers: dict[str, np.ndarray] = {}

    @classmethod
    def from_frame(cls, facts: pd.DataFrame, fields: set[str]) -> Columns:
        missing = sorted(f for f in fields if f not in facts.columns)
        if missing:
            raise DataError(f"rule facts lack column(s) {missing}; build them with rules.build_rule_facts")
        return cls({f: _to_arrow(facts[f], f, FIELDS[f].type) for f in fields}, len(facts))

    @classmethod
    def from_mapping(cls, facts: Mapping[str, object], fields: set[str]) -> Columns:
        """One customer's facts; values are read exactly as `from_frame` reads a column."""
        missing = sorted(f for f in fields if f not in facts)
        if missing:
            raise DataError(f"customer facts lack field(s) {missing}")
        return cls({f: _scalar_to_arrow(facts[f], f, FIELDS[f].type) for f in fields}, 1)

    def array(self, field: str) -> pa.Array:
        return self.arrays[field]

    def numbers(self, field: str) -> np.ndarray:
        if field not in self._numbers:
            self._numbers[field] = self.arrays[field].to_numpy(zero_copy_only=False)
        return self._numbers[field]

    def python_value(self, field: str, row: int) -> object:
        return self.arrays[field][row].as_py()


# --------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class NumberSpec:
    decimals: int
    commas: bool
    percent: bool


DEFAULT_NUMBER = None  # the plain form: see format_plain
_SPEC = re.compile(r"^(?P<comma>,)?(?:\.(?P<prec>\d))?(?P<kind>[fd%])$")


def parse_number_spec(spec: str) -> NumberSpec | None:
    """A template format spec -> NumberSpec (None: the plain default); ValueError outside the subset."""
    if spec == "":
        return DEFAULT_NUMBER
    m = _SPEC.match(spec)
    if not m or (m["kind"] == "d" and m["prec"] is not None):
        raise ValueError(f"unsupported number format {spec!r}; use one of '', ',.0f', '.1f', '.0%', 'd'")
    decimals = 0 if m["kind"] == "d" else int(m["prec"] if m["prec"] is not None else 6)
    return NumberSpec(decimals=decimals, commas=bool(m["comma"]), percent=m["kind"] == "%")


_MAX_EXACT = 2.0**62  # beyond this the integer arithmetic below would overflow


_DIGITS = 19  # int64 values below _MAX_EXACT have at most 19 digits
_SPACE, _COMMA = ord(" "), ord(",")
# Digit p (0 = leftmost of 19) is followed by a comma when 3, 6, ... digits remain to its right.
_COMMA_AFTER = [p for p in range(_DIGITS - 1) if (_DIGITS - 1 - p) % 3 == 0]
_DIGIT_COLUMNS = np.array([p + sum(1 for q in _COMMA_AFTER if q < p) for p in range(_DIGITS)])
_COMMA_COLUMNS = np.array([_DIGIT_COLUMNS[p] + 1 for p in _COMMA_AFTER])


def _compact(chars: np.ndarray, keep: np.ndarray) -> pa.Array:
    """Rows of a fixed-width byte matrix, keeping the `keep` bytes of each row, as a string array."""
    n = chars.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1, dtype=np.int32), out=offsets[1:])
    data = np.ascontiguousarray(chars[keep])
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _group_thousands(ints: np.ndarray) -> pa.Array:
    """Non-negative int64 -> '1,234,567' without a per-value loop.

    Arrow writes the numbers right-aligned in 19 characters, which is a plain
    n x 19 byte matrix; numpy spreads the digit columns apart, drops commas
    into the gaps where a digit precedes them, and the padding is squeezed out.
    """
    n = len(ints)
    padded = pc.utf8_lpad(pc.cast(pa.array(ints, pa.int64()), pa.string()), width=_DIGITS, padding=" ")
    start = np.frombuffer(padded.buffers()[1], dtype=np.int32, count=padded.offset + 1)[-1]
    digits = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=start + n * _DIGITS)[start:].reshape(n, _DIGITS)
    chars = np.full((n, _DIGITS + len(_COMMA_AFTER)), _COMMA, dtype=np.uint8)
    chars[:, _DIGIT_COLUMNS] = digits
    keep = np.empty(chars.shape, dtype=bool)
    keep[:, _DIGIT_COLUMNS] = digits != _SPACE
    keep[:, _COMMA_COLUMNS] = digits[:, _COMMA_AFTER] != _SPACE
    return _compact(chars, keep)


def format_plain(values: np.ndarray) -> pa.Array:
    """Float64 values (NaN = null) rounded to 3 decimals in their shortest form: 250000, 75.2, 0.35.

    The default for explanations and unformatted placeholders: two Arrow
    kernels per array, which matters for millions of firings.
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        small = np.abs(v) < 1e15  # np.round would lose digits of larger values
    rounded = np.where(small, np.round(v, 3), v) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = pc.cast(pa.array(rounded, pa.float64(), mask=np.isnan(v)), pa.string())
    return pc.fill_null(text, NULL_TEXT)


def format_numbers(values: np.ndarray, spec: NumberSpec | None = DEFAULT_NUMBER) -> pa.Array:
    """Float64 values (NaN = null) -> strings, vectorised; see the module docstring for specs."""
    if spec is None:
        return format_plain(values)
    v = np.asarray(values, dtype=np.float64)
    if spec.percent:
        v = v * 100.0
    scale = 10**spec.decimals
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.rint(np.where(finite, np.abs(v), 0.0) * scale)
    exact = finite & (scaled < _MAX_EXACT)
    units = np.where(exact, scaled, 0.0).astype(np.int64)
    whole, frac = units // scale, units % scale
    whole_text = _group_thousands(whole) if spec.commas else pc.cast(pa.array(whole), pa.string())
    text = whole_text
    if spec.decimals:
        frac_text = pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), width=spec.decimals, padding="0")
        text = pc.binary_join_element_wise(whole_text, frac_text, ".")
    negative = pa.array(exact & (v < 0) & (units > 0))
    text = pc.if_else(negative, pc.binary_join_element_wise(pa.scalar("-"), text, ""), text)
    if spec.percent:
        text = pc.binary_join_element_wise(text, pa.scalar("%"), "")
    # Rare cases the integer path cannot hold: NaN, infinities, astronomically large values.
    if not exact.all():
        fallback = pc.cast(pa.array(np.where(finite, v, 0.0)), pa.string())
        fallback = pc.if_else(pa.array(np.isposinf(v)), "inf", pc.if_else(pa.array(np.isneginf(v)), "-inf", fallback))
        fallback = pc.if_else(pa.array(np.isnan(v)), NULL_TEXT, fallback)
        text = pc.if_else(pa.array(exact), text, fallback)
    return text


def format_array(arr: pa.Array, kind: FieldType, spec: NumberSpec | None = None) -> pa.Array:
    """Any typed fact array -> non-null strings (null -> 'n/a')."""
    if kind == "number":
        return format_numbers(arr.to_numpy(zero_copy_only=False), spec)
    if kind == "boolean":
        text = pc.if_else(arr, "true", "false")
    else:  # string and date (ISO form)
        text = pc.cast(arr, pa.string())
    return pc.fill_null(text, NULL_TEXT)


@functools.lru_cache(maxsize=4096)
def format_scalar(value: object, kind: FieldType) -> str:
    """One literal (a threshold) in the same style as the facts it is compared with."""
    arr = pa.array([value], _ARROW_TYPES[kind])
    return format_array(arr, kind)[0].as_py()


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Placeholder:
    name: str
    kind: FieldType
    spec: NumberSpec | None


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def fields(self) -> set[str]:
        return {p.name for p in self.parts if isinstance(p, Placeholder) and p.name in FIELDS}


def parse_template(text: object, path: str) -> Template:
    """Check every {placeholder} names a known field with a usable format; raises ConditionError."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(path, f"must be non-empty text, got {text!r}")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConditionError(path, f"bad template placeholder: {exc} in {text!r}") from None
    parts: list[str | Placeholder] = []
    for literal, name, spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if name is None:
            continue
        if name == "":
            raise ConditionError(path, "bad template placeholder '{}': name a field, e.g. {churn_risk}")
        if conversion:
            raise ConditionError(path, f"bad template placeholder {{{name}!{conversion}}}: conversions are not supported")
        kind = TEMPLATE_EXTRAS.get(name) or (FIELDS[name].type if name in FIELDS else None)
        if kind is None:
            raise ConditionError(path, f"bad template placeholder {{{name}}}: unknown field {name!r}")
        if kind == "number":
            try:
                number_spec: NumberSpec | None = parse_number_spec(spec or "")
            except ValueError as exc:
                raise ConditionError(path, f"bad template placeholder {{{name}:{spec}}}: {exc}") from None
        elif spec:
            raise ConditionError(path, f"bad template placeholder {{{name}:{spec}}}: format specs apply to number fields only")
        else:
            number_spec = None
        parts.append(Placeholder(name, kind, number_spec))
    return Template(text, tuple(parts))


def render_template(template: Template, columns: Columns, rows: np.ndarray, extras: Mapping[str, str]) -> pa.Array:
    """The template filled in for the given rows (positions in `columns`)."""
    n = len(rows)
    pieces: list[pa.Array | pa.Scalar] = []
    take = pa.array(rows, pa.int64())
    for part in template.parts:
        if isinstance(part, str):
            pieces.append(pa.scalar(part))
        elif part.name in FIELDS:
            pieces.append(format_array(columns.array(part.name).take(take), part.kind, part.spec))
        else:
            pieces.append(pa.scalar(extras[part.name]))
    if not any(isinstance(p, pa.Array) for p in pieces):
        return pa.repeat(pa.scalar("".join(p.as_py() for p in pieces)), n)  # type: ignore[union-attr]
    return pc.binary_join_element_wise(*pieces, "")
