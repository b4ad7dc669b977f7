"""to_arrow gives every gold table its exact schema, and bad frames or bad silver fail clearly."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from etl.errors import DataError
from etl.gold import GOLD_SCHEMAS, compute_gold, compute_metric_history, to_arrow
from etl.gold.params import MetricsConfig
from tests.gold.gold_builders import AS_OF, accounts, make_silver


@pytest.fixture(scope="module")
def gold(params: MetricsConfig) -> dict[str, pd.DataFrame]:
    silver = make_silver(
        accounts=accounts("S1", "S2"),
        invoices=[{"invoice_id": "I1", "account_id": "S1", "invoice_number": "INV-1", "issue_date": "2024-05-01",
                   "due_date": "2024-05-31", "amount_usd": 10.0, "status": "ISSUED"}],
        activities=[{"activity_id": "A1", "account_id": "S1", "activity_type": "QBR", "activity_date": "2024-06-01", "is_qbr": True}],
    )
    out = compute_gold(silver, params, AS_OF, run_id="s")
    out["gold_customer_metric_history"] = compute_metric_history(silver, params, [date(2024, 5, 31), AS_OF], run_id="s")
    return out


@pytest.mark.parametrize("name", sorted(GOLD_SCHEMAS))
def test_every_table_converts_to_its_schema(gold: dict[str, pd.DataFrame], name: str) -> None:
    table = to_arrow(name, gold[name])
    assert table.schema == GOLD_SCHEMAS[name]
    assert table.num_rows == len(gold[name]) > 0


@pytest.mark.parametrize("name", sorted(GOLD_SCHEMAS))
def test_empty_tables_convert_too(params: MetricsConfig, name: str) -> None:
    silver = make_silver()
    frames = compute_gold(silver, params, AS_OF, run_id="s")
    frames["gold_customer_metric_history"] = compute_metric_history(silver, params, [AS_OF], run_id="s")
    assert to_arrow(name, frames[name]).schema == GOLD_SCHEMAS[name]
    assert len(frames[name]) == 0


def test_typed_values_survive(gold: dict[str, pd.DataFrame]) -> None:
    t = to_arrow("gold_customer_360_metrics", gold["gold_customer_360_metrics"]).to_pylist()
    s1, s2 = t
    assert s1["as_of"] == AS_OF and s1["last_qbr_date"] == date(2024, 6, 1)
    assert s1["max_days_overdue"] == 30 and s1["days_since_contact"] == 29
    assert s1["last_renewal_on_time"] is None and s1["has_open_renewal_opportunity"] is False
    assert s2["max_days_overdue"] is None and s2["health_score"] is None and s2["health_category"] is None
    assert s2["parent_id"] is None  # null text stays null, never the string "nan"


def test_missing_column_is_named(gold: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataError, match="lacks column.*'title'"):
        to_arrow("gold_customer_timeline", gold["gold_customer_timeline"].drop(columns=["title"]))


def test_null_in_a_required_column_is_refused(gold: dict[str, pd.DataFrame]) -> None:
    bad = gold["gold_customer_metric_history"].copy()
    bad.loc[0, "run_id"] = None
    with pytest.raises(DataError, match="'run_id' has 1 null"):
        to_arrow("gold_customer_metric_history", bad)


def test_unknown_table(gold: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataError, match="unknown gold table"):
        to_arrow("gold_nope", gold["gold_customer_timeline"])


# --------------------------------------------------------------------------- bad silver


def test_duplicate_account_is_named(params: MetricsConfig) -> None:
    with pytest.raises(DataError, match=r"'accounts': duplicate account_id \['D1'\]"):
        compute_gold(make_silver(accounts=accounts("D1", "D1", "D2")), params, AS_OF, run_id="s")


def test_missing_column_in_silver_is_named(params: MetricsConfig) -> None:
    silver = make_silver(accounts=accounts("X"))
    silver["invoices"] = silver["invoices"].drop(columns=["due_date"])
    with pytest.raises(DataError, match=r"'invoices' lacks column\(s\) \['due_date'\]"):
        compute_gold(silver, params, AS_OF, run_id="s")


def test_missing_table_is_named(params: MetricsConfig) -> None:
    silver = make_silver(accounts=accounts("X"))
    del silver["usage"]
    with pytest.raises(DataError, match="'usage' is missing"):
        compute_gold(silver, params, AS_OF, run_id="s")


def test_unreadable_date_is_named(params: MetricsConfig) -> None:
    silver = make_silver(accounts=accounts("X"))
    silver["activities"] = pd.DataFrame(
        {"activity_id": ["A"], "account_id": ["X"], "activity_type": ["Call"], "subject": [None], "status": [None],
         "activity_date": ["last tuesday"], "is_qbr": [False]}
    )
    with pytest.raises(DataError, match="'activities': column 'activity_date' does not hold dates"):
        compute_gold(silver, params, AS_OF, run_id="s")


def test_records_of_unknown_accounts_are_ignored(params: MetricsConfig) -> None:
    silver = make_silver(
        accounts=accounts("X"),
        invoices=[{"invoice_id": "I", "account_id": "GHOST", "issue_date": "2024-01-01", "due_date": "2024-01-31", "status": "ISSUED"}],
    )
    out = compute_gold(silver, params, AS_OF, run_id="s")
    assert list(out["gold_customer_360_metrics"].account_id) == ["X"]
    assert len(out["gold_customer_timeline"]) == 0
    assert isinstance(to_arrow("gold_customer_360_metrics", out["gold_customer_360_metrics"]), pa.Table)


@pytest.mark.parametrize("name", sorted(GOLD_SCHEMAS))
def test_empty_and_full_frames_share_dtypes(params: MetricsConfig, gold: dict[str, pd.DataFrame], name: str) -> None:
    """A partition without accounts or events must concatenate with the others without changing any dtype."""
    silver = make_silver()
    empty = compute_gold(silver, params, AS_OF, run_id="s")
    empty["gold_customer_metric_history"] = compute_metric_history(silver, params, [AS_OF], run_id="s")
    assert empty[name].dtypes.to_dict() == gold[name].dtypes.to_dict()
    assert pd.concat([empty[name], gold[name]]).dtypes.to_dict() == gold[name].dtypes.to_dict()
