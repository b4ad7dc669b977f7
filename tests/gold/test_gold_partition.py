"""Gold is a pure function of each account's records: chunked computation equals the whole."""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from etl.gold import compute_gold, compute_metric_history, month_ends_before
from etl.gold.params import MetricsConfig
from tests.gold.gold_builders import AS_OF, accounts, make_silver


def _book() -> dict[str, pd.DataFrame]:
    """20 accounts with a bit of everything, interleaved in row order (fixed seed: the same rows every run)."""
    rng = np.random.default_rng(7)
    ids = [f"P{i:02d}" for i in range(20)]
    start = date(2022, 1, 1)

    def day(lo: int, hi: int) -> str:
        return (start + timedelta(days=int(rng.integers(lo, hi)))).isoformat()

    pick = lambda: ids[int(rng.integers(0, 18))]  # noqa: E731  P18, P19 get no records at all
    opps, lines, invoices, cases, usage, acts, contacts, contracts = [], [], [], [], [], [], [], []
    for n in range(60):
        acct, status = pick(), ["WON", "LOST", "OPEN"][n % 3]
        opps.append({"opportunity_id": f"O{n}", "account_id": acct, "opportunity_name": f"Deal {n}",
                     "opportunity_type": ["NEW_BUSINESS", "RENEWAL", "UPSELL"][n % 3 if n % 4 else 1], "status": status,
                     "amount_usd": float(rng.integers(1, 100)) * 100.0, "close_date": day(100, 940),
                     "created_at": day(0, 100) + "T08:00", "term_months": 12})
        lines.append({"line_item_id": f"L{n}", "opportunity_id": f"O{n}", "account_id": acct, "product_code": f"P{n % 4}",
                      "total_price_usd": float(rng.integers(1, 50)) * 120.0, "term_months": [12, 24, None][n % 3],
                      "service_start_date": day(300, 900)})
    for n in range(150):
        issue = day(300, 910)
        due = (date.fromisoformat(issue) + timedelta(days=30)).isoformat()
        paid = (date.fromisoformat(issue) + timedelta(days=int(rng.integers(5, 70)))).isoformat() if n % 5 else None
        invoices.append({"invoice_id": f"I{n}", "account_id": pick(), "invoice_number": f"INV-{n}", "issue_date": issue,
                         "due_date": due, "paid_date": paid, "amount_usd": float(rng.integers(1, 30)) * 10.0,
                         "status": "VOID" if n % 17 == 0 else ("PAID" if paid else "ISSUED")})
    for n in range(60):
        created = day(600, 910)
        closed = (date.fromisoformat(created) + timedelta(days=int(rng.integers(1, 40)))).isoformat() + "T12:00" if n % 3 else None
        cases.append({"case_id": f"C{n}", "account_id": pick(), "case_number": f"{n:05d}", "priority": ["LOW", "HIGH", "CRITICAL", "MEDIUM"][n % 4],
                      "is_escalated": n % 5 == 0, "is_closed": closed is not None, "created_at": created + "T09:00", "closed_at": closed})
    for acct in ids[:16]:
        for service, unit in (("FIB", "GB"), ("VOX", "min"))[: 1 + (acct < "P08")]:
            for k in range(12):
                usage.append({"account_id": acct, "service_code": service, "unit": unit,
                              "usage_month": f"{2023 + (k + 8) // 12}-{(k + 8) % 12 + 1:02d}-01",
                              "quantity": float(rng.integers(50, 150))})
    for n in range(80):
        acts.append({"activity_id": f"A{n}", "account_id": pick(), "activity_type": ["Call", "Meeting"][n % 2],
                     "subject": f"Touch {n}", "activity_date": day(500, 915), "is_qbr": n % 4 == 0})
    for n in range(30):
        contacts.append({"contact_id": f"K{n}", "account_id": pick(), "last_activity_date": day(700, 915)})
    for n in range(25):
        s = day(0, 900)
        contracts.append({"contract_id": f"T{n}", "account_id": pick(), "contract_number": f"{n:08d}", "status": ["ACTIVATED", "EXPIRED", "DRAFT"][n % 3],
                          "start_date": s, "end_date": (date.fromisoformat(s) + timedelta(days=364)).isoformat()})
    rng.shuffle(usage)
    return make_silver(accounts=accounts(*reversed(ids)), opportunities=opps, opportunity_line_items=lines, invoices=invoices,
                       cases=cases, usage=usage, activities=acts, contacts=contacts, contracts=contracts)


def _chunk(silver: dict[str, pd.DataFrame], part: int, parts: int) -> dict[str, pd.DataFrame]:
    def mine(ids: pd.Series) -> pd.Series:
        return ids.map(lambda a: zlib.crc32(str(a).encode()) % parts == part).astype(bool)

    return {name: df[mine(df["account_id"])].reset_index(drop=True) if "account_id" in df.columns else df for name, df in silver.items()}


SORT_KEYS = {
    "gold_customer_360_metrics": ["account_id"],
    "gold_customer_timeline": ["account_id", "event_date", "event_id"],
}


@pytest.fixture(scope="module")
def silver() -> dict[str, pd.DataFrame]:
    return _book()


def test_the_book_exercises_every_table(silver: dict[str, pd.DataFrame], params: MetricsConfig) -> None:
    whole = compute_gold(silver, params, AS_OF, run_id="p")
    metrics = whole["gold_customer_360_metrics"]
    assert len(metrics) == 20 and metrics.health_score.notna().sum() >= 15 and metrics.health_score.isna().sum() >= 2
    assert set(whole["gold_customer_timeline"].event_type) == {"RENEWAL", "SUPPORT", "BILLING", "USAGE", "SALES", "ENGAGEMENT"}
    assert {len(_chunk(silver, p, 3)["accounts"]) for p in range(3)} != {0}


def test_chunks_give_the_same_gold_as_the_whole(silver: dict[str, pd.DataFrame], params: MetricsConfig) -> None:
    whole = compute_gold(silver, params, AS_OF, run_id="p")
    parts = [compute_gold(_chunk(silver, p, 3), params, AS_OF, run_id="p") for p in range(3)]
    assert all(len(p["gold_customer_360_metrics"]) for p in parts)
    for table, keys in SORT_KEYS.items():
        joined = pd.concat([p[table] for p in parts], ignore_index=True).sort_values(keys, kind="stable").reset_index(drop=True)
        assert_frame_equal(joined, whole[table])


def test_chunks_give_the_same_history_as_the_whole(silver: dict[str, pd.DataFrame], params: MetricsConfig) -> None:
    dates = month_ends_before(AS_OF, 4)
    whole = compute_metric_history(silver, params, dates, run_id="p")
    parts = [compute_metric_history(_chunk(silver, p, 3), params, dates, run_id="p") for p in range(3)]
    joined = pd.concat(parts, ignore_index=True).sort_values(["account_id", "as_of"], kind="stable").reset_index(drop=True)
    assert len(whole) == 80
    assert_frame_equal(joined, whole)
