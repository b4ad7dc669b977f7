"""Turning components into a score and a score into a band.

Shared by health and churn so both treat missing data the same way: a
component with no data is NaN and drops out, the remaining weights are
rescaled to sum to one, and with no component at all the score is null.
Components and scores are rounded to the configured decimals before they are
combined or banded, so a stored score always lands in the band its printed
value suggests (79.96 is stored as 80.0 and is Healthy) and float noise such
as 69.99999999999999 cannot drop a 70 into the band below.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from etl.gold.params import Band, Scale


def clamp(values: np.ndarray, scale: Scale) -> np.ndarray:
    """Clamp to the scale and round to its decimals; NaN (no data) stays NaN."""
    return np.round(np.clip(values, scale.min, scale.max), scale.decimals)


def weighted_score(components: Mapping[str, np.ndarray], weights: Mapping[str, float], scale: Scale) -> np.ndarray:
    """Weighted mean of the available components, weights rescaled over them; NaN when none is available."""
    n = len(next(iter(components.values())))
    numerator = np.zeros(n)
    weight_sum = np.zeros(n)
    for name, values in components.items():
        available = ~np.isnan(values)
        numerator += np.where(available, values, 0.0) * weights[name]
        weight_sum += np.where(available, weights[name], 0.0)
    score = np.divide(numerator, weight_sum, out=np.full(n, np.nan), where=weight_sum > 0)
    return clamp(score, scale)


def band(scores: np.ndarray, bands: tuple[Band, ...]) -> pd.Series:
    """Name of the first band (highest min first) whose min the score reaches; null for a null score."""
    names = np.full(len(scores), None, dtype=object)
    unassigned = ~np.isnan(scores)
    for b in bands:
        hit = unassigned & (scores >= b.min)
        names[hit] = b.name
        unassigned &= ~hit
    return pd.Series(names, dtype="str")
