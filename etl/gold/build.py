"""silver -> gold: the per-account metrics table and the timeline, as of one date.

Pure: frames in, frames out.  Gold is a function of each account's own
records, so the book can be split into account partitions, computed
separately and concatenated (sorted by account_id) with identical results.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from etl.gold.book import prepare_book
from etl.gold.metrics import evaluate
from etl.gold.params import MetricsConfig
from etl.gold.schemas import IDENTITY, METRICS_SCHEMA
from etl.gold.timeline import TIMELINE_TABLE, build_timeline

METRICS_TABLE = "gold_customer_360_metrics"


def compute_gold(
    silver: Mapping[str, pd.DataFrame], params: MetricsConfig, as_of: date, *, run_id: str
) -> dict[str, pd.DataFrame]:
    """Metrics (one row per silver account, sorted by account_id) and timeline (events up to as_of)."""
    book = prepare_book(silver, params)
    values = evaluate(book, as_of, params)
    identity = book.accounts[[f.name for f in IDENTITY]].astype("str")
    stamp = pd.DataFrame(
        {
            "as_of": np.full(book.n, np.datetime64(as_of, "D")).astype("datetime64[s]"),
            "run_id": pd.Series([run_id] * book.n, dtype="str"),
        }
    )
    metrics = pd.concat([identity.reset_index(drop=True), stamp, values], axis=1)[METRICS_SCHEMA.names]
    return {METRICS_TABLE: metrics, TIMELINE_TABLE: build_timeline(book, as_of, params)}
