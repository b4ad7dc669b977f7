"""Array helpers numpy gets slow: distinct integers.

numpy 2's ``np.unique`` without ``return_*`` flags hashes the values, then
sorts the result; on integer keys that costs far more than sorting them
(measured here: 5M distinct int64 4.9 s against 0.04 s; 3,000 int32 137 us
against 7 us).  `distinct` is ``np.unique`` by a sort, for integer arrays
(NaN would not be collapsed the way np.unique does).
"""

from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (``np.unique(values)``)."""
    values = np.sort(values)
    first = np.ones(len(values), dtype=bool)
    first[1:] = values[1:] != values[:-1]
    return values[first]


__all__ = ["distinct"]
