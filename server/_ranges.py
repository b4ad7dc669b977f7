"""Range look-ups for the search index: prefix ranges of sorted strings, and the smallest values in a range.

`SortedStrings` finds the rows that start with a prefix by binary search
(``np.searchsorted`` on a fixed-width copy of each string's first bytes;
longer prefixes are narrowed on the full strings).  `RangeSmallest`
answers "the k smallest distinct values among ``values[lo:hi]``" for any
range without reading the whole range: a sparse table over blocks keeps,
for every run of 2**j blocks, that run's K smallest distinct values, so a
range costs two partial blocks plus two (overlapping) runs.  Both are
built with array operations only.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.arrays import distinct

_NONE = np.iinfo(np.int32).max  # padding: larger than any value


def _successor(prefix: bytes) -> bytes:
    """The smallest string greater than every string starting with `prefix` (ASCII, no 0x7f)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def fixed_width(strings: pa.StringArray, width: int) -> np.ndarray:
    """The first `width` bytes of each string as a numpy ``S{width}`` array (same order as the strings)."""
    n = len(strings)
    out = np.zeros((n, width), dtype=np.uint8)
    data = strings.buffers()[2]
    if n and data is not None and width:
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset : strings.offset + n + 1].astype(np.int64)
        buf = np.frombuffer(data, dtype=np.uint8)
        lengths = np.minimum(np.diff(offsets), width)
        col = np.arange(width)
        for start in range(0, n, 65536):  # bounded temporaries
            stop = min(n, start + 65536)
            inside = col < lengths[start:stop, None]
            block = buf[np.where(inside, offsets[start:stop, None] + col, 0)]
            block[~inside] = 0
            out[start:stop] = block
    return out.view(f"S{max(width, 1)}").ravel() if width else np.zeros(n, dtype="S1")


class _Full:
    """Sequence view of an Arrow string array, for `bisect`."""

    def __init__(self, strings: pa.StringArray):
        self.strings = strings

    def __len__(self) -> int:
        return len(self.strings)

    def __getitem__(self, i: int) -> str:
        return self.strings[i].as_py()


class SortedStrings:
    """Sorted ASCII strings: the rows starting with a prefix in O(log n)."""

    def __init__(self, strings: pa.StringArray, width: int = 24):
        self.strings = strings
        longest = int(pc.max(pc.binary_length(strings)).as_py() or 0) if len(strings) else 0
        self.width = max(1, min(width, longest))
        self.head = fixed_width(strings, self.width)

    def __len__(self) -> int:
        return len(self.head)

    @property
    def nbytes(self) -> int:
        return self.head.nbytes + self.strings.nbytes

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """Rows [lo, hi) whose string starts with `prefix`."""
        p = prefix.encode("ascii")
        if not p:
            return 0, len(self.head)
        head = p[: self.width]
        lo, hi = np.searchsorted(self.head, [head, _successor(head)]).tolist()  # one call: a call costs more than a search
        if len(p) > self.width and hi > lo:  # the heads only narrowed it down: bisect on the full strings
            full = _Full(self.strings)
            lo = bisect_left(full, prefix, lo, hi)
            hi = bisect_left(full, _successor(p).decode("ascii"), lo, hi)
        return lo, hi


def smallest_distinct(values: np.ndarray, k: int) -> np.ndarray:
    """``distinct(values)[:k]`` without sorting them all: the distinct values among the m smallest
    (np.partition), m growing until k are found (any value left out is at least the largest kept)."""
    n = len(values)
    m = min(n, 4 * k)
    while True:
        out = distinct(values if m == n else np.partition(values, m - 1)[:m])
        if len(out) >= k or m == n:
            return out[:k]
        m = min(n, 4 * m)


class RangeSmallest:
    """The k smallest distinct values (k <= `most`) of ``values[lo:hi]``, for non-negative int32 values."""

    def __init__(self, values: np.ndarray, block: int = 1024, most: int = 64):
        self.values = np.ascontiguousarray(values, dtype=np.int32)
        self.block = block
        self.most = most
        nb = len(self.values) // block
        level = np.sort(self.values[: nb * block].reshape(nb, block), axis=1) if nb else np.zeros((0, block), np.int32)
        self.table = [_distinct_head(level, most)]
        span = 1
        while 2 * span <= nb:
            prev = self.table[-1]
            count = nb - 2 * span + 1
            merged = np.concatenate([prev[:count], prev[span : span + count]], axis=1)
            merged.sort(axis=1)
            self.table.append(_distinct_head(merged, most))
            span *= 2

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + sum(t.nbytes for t in self.table)

    def smallest(self, lo: int, hi: int, k: int) -> np.ndarray:
        """Sorted distinct values, at most k."""
        lo, hi, k = int(lo), int(hi), int(k)
        if k <= 0 or hi <= lo:
            return np.zeros(0, dtype=np.int32)
        b0 = -(-lo // self.block)
        b1 = hi // self.block
        if k > self.most or b1 - b0 < 2:
            return smallest_distinct(self.values[lo:hi], k)
        j = (b1 - b0).bit_length() - 1
        parts = [
            self.values[lo : b0 * self.block],
            self.values[b1 * self.block : hi],
            self.table[j][b0],
            self.table[j][b1 - (1 << j)],
        ]
        out = smallest_distinct(np.concatenate(parts), k)
        return out[:-1] if len(out) and out[-1] == _NONE else out  # (one _NONE at most: they are distinct)


def _distinct_head(rows: np.ndarray, most: int) -> np.ndarray:
    """Per row of sorted values: the `most` smallest distinct ones, padded with _NONE."""
    rows = rows.copy()
    if rows.shape[1] > 1:
        dup = rows[:, 1:] == rows[:, :-1]
        rows[:, 1:][dup] = _NONE
        rows.sort(axis=1)
    head = rows[:, :most]
    if head.shape[1] < most:
        head = np.concatenate([head, np.full((len(head), most - head.shape[1]), _NONE, np.int32)], axis=1)
    return np.ascontiguousarray(head)
