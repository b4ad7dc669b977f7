"""The metrics configuration (config/silver_to_gold_metrics.json) as a validated model.

Every window, weight, penalty, clamp and cut-off used by gold lives in that
file, so an analyst can retune the scores without touching code.  No field
has a default: the file is the single place a value comes from, and a
missing or mistyped key stops the run before anything is written.
docs/metrics.md explains each value.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from etl.settings import load_config

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Windows(_Model):
    """Look-back windows shared by facts, scores and revenue."""

    payment_months: PositiveInt
    support_days: PositiveInt
    usage_months: PositiveInt  # length of each of the two compared periods, in full calendar months
    qbr_months: PositiveInt
    annual_revenue_months: PositiveInt
    win_rate_months: PositiveInt


class Facts(_Model):
    """Thresholds that turn records into facts."""

    overdue_grace_days: NonNegativeInt
    high_priorities: tuple[str, ...]


class Scale(_Model):
    """Where every component and score is clamped, and how finely it is stored."""

    min: float
    max: float
    decimals: Annotated[int, Field(ge=0, le=6)]

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class Band(_Model):
    name: Annotated[str, Field(min_length=1)]
    min: float


def _check_bands(bands: tuple[Band, ...]) -> None:
    mins = [b.min for b in bands]
    if not bands:
        raise ValueError("at least one band is required")
    if any(a <= b for a, b in zip(mins, mins[1:])):
        raise ValueError(f"bands must be listed from the highest min to the lowest, strictly decreasing: {mins}")
    if len({b.name for b in bands}) != len(bands):
        raise ValueError("band names must be unique")


def _check_weights(weights: BaseModel) -> None:
    total = sum(weights.model_dump().values())
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise ValueError(f"weights must sum to 1, they sum to {total}")


class HealthWeights(_Model):
    payment: NonNegative
    support: NonNegative
    usage: NonNegative
    engagement: NonNegative


class HealthPayment(_Model):
    penalty_per_overdue_invoice: NonNegative


class HealthSupport(_Model):
    penalty_per_case: NonNegative
    penalty_per_high_priority_case: NonNegative
    penalty_per_escalated_case: NonNegative


class HealthUsage(_Model):
    base: float
    points_per_unit_growth: NonNegative


class HealthEngagement(_Model):
    qbr_points: NonNegative
    qbr_target: PositiveInt
    recency_points: NonNegative
    recency_full_days: NonNegativeInt
    recency_zero_days: PositiveInt
    renewal_points: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> HealthEngagement:
        if not self.recency_full_days < self.recency_zero_days:
            raise ValueError("recency_full_days must be below recency_zero_days")
        return self


class Health(_Model):
    weights: HealthWeights
    payment: HealthPayment
    support: HealthSupport
    usage: HealthUsage
    engagement: HealthEngagement
    categories: tuple[Band, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Health:
        _check_weights(self.weights)
        _check_bands(self.categories)
        return self


class ChurnWeights(_Model):
    usage_decline: NonNegative
    payment: NonNegative
    support: NonNegative
    engagement: NonNegative


class Churn(_Model):
    weights: ChurnWeights
    usage_full_scale_drop: Positive  # a drop this large (fraction) scores the maximum
    payment_full_scale_days_overdue: Positive
    support_points_per_escalated_case: NonNegative
    engagement_full_scale_days: Positive
    levels: tuple[Band, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Churn:
        _check_weights(self.weights)
        _check_bands(self.levels)
        return self


class Revenue(_Model):
    default_term_months: PositiveInt  # when neither the line nor its opportunity has a term


class Clv(_Model):
    gross_margin: Annotated[float, Field(ge=0, le=1)]
    lifetime_min_years: Positive
    lifetime_max_years: Positive

    @model_validator(mode="after")
    def _ordered(self) -> Clv:
        if not self.lifetime_min_years <= self.lifetime_max_years:
            raise ValueError("lifetime_min_years must not exceed lifetime_max_years")
        return self


class Timeline(_Model):
    usage_change_threshold: Positive  # month-over-month change (fraction) worth an event


class MetricsConfig(_Model):
    """Everything gold needs to turn silver into metrics, scores and events."""

    windows: Windows
    facts: Facts
    scale: Scale
    health: Health
    churn: Churn
    revenue: Revenue
    clv: Clv
    timeline: Timeline

    @model_validator(mode="after")
    def _bands_cover_scale(self) -> MetricsConfig:
        for key, bands in (("health.categories", self.health.categories), ("churn.levels", self.churn.levels)):
            if bands[-1].min > self.scale.min:
                raise ValueError(f"{key}: the last band must start at or below scale.min ({self.scale.min}) so every score gets one")
        return self


def load_metrics_config(path: Path) -> MetricsConfig:
    """Read the metrics config; a bad file raises ConfigError naming file, key and problem."""
    return load_config(Path(path), MetricsConfig)
