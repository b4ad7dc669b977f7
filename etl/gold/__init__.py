"""Gold layer: per-account metrics, health and churn scores with their facts, timeline and metric history.

Pure functions of silver frames; the pipeline does the reading and writing.
See docs/metrics.md for every formula and config/silver_to_gold_metrics.json
for every parameter.
"""

from etl.gold.build import METRICS_TABLE, TIMELINE_TABLE, compute_gold
from etl.gold.dates import month_ends_before
from etl.gold.history import HISTORY_TABLE, compute_metric_history
from etl.gold.params import MetricsConfig, load_metrics_config
from etl.gold.schemas import GOLD_SCHEMAS, to_arrow

__all__ = [
    "GOLD_SCHEMAS",
    "HISTORY_TABLE",
    "METRICS_TABLE",
    "TIMELINE_TABLE",
    "MetricsConfig",
    "compute_gold",
    "compute_metric_history",
    "load_metrics_config",
    "month_ends_before",
    "to_arrow",
]
