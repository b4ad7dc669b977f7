"""build_rule_facts on a hand-made book of three accounts, with every expected value worked out by hand.

As of 2026-10-31 (a month end): the end of the as-of day is 2026-11-01 00:00 UTC,
the last full usage month is October, the trailing months April-September.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl.contracts import SILVER_TABLES
from etl.errors import DataError
from rules.facts import build_rule_facts, rule_facts_table
from rules.fields import RULE_FIELDS
from rules.model import Parameters
from rules.schemas import to_arrow
from tests.rules.factories import metrics_frame

AS_OF = date(2026, 10, 31)


def silver(name: str, rows: list[dict]) -> pd.DataFrame:
    schema = SILVER_TABLES[name]
    full = [{f: r.get(f) for f in schema.names} for r in rows]
    return pa.Table.from_pylist(full, schema=schema).to_pandas()


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def d(text: str) -> date:
    return date.fromisoformat(text)


def usage_rows(account: str, service: str, unit: str, quantities: dict[str, float]) -> list[dict]:
    return [{"account_id": account, "service_code": service, "unit": unit, "usage_month": d(m + "-01"), "quantity": q} for m, q in quantities.items()]


MONTHS = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]


@pytest.fixture(scope="module")
def book() -> dict[str, pd.DataFrame]:
    case = lambda i, acct, prio, created, **kw: {  # noqa: E731
        "case_id": f"c{i}", "account_id": acct, "case_number": f"0000{i}", "priority": prio,
        "created_at": ts(created), "is_closed": False, "is_escalated": False, **kw,
    }
    inv = lambda i, acct, due, **kw: {  # noqa: E731
        "invoice_id": f"i{i}", "account_id": acct, "invoice_number": f"INV-{i}", "issue_date": d("2026-01-01"),
        "due_date": d(due), "amount_usd": 100.0, "status": "ISSUED", **kw,
    }
    line = lambda i, acct, opp, code, total: {  # noqa: E731
        "line_item_id": f"l{i}", "opportunity_id": opp, "account_id": acct, "product_id": f"p-{code}", "product_code": code,
        "total_price_usd": total, "service_start_date": d("2026-01-01"), "service_end_date": d("2027-01-01"), "term_months": 12,
    }
    opp = lambda oid, acct, status, close: {"opportunity_id": oid, "account_id": acct, "status": status, "close_date": d(close), "term_months": 12}  # noqa: E731
    return {
        "cases": silver(
            "cases",
            [
                case(1, "A", "CRITICAL", "2026-10-31T19:00:00"),  # 5 h old at the end of the day: 1 h past a 4 h SLA
                case(2, "A", "CRITICAL", "2026-10-31T20:00:00"),  # exactly 4 h: not past it
                case(3, "A", "HIGH", "2026-10-20T00:00:00", is_closed=True, closed_at=ts("2026-10-20T12:00:00")),
                case(4, "A", "MEDIUM", "2026-10-01T00:00:00", is_closed=True, closed_at=ts("2026-10-10T00:00:00"), is_escalated=True),
                case(5, "B", "LOW", "2026-10-20T00:00:00", is_closed=True, closed_at=ts("2026-11-05T00:00:00")),  # closed later: open then
                case(6, "B", "HIGH", "2026-11-02T00:00:00"),  # opened after as_of
                case(7, "C", "UNKNOWN", "2025-01-01T00:00:00"),  # no SLA for this priority
                case(8, "C", "HIGH", "2026-01-01T00:00:00", is_closed=True),  # closed, no time: closed when opened
                case(9, "X", "CRITICAL", "2026-01-01T00:00:00"),  # not an account in gold
            ],
        ),
        "invoices": silver(
            "invoices",
            [
                inv(1, "A", "2026-10-01"),  # 30 days overdue
                inv(2, "A", "2026-09-01", status="PAID", paid_date=d("2026-10-15")),
                inv(3, "A", "2026-08-01", status="VOID"),
                inv(4, "A", "2026-10-31"),  # due today: not overdue yet
                inv(5, "A", "2026-09-15", status="PAID", paid_date=d("2026-11-03"), amount_usd=50.0),  # paid later: 46 days overdue then
                inv(6, "B", "2026-01-01", status="PAID"),  # paid, date unknown
                inv(7, "B", "2026-10-01", issue_date=d("2026-11-02")),  # issued after as_of
            ],
        ),
        "usage": silver(
            "usage",
            usage_rows("A", "S1", "GB", {**{m: 100.0 for m in MONTHS}, "2026-10": 40.0})
            + usage_rows("A", "S2", "lines", {**dict(zip(MONTHS, [10.0, 12.0, 10.0, 12.0, 10.0, 12.0])), "2026-10": 20.0})
            + usage_rows("B", "S1", "GB", {"2026-06": 50.0, "2026-07": 50.0, "2026-08": 50.0, "2026-09": 50.0})
            + usage_rows("A", "S1", "GB", {"2026-03": 5000.0}),  # before the window: ignored
        ),
        "opportunities": silver(
            "opportunities",
            [
                opp("O1", "A", "WON", "2026-01-01"),
                opp("O2", "B", "WON", "2026-01-01"),
                opp("O3", "C", "WON", "2026-01-01"),
                opp("O4", "A", "LOST", "2026-01-01"),
                opp("O5", "C", "WON", "2026-11-15"),  # won after as_of
            ],
        ),
        "opportunity_line_items": silver(
            "opportunity_line_items",
            [
                line(1, "A", "O1", "DIA", 12000.0),
                line(2, "B", "O2", "DIA", 24000.0),
                line(3, "B", "O2", "SDWAN", 6000.0),
                line(4, "B", "O2", "MOB", 1200.0),
                line(5, "C", "O3", "SDWAN", 12000.0),
                line(6, "A", "O4", "SDWAN", 99999.0),
                line(7, "C", "O5", "MOB", 99999.0),
            ],
        ),
        "products": silver(
            "products",
            [{"product_code": "DIA", "product_name": "Dedicated Internet Access"}, {"product_code": "SDWAN", "product_name": "Managed SD-WAN"}],
        ),
    }


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    return metrics_frame(
        [
            {"account_id": "A", "industry": "Retail", "region": "EMEA", "active_services": 1, "last_qbr_date": "2026-04-30", "churn_risk": 12},
            {"account_id": "B", "industry": "Retail", "region": "EMEA", "active_services": 3, "last_qbr_date": None},
            {"account_id": "C", "industry": "Finance", "region": "AMER", "active_services": 2, "last_qbr_date": "2026-10-01"},
        ]
    )


@pytest.fixture(scope="module")
def facts(book, metrics) -> pd.DataFrame:
    return build_rule_facts(book, metrics, AS_OF, Parameters()).set_index("account_id")


def col(facts: pd.DataFrame, name: str) -> list:
    return [None if (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT else v for v in facts[name].tolist()]


def test_metrics_are_kept_and_facts_added(facts, metrics):
    assert list(facts.index) == ["A", "B", "C"]
    assert col(facts, "churn_risk") == [12.0, None, None]
    assert set(RULE_FIELDS) <= set(facts.columns)


def test_sla_facts(facts):
    assert col(facts, "open_sla_breaches") == [1, 1, 0]
    assert col(facts, "open_sla_breaches_critical") == [1, 0, 0]
    assert col(facts, "open_sla_breaches_low") == [0, 1, 0]
    assert col(facts, "open_sla_breaches_high") == [0, 0, 0] and col(facts, "open_sla_breaches_medium") == [0, 0, 0]
    assert col(facts, "worst_sla_breach_case") == ["00001", "00005", None]
    assert col(facts, "worst_sla_overrun_hours") == [1.0, 12 * 24 - 120, None]
    # A: case 1 missed its deadline today (case 4 on Oct 4, 27 days ago); B: case 5 on Oct 25.
    assert col(facts, "days_since_last_sla_breach") == [0, 6, None]
    assert col(facts, "days_since_last_escalation") == [30, None, None]


def test_sla_hours_come_from_the_parameters(book, metrics):
    strict = Parameters(sla_hours={"CRITICAL": 3, "HIGH": 24, "MEDIUM": 72, "LOW": 120})
    facts = build_rule_facts(book, metrics, AS_OF, strict).set_index("account_id")
    assert col(facts, "open_sla_breaches_critical") == [2, 0, 0]  # case 2 is 4 h old: past a 3 h SLA
    assert col(facts, "worst_sla_overrun_hours") == [2.0, 168.0, None]


def test_payment_facts(facts):
    assert col(facts, "overdue_invoices") == [2, 0, 0]
    assert col(facts, "overdue_amount_usd") == [150.0, 0.0, 0.0]
    assert col(facts, "oldest_overdue_invoice") == ["INV-5", None, None]


def test_usage_anomaly_facts(facts):
    drop = col(facts, "usage_drop_vs_trailing_avg")
    assert drop[0] == pytest.approx(0.6) and drop[1] == pytest.approx(1.0) and drop[2] is None
    assert col(facts, "usage_drop_service") == ["S1", "S1", None]
    z = col(facts, "usage_max_abs_zscore")
    assert z[0] == pytest.approx(9.0)  # S2: mean 11, std 1, October 20
    assert z[1] == pytest.approx((200 / 6) / np.std([0, 0, 50, 50, 50, 50]))
    assert col(facts, "usage_zscore_service") == ["S2", "S1", None]
    assert facts["usage_month"].iloc[0] == pd.Timestamp("2026-10-01")


def test_usage_facts_are_null_while_the_month_is_not_delivered(book, metrics):
    partial = dict(book, usage=book["usage"][pd.to_datetime(book["usage"]["usage_month"]) < "2026-10-01"])
    facts = build_rule_facts(partial, metrics, AS_OF)
    assert facts["usage_drop_vs_trailing_avg"].isna().all() and facts["usage_max_abs_zscore"].isna().all()


def test_mid_month_as_of_tests_the_previous_month(book, metrics):
    facts = build_rule_facts(book, metrics, date(2026, 10, 15)).set_index("account_id")
    assert facts["usage_month"].iloc[0] == pd.Timestamp("2026-09-01")
    assert col(facts, "usage_drop_vs_trailing_avg")[1] == pytest.approx(1 - 50 / 25)  # B: Mar-Aug mean 150/6, Sep 50


def test_segment_facts(facts):
    assert col(facts, "segment") == ["Retail / EMEA", "Retail / EMEA", "Finance / AMER"]
    assert col(facts, "segment_accounts") == [2, 2, 1]
    assert col(facts, "segment_median_active_services") == [2.0, 2.0, 2.0]


def test_cross_sell_facts(facts):
    # A lacks SDWAN and MOB, both held by half its segment: SDWAN wins on book-wide adoption (2 vs 1).
    # C's segment holds nothing it lacks: DIA wins on book-wide adoption.
    assert col(facts, "cross_sell_product") == ["SDWAN", None, "DIA"]
    assert col(facts, "cross_sell_product_name") == ["Managed SD-WAN", None, "Dedicated Internet Access"]
    assert col(facts, "cross_sell_product_median_mrr_usd") == [750.0, None, 1500.0]  # medians of (500, 1000), (1000, 2000)


def test_days_since_last_qbr(facts):
    assert col(facts, "days_since_last_qbr") == [184, None, 30]


def test_published_rule_facts_table(facts):
    table = to_arrow("gold_rule_facts", rule_facts_table(facts.reset_index(), AS_OF))
    assert table.num_rows == 3 and table.column("as_of").to_pylist() == [AS_OF] * 3
    assert table.schema.names == ["account_id", "as_of", *RULE_FIELDS]


def test_missing_inputs_are_refused(book, metrics):
    with pytest.raises(DataError, match="silver table 'cases' is missing"):
        build_rule_facts({k: v for k, v in book.items() if k != "cases"}, metrics, AS_OF)
    with pytest.raises(DataError, match=r"gold metrics lack column\(s\) \['churn_risk'\]"):
        build_rule_facts(book, metrics.drop(columns=["churn_risk"]), AS_OF)


def test_a_book_without_records_gives_zeros_and_nulls(metrics):
    empty = {name: silver(name, []) for name in ("cases", "invoices", "usage", "opportunities", "opportunity_line_items")}
    facts = build_rule_facts(empty, metrics, AS_OF).set_index("account_id")
    assert col(facts, "open_sla_breaches") == [0, 0, 0] and col(facts, "overdue_amount_usd") == [0.0, 0.0, 0.0]
    for name in ("worst_sla_breach_case", "oldest_overdue_invoice", "usage_drop_vs_trailing_avg", "cross_sell_product", "days_since_last_escalation"):
        assert col(facts, name) == [None, None, None], name


def _by_account(frame: pd.DataFrame, accounts: list[str]) -> dict[str, pd.DataFrame]:
    return {name: df[df["account_id"].isin(accounts)] if "account_id" in df.columns else df for name, df in frame.items()}


@pytest.mark.parametrize("groups", [[["A", "C"], ["B"]], [["C"], ["A"], ["B"]]])
def test_facts_by_partition_equal_the_whole_book(book, metrics, groups):
    """The pipeline computes the per-account facts partition by partition, the segment ones on the whole book."""
    from rules.facts import PartitionFacts, book_facts, partition_facts

    whole = build_rule_facts(book, metrics, AS_OF, Parameters())
    parts = [
        partition_facts(_by_account(book, g), metrics[metrics["account_id"].isin(g)], AS_OF, Parameters())
        for g in groups
    ]
    split = book_facts(metrics, PartitionFacts.concat(parts), AS_OF, Parameters(), book.get("products"))
    pd.testing.assert_frame_equal(split, whole)


def test_late_usage_feed_is_decided_for_the_whole_book(book, metrics):
    """A partition without last month's usage still gets its drops when another partition has the month."""
    from rules.facts import PartitionFacts, book_facts, partition_facts

    october = pd.to_datetime(book["usage"]["usage_month"]) >= "2026-10-01"
    partial = dict(book, usage=book["usage"][~october | (book["usage"]["account_id"] != "B")])  # B lacks October
    whole = build_rule_facts(partial, metrics, AS_OF)
    parts = [partition_facts(_by_account(partial, [a]), metrics[metrics["account_id"] == a], AS_OF) for a in ("A", "B", "C")]
    assert not parts[1].usage_delivered and any(p.usage_delivered for p in parts)
    pd.testing.assert_frame_equal(book_facts(metrics, PartitionFacts.concat(parts), AS_OF, products=book.get("products")), whole)
    # no partition has October: every usage fact is null, as for the whole book
    late = dict(book, usage=book["usage"][~october])
    parts = [partition_facts(_by_account(late, [a]), metrics[metrics["account_id"] == a], AS_OF) for a in ("A", "B", "C")]
    split = book_facts(metrics, PartitionFacts.concat(parts), AS_OF, products=book.get("products"))
    assert split["usage_drop_vs_trailing_avg"].isna().all()
    pd.testing.assert_frame_equal(split, build_rule_facts(late, metrics, AS_OF))
