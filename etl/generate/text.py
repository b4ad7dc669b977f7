"""Whole-column text rendering: Salesforce Ids, dates, datetimes, patterned
numbers and concatenation, written straight into Arrow buffers.

Fixed-width values (Ids, dates, datetimes) are composed as a byte matrix
with one row per value and handed to Arrow without a Python string ever
being created, which is what keeps a million-account book fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_CHECKSUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)


def from_matrix(mat: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """One string per row of a (n, width) uint8 matrix; rows where ``valid`` is False are null."""
    n, width = mat.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    if offsets[-1] >= 2**31:
        raise ValueError(f"string column of {offsets[-1]} bytes exceeds one Arrow array; render it in chunks")
    bitmap = None
    null_count = 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))
        null_count = int(n - valid.sum())
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(np.ascontiguousarray(mat)), bitmap, null_count
    )


def _put_digits(mat: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Write zero-padded decimals; narrow integer types make numpy's division several times faster."""
    dtype = np.uint8 if width <= 2 else np.uint16 if width <= 4 else np.uint32 if width <= 9 else np.uint64
    rest = np.asarray(values).astype(dtype)
    ten = dtype(10)
    for k in range(width):
        rest, digit = np.divmod(rest, ten)
        mat[:, col + width - 1 - k] = digit + 48


def _date_matrix(days: np.ndarray) -> np.ndarray:
    """(n, 10) "YYYY-MM-DD" bytes.  Generated days span a few thousand distinct values, so
    each distinct day is formatted once and gathered: far cheaper than calendar arithmetic per row."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return np.empty((0, 10), dtype=np.uint8)
    lo = int(days.min())
    span = np.arange(lo, int(days.max()) + 1).astype("datetime64[D]")
    table = np.frombuffer(np.datetime_as_string(span, unit="D").astype("S10").tobytes(), dtype=np.uint8)
    return table.reshape(-1, 10)[days - lo]


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Day numbers as Salesforce dates, "2024-03-15"."""
    days = np.asarray(days, dtype=np.int64)
    safe = days if valid is None else np.where(valid, days, days[valid].min() if valid.any() else 0)
    return from_matrix(_date_matrix(safe), valid)


def datetimes(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Instants as Salesforce datetimes, "2024-03-15T10:22:01.000+0000"."""
    seconds = np.asarray(seconds, dtype=np.int64)
    safe = seconds if valid is None else np.where(valid, seconds, seconds[valid].min() if valid.any() else 0)
    days, secs = np.divmod(safe, 86_400)
    secs = secs.astype(np.int32)
    mat = np.empty((len(seconds), 28), dtype=np.uint8)
    mat[:, 0:10] = _date_matrix(days)
    mat[:, 10] = ord("T")
    _put_digits(mat, 11, secs // 3600, 2)
    mat[:, 13] = mat[:, 16] = ord(":")
    _put_digits(mat, 14, secs // 60 % 60, 2)
    _put_digits(mat, 17, secs % 60, 2)
    mat[:, 19:28] = np.frombuffer(b".000+0000", dtype=np.uint8)
    return from_matrix(mat, valid)


def year_months(months: np.ndarray) -> pa.StringArray:
    """Month indices (months since 1970-01) as "YYYY-MM"."""
    months = np.asarray(months, dtype=np.int64)
    mat = np.empty((len(months), 7), dtype=np.uint8)
    _put_digits(mat, 0, months // 12 + 1970, 4)
    mat[:, 4] = ord("-")
    _put_digits(mat, 5, months % 12 + 1, 2)
    return from_matrix(mat)


def numbers(values: np.ndarray, width: int, prefix: str = "") -> pa.StringArray:
    """Zero-padded decimal numbers with an optional fixed prefix, e.g. "INV-00012345"."""
    values = np.asarray(values, dtype=np.int64)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    mat = np.empty((len(values), len(head) + width), dtype=np.uint8)
    mat[:, : len(head)] = head
    _put_digits(mat, len(head), values, width)
    return from_matrix(mat)


def salesforce_ids(prefix: str, sequence: np.ndarray, pod: str) -> pa.StringArray:
    """18-character Salesforce Ids: key prefix, pod, sequence number in base 62 and the
    case-safety checksum Salesforce appends to the 15-character Id."""
    if len(prefix) != 3 or len(pod) != 2:
        raise ValueError("Salesforce ids need a 3-character key prefix and a 2-character pod")
    sequence = np.asarray(sequence, dtype=np.int64)
    mat = np.empty((len(sequence), 18), dtype=np.uint8)
    mat[:, 0:3] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    mat[:, 3:5] = np.frombuffer(pod.encode(), dtype=np.uint8)
    mat[:, 5:9] = ord("0")
    high, low = np.divmod(sequence, 62**3)
    for half, col in ((low.astype(np.uint32), 14), (high.astype(np.uint32), 11)):
        for k in range(3):
            half, digit = np.divmod(half, np.uint32(62))
            mat[:, col - k] = _BASE62[digit]
    upper = ((mat[:, :15] >= ord("A")) & (mat[:, :15] <= ord("Z"))).astype(np.uint8)
    for chunk in range(3):
        block = upper[:, chunk * 5 : chunk * 5 + 5]
        bits = block[:, 0] | block[:, 1] << 1 | block[:, 2] << 2 | block[:, 3] << 3 | block[:, 4] << 4
        mat[:, 15 + chunk] = _CHECKSUM[bits]
    return from_matrix(mat)


def creation_rank(created: np.ndarray) -> np.ndarray:
    """Each record's position in creation order: Salesforce numbers records as they are created."""
    order = np.argsort(created, kind="stable")
    rank = np.empty(len(created), dtype=np.int64)
    rank[order] = np.arange(len(created))
    return rank


def fill_templates(templates: Sequence[str], which: np.ndarray, rng: np.random.Generator) -> pa.StringArray:
    """Render ``templates[which[i]]`` for every row, replacing "#" with a random digit and
    "%" with a random digit 2-9 (phone numbers, for instance)."""
    which = np.asarray(which, dtype=np.int64)
    encoded = [t.encode() for t in templates]
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    row_len = lengths[which]
    offsets = np.zeros(len(which) + 1, dtype=np.int64)
    np.cumsum(row_len, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for width in np.unique(lengths):
        members = np.flatnonzero(lengths == width)
        local = np.full(len(templates), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        patterns = np.frombuffer(b"".join(encoded[t] for t in members), dtype=np.uint8).reshape(len(members), width)
        rows = np.flatnonzero(row_len == width)
        mat = patterns[local[which[rows]]]
        rand = rng.integers(0, 10, size=mat.shape, dtype=np.uint8)
        mat = np.where(mat == ord("#"), 48 + rand, np.where(mat == ord("%"), 50 + rand % 8, mat)).astype(np.uint8)
        data[(offsets[rows][:, None] + np.arange(width)).ravel()] = mat.ravel()
    return pa.StringArray.from_buffers(len(which), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


def vocab(values: Sequence[str | None]) -> pa.StringArray:
    return pa.array(list(values), type=pa.string())


def pick(words: pa.Array, idx: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """words[idx] for every row; null where ``valid`` is False."""
    idx = np.asarray(idx, dtype=np.int64)
    if valid is None:
        return words.take(pa.array(idx))
    return words.take(pa.array(idx, mask=~np.asarray(valid, dtype=bool)))


def concat(*parts: pa.Array | str) -> pa.Array:
    """Row-wise concatenation; a null in any part gives null."""
    return pc.binary_join_element_wise(*parts, "")


def optional(prefix: str, part: pa.Array) -> pa.Array:
    """prefix + part where part is present, "" where it is null: for optional name pieces."""
    return pc.if_else(pc.is_null(part), "", pc.binary_join_element_wise(prefix, part, ""))


def where(mask: np.ndarray, yes: pa.Array | str | None, no: pa.Array) -> pa.Array:
    """yes where mask else no, keeping no's type (yes may be a scalar or None for null)."""
    if yes is None:
        yes = pa.scalar(None, type=no.type)
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), yes, no)
