"""Churn risk (0-100, higher is riskier) from usage decline, payment, support and engagement.

Components read the same facts as health (etl.gold.facts) and are NaN when
the account has no data for them (docs/metrics.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.gold.params import MetricsConfig
from etl.gold.scoring import band, clamp, weighted_score


def churn_components(facts: pd.DataFrame, params: MetricsConfig) -> dict[str, np.ndarray]:
    c, top = params.churn, params.scale.max
    f = {name: facts[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in facts.columns}
    support = c.support_points_per_escalated_case * f["escalated_cases_90d"]
    return {
        "churn_usage_decline": clamp(f["usage_drop"] / c.usage_full_scale_drop * top, params.scale),
        "churn_payment": clamp(f["max_days_overdue"] / c.payment_full_scale_days_overdue * top, params.scale),
        "churn_support": clamp(np.where(f["cases_total"] > 0, support, np.nan), params.scale),
        "churn_engagement": clamp(f["days_since_contact"] / c.engagement_full_scale_days * top, params.scale),
    }


def churn_score(components: dict[str, np.ndarray], params: MetricsConfig) -> tuple[np.ndarray, pd.Series]:
    """The risk and its level ("HIGH" / "MEDIUM" / "LOW" by default)."""
    w = params.churn.weights
    weights = {
        "churn_usage_decline": w.usage_decline,
        "churn_payment": w.payment,
        "churn_support": w.support,
        "churn_engagement": w.engagement,
    }
    risk = weighted_score(components, weights, params.scale)
    return risk, band(risk, params.churn.levels)
