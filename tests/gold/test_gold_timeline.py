"""The timeline: event kinds, titles, statuses, as-of cut-off and the exact sort order."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from etl.gold import compute_gold
from etl.gold.params import MetricsConfig
from tests.gold.gold_builders import AS_OF, accounts, make_silver


def _silver() -> dict[str, pd.DataFrame]:
    def inv(iid: str, issue: str, due: str, paid: str | None, amount: float, status: str | None = None) -> dict:
        return {"invoice_id": iid, "account_id": "T1", "invoice_number": "INV-" + iid[1:], "issue_date": issue,
                "due_date": due, "paid_date": paid, "amount_usd": amount, "status": status or ("PAID" if paid else "ISSUED")}

    def use(service: str, unit: str, month: str, qty: float) -> dict:
        return {"account_id": "T1", "service_code": service, "usage_month": f"{month}-01", "quantity": qty, "unit": unit}

    return make_silver(
        accounts=accounts("T1", "T0"),
        opportunities=[
            {"opportunity_id": "R1", "account_id": "T1", "opportunity_name": "Renewal 2024", "opportunity_type": "RENEWAL",
             "status": "WON", "close_date": "2024-03-01", "created_at": "2024-01-05T10:00", "amount_usd": 1200.0},
            {"opportunity_id": "N1", "account_id": "T1", "opportunity_name": "Fiber upsell", "opportunity_type": "UPSELL",
             "status": "OPEN", "close_date": "2024-09-30", "created_at": "2024-06-10T09:00", "amount_usd": 5000.0},
            {"opportunity_id": "N2", "account_id": "T1", "opportunity_name": "Future", "opportunity_type": "NEW_BUSINESS",
             "status": "OPEN", "close_date": "2024-12-31", "created_at": "2024-07-02T09:00", "amount_usd": 1.0},
        ],
        contracts=[
            {"contract_id": "K1", "account_id": "T1", "contract_number": "00000001", "status": "EXPIRED", "start_date": "2023-03-01", "end_date": "2024-02-29"},
            {"contract_id": "K2", "account_id": "T1", "contract_number": "00000002", "status": "DRAFT", "start_date": "2024-03-01", "end_date": "2025-02-28"},
            {"contract_id": "K3", "account_id": "T1", "contract_number": "00000003", "status": "ACTIVATED", "start_date": "2024-03-01", "end_date": "2025-02-28"},
        ],
        cases=[
            {"case_id": "C1", "account_id": "T1", "case_number": "00001", "subject": "Outage", "priority": "HIGH",
             "is_escalated": True, "is_closed": True, "created_at": "2024-06-01T10:00", "closed_at": "2024-06-05T10:00"},
            {"case_id": "C2", "account_id": "T1", "case_number": "00002", "priority": "LOW",
             "is_escalated": False, "is_closed": True, "created_at": "2024-06-20T10:00", "closed_at": "2024-07-03T10:00"},
        ],
        invoices=[
            inv("I1", "2024-01-01", "2024-01-31", "2024-02-10", 100.0),
            inv("I10", "2024-01-01", "2024-01-31", "2024-01-31", 300.0),
            inv("I2", "2024-05-01", "2024-05-31", None, 400.0),
            inv("I3", "2024-02-01", "2024-03-02", "2024-03-01", 200.0),
            inv("I4", "2024-02-01", "2024-03-02", None, 999.0, status="VOID"),
        ],
        usage=[
            use("FIB", "GB", "2024-03", 100.0), use("FIB", "GB", "2024-04", 100.0), use("FIB", "GB", "2024-05", 60.0),
            use("FIB", "GB", "2024-06", 70.0), use("FIB", "GB", "2024-07", 10.0),
            use("VOICE", "min", "2024-04", 100.0), use("VOICE", "min", "2024-06", 200.0),
        ],
        activities=[
            {"activity_id": "A1", "account_id": "T1", "activity_type": "Meeting", "subject": "Q2 review", "status": "Completed", "activity_date": "2024-06-10", "is_qbr": True},
            {"activity_id": "A2", "account_id": "T1", "activity_type": "Call", "activity_date": "2024-06-20", "is_qbr": False},
            {"activity_id": "A4", "account_id": "T1", "activity_type": "Email", "subject": "email: renewal quote", "activity_date": "2024-06-21", "is_qbr": False},
            {"activity_id": "A5", "account_id": "T1", "activity_type": "Email", "subject": "Pricing", "activity_date": "2024-06-21", "is_qbr": False},
            {"activity_id": "A3", "account_id": "T1", "activity_type": "Call", "activity_date": "2024-07-01", "is_qbr": False},
            {"activity_id": "T0-A1", "account_id": "T0", "activity_type": "Call", "activity_date": "2024-01-01", "is_qbr": False},
        ],
    )


EXPECTED = [  # account_id, event_date, event_type, event_id, title, status, amount_usd; sorted by the first, second and fourth
    ("T0", "2024-01-01", "ENGAGEMENT", "activities:T0-A1:activity", "Call", None, None),
    ("T1", "2023-03-01", "RENEWAL", "contracts:K1:start", "Contract 00000001 started", "STARTED", None),
    ("T1", "2024-01-01", "BILLING", "invoices:I10:issued", "Invoice INV-10 issued", "ISSUED", 300.0),
    ("T1", "2024-01-01", "BILLING", "invoices:I1:issued", "Invoice INV-1 issued", "ISSUED", 100.0),  # "I10:" < "I1:" as text
    ("T1", "2024-01-05", "RENEWAL", "opportunities:R1:opened", 'Renewal opportunity "Renewal 2024" opened', "OPEN", 1200.0),
    ("T1", "2024-01-31", "BILLING", "invoices:I10:paid", "Invoice INV-10 paid on time", "PAID", 300.0),
    ("T1", "2024-02-01", "BILLING", "invoices:I3:issued", "Invoice INV-3 issued", "ISSUED", 200.0),
    ("T1", "2024-02-10", "BILLING", "invoices:I1:paid", "Invoice INV-1 paid 10 days late", "PAID_LATE", 100.0),
    ("T1", "2024-02-29", "RENEWAL", "contracts:K1:end", "Contract 00000001 ended", "ENDED", None),
    ("T1", "2024-03-01", "RENEWAL", "contracts:K3:start", "Contract 00000003 started", "STARTED", None),  # same day: by event id
    ("T1", "2024-03-01", "BILLING", "invoices:I3:paid", "Invoice INV-3 paid on time", "PAID", 200.0),
    ("T1", "2024-03-01", "RENEWAL", "opportunities:R1:won", 'Renewal opportunity "Renewal 2024" won', "WON", 1200.0),
    ("T1", "2024-05-01", "BILLING", "invoices:I2:issued", "Invoice INV-2 issued", "ISSUED", 400.0),
    ("T1", "2024-05-31", "USAGE", "usage:T1|FIB|GB|2024-05:change", "FIB usage down 40% on the previous month (100 -> 60 GB)", "DROP", None),
    ("T1", "2024-06-01", "SUPPORT", "cases:C1:opened", "Case 00001 opened (HIGH), escalated: Outage", "ESCALATED", None),
    ("T1", "2024-06-01", "BILLING", "invoices:I2:overdue", "Invoice INV-2 overdue: unpaid 30 days after its due date", "OVERDUE", 400.0),
    ("T1", "2024-06-05", "SUPPORT", "cases:C1:closed", "Case 00001 closed after 4 days", "CLOSED", None),
    ("T1", "2024-06-10", "ENGAGEMENT", "activities:A1:activity", "QBR: Q2 review", "Completed", None),
    ("T1", "2024-06-10", "SALES", "opportunities:N1:opened", 'Upsell opportunity "Fiber upsell" opened', "OPEN", 5000.0),
    ("T1", "2024-06-20", "ENGAGEMENT", "activities:A2:activity", "Call", None, None),
    ("T1", "2024-06-20", "SUPPORT", "cases:C2:opened", "Case 00002 opened (LOW)", "OPEN", None),
    ("T1", "2024-06-21", "ENGAGEMENT", "activities:A4:activity", "email: renewal quote", None, None),  # not "Email: email: ..."
    ("T1", "2024-06-21", "ENGAGEMENT", "activities:A5:activity", "Email: Pricing", None, None),
]


@pytest.fixture(scope="module")
def timeline(params: MetricsConfig) -> pd.DataFrame:
    return compute_gold(_silver(), params, AS_OF, run_id="t")["gold_customer_timeline"]


def test_events_titles_statuses_and_order(timeline: pd.DataFrame) -> None:
    got = [
        (r.account_id, r.event_date.date().isoformat(), r.event_type, r.event_id, r.title,
         None if pd.isna(r.status) else r.status, None if pd.isna(r.amount_usd) else r.amount_usd)
        for r in timeline.itertuples()
    ]
    assert got == EXPECTED


def test_source_columns_point_back_to_the_record(timeline: pd.DataFrame) -> None:
    row = timeline.set_index("event_id").loc["invoices:I1:paid"]
    assert (row.source_table, row.source_id) == ("invoices", "I1")
    row = timeline.set_index("event_id").loc["usage:T1|FIB|GB|2024-05:change"]
    assert (row.source_table, row.source_id) == ("usage", "T1|FIB|GB|2024-05")
    assert timeline.event_id.is_unique


def test_column_types(timeline: pd.DataFrame) -> None:
    assert list(timeline.columns) == [
        "account_id", "event_id", "event_date", "event_type", "title", "status", "amount_usd", "source_table", "source_id",
    ]
    assert timeline.event_date.dtype == np.dtype("datetime64[s]")
    assert timeline.amount_usd.dtype == np.float64
    assert set(timeline.event_type) <= {"RENEWAL", "SUPPORT", "BILLING", "USAGE", "SALES", "ENGAGEMENT"}


def test_events_stop_at_as_of_and_show_the_state_then(params: MetricsConfig) -> None:
    early = compute_gold(_silver(), params, date(2024, 2, 5), run_id="t")["gold_customer_timeline"]
    t1 = early[early.account_id == "T1"]
    assert list(t1.event_id) == [
        "contracts:K1:start", "invoices:I10:issued", "invoices:I1:issued", "opportunities:R1:opened",
        "invoices:I10:paid", "invoices:I1:overdue", "invoices:I3:issued",
    ]
    # INV-1 is paid on 2024-02-10: on 2024-02-05 it was overdue, and no "paid" event exists yet.
    overdue = t1.set_index("event_id").loc["invoices:I1:overdue"]
    assert overdue.event_date == pd.Timestamp("2024-02-01")
    assert overdue.title == "Invoice INV-1 overdue: unpaid 5 days after its due date"


def test_empty_silver_gives_an_empty_timeline(params: MetricsConfig) -> None:
    out = compute_gold(make_silver(accounts=accounts("X")), params, AS_OF, run_id="t")["gold_customer_timeline"]
    assert len(out) == 0
    assert list(out.columns) == ["account_id", "event_id", "event_date", "event_type", "title", "status", "amount_usd", "source_table", "source_id"]
