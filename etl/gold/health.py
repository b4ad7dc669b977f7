"""Customer health (0-100, higher is better) from payment, support, usage and engagement.

Each component reads facts from etl.gold.facts and is NaN when the account
has no data for it (docs/metrics.md defines "no data" per component).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.gold.params import MetricsConfig
from etl.gold.scoring import band, clamp, weighted_score


def health_components(facts: pd.DataFrame, params: MetricsConfig) -> dict[str, np.ndarray]:
    h, top = params.health, params.scale.max
    f = {name: facts[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in facts.columns}

    # payment: share of judged invoices paid by their due date, minus a penalty per long-overdue invoice
    judged, overdue = f["invoices_due_12m"], f["invoices_overdue_15d"]
    share = np.divide(f["invoices_paid_on_time_12m"], judged, out=np.ones(len(judged)), where=judged > 0)
    payment = top * share - h.payment.penalty_per_overdue_invoice * overdue
    payment = np.where((judged > 0) | (overdue > 0), payment, np.nan)

    # support: penalties for recent cases, more for severe and escalated ones; no case ever means no data
    s = h.support
    support = (
        top
        - s.penalty_per_case * f["cases_90d"]
        - s.penalty_per_high_priority_case * f["high_critical_cases_90d"]
        - s.penalty_per_escalated_case * f["escalated_cases_90d"]
    )
    support = np.where(f["cases_total"] > 0, support, np.nan)

    # usage: growth of the last months against the months before, around a neutral base
    usage = h.usage.base + h.usage.points_per_unit_growth * f["usage_growth"]

    # engagement: QBR cadence, recency of contact, and a renewal won on time
    e = h.engagement
    days = f["days_since_contact"]
    recency = np.clip((e.recency_zero_days - days) / (e.recency_zero_days - e.recency_full_days), 0.0, 1.0)
    on_time = f["last_renewal_on_time"]
    engagement = (
        e.qbr_points * np.minimum(1.0, f["qbrs_12m"] / e.qbr_target)
        + e.recency_points * np.nan_to_num(recency, nan=0.0)
        + e.renewal_points * np.nan_to_num(on_time, nan=0.0)
    )
    engagement = np.where(~np.isnan(days) | ~np.isnan(on_time), engagement, np.nan)

    return {
        "health_payment": clamp(payment, params.scale),
        "health_support": clamp(support, params.scale),
        "health_usage": clamp(usage, params.scale),
        "health_engagement": clamp(engagement, params.scale),
    }


def health_score(components: dict[str, np.ndarray], params: MetricsConfig) -> tuple[np.ndarray, pd.Series]:
    """The score and its category ("Healthy" / "At-Risk" / "Critical" by default)."""
    w = params.health.weights
    weights = {
        "health_payment": w.payment,
        "health_support": w.support,
        "health_usage": w.usage,
        "health_engagement": w.engagement,
    }
    score = weighted_score(components, weights, params.scale)
    return score, band(score, params.health.categories)
