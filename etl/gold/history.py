"""The headline metrics at past as-of dates, so trends exist from the first run.

Each date is evaluated by the same code as today's metrics, on the same
silver, seeing records as they stood then (etl.gold.facts): later invoices,
cases, deals and activities do not exist yet, a later payment has not
happened, a later closure has not happened.  Silver is parsed once and each
date costs only array comparisons, so a dozen month-ends over a large book
stay cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from etl.gold.book import prepare_book
from etl.gold.metrics import evaluate
from etl.gold.params import MetricsConfig
from etl.gold.schemas import HISTORY_COLUMNS, empty_frame

HISTORY_TABLE = "gold_customer_metric_history"


def compute_metric_history(
    silver: Mapping[str, pd.DataFrame], params: MetricsConfig, as_of_dates: Sequence[date], *, run_id: str
) -> pd.DataFrame:
    """One row per (account_id, as_of) for each distinct date, sorted by account_id then as_of."""
    dates = sorted(set(as_of_dates))
    if not dates:
        return empty_frame(HISTORY_TABLE)
    book = prepare_book(silver, params)
    if book.n == 0:
        return empty_frame(HISTORY_TABLE)
    account_ids = book.accounts["account_id"].astype("str").reset_index(drop=True)
    kept = [c for c in HISTORY_COLUMNS if c not in ("account_id", "as_of", "run_id")]
    per_date = []
    for as_of in dates:
        values = evaluate(book, as_of, params)[kept]
        values.insert(0, "account_id", account_ids)
        values.insert(1, "as_of", np.full(book.n, np.datetime64(as_of, "D")).astype("datetime64[s]"))
        values.insert(2, "run_id", pd.Series([run_id] * book.n, dtype="str"))
        per_date.append(values)
    # Frames are in account order within a date and dates ascend: interleave by account.
    history = pd.concat(per_date, ignore_index=True)
    order = np.lexsort((np.repeat(np.arange(len(dates)), book.n), np.tile(np.arange(book.n), len(dates))))
    return history.take(order).reset_index(drop=True)
