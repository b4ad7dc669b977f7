"""build_silver end to end on tiny books: shape, types, determinism, derived columns, robustness."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

from etl.contracts import QUARANTINE_SCHEMA, SILVER_TABLES
from etl.silver import (
    MappingConfig,
    SilverResult,
    build_silver,
    quarantine_to_arrow,
    to_arrow,
)
from etl.silver.quality import REPORT_COLUMNS

from .builders import bronze, dirty_book, feed


@pytest.fixture(scope="module")
def dirty(mapping: MappingConfig) -> SilverResult:
    return build_silver(dirty_book(), mapping, run_id="run-7")


def test_all_empty_bronze_gives_every_silver_table_with_contract_columns(mapping: MappingConfig) -> None:
    result = build_silver({}, mapping, run_id="empty")
    assert list(result.tables) == list(SILVER_TABLES)
    for name, frame in result.tables.items():
        assert list(frame.columns) == SILVER_TABLES[name].names, name
        assert to_arrow(name, frame).schema == SILVER_TABLES[name]
    assert all(len(f) == 0 for n, f in result.tables.items() if n != "fx_rates")
    assert list(result.quarantine.columns) == QUARANTINE_SCHEMA.names and result.quarantine.empty
    assert quarantine_to_arrow(result.quarantine).schema == QUARANTINE_SCHEMA
    # no org rates: the configured fallback rates make up fx_rates
    assert set(result.tables["fx_rates"]["source"]) == {"config"}


def test_empty_frames_with_contract_columns_work_too(mapping: MappingConfig) -> None:
    result = build_silver({"Account": bronze("Account", []), "monthly_usage": feed("monthly_usage", [])}, mapping, run_id="e")
    assert result.tables["accounts"].empty and result.tables["usage"].empty


@pytest.mark.parametrize("name", [n for n in SILVER_TABLES])
def test_every_populated_table_converts_to_its_arrow_schema(dirty: SilverResult, name: str) -> None:
    frame = dirty.tables[name]
    assert len(frame) > 0
    table = to_arrow(name, frame)
    assert table.schema == SILVER_TABLES[name]
    assert table.num_rows == len(frame)


def test_quarantine_converts_to_its_arrow_schema(dirty: SilverResult) -> None:
    q = dirty.quarantine
    assert quarantine_to_arrow(q).schema == QUARANTINE_SCHEMA


def test_output_is_deterministic_whatever_the_input_order(mapping: MappingConfig, dirty: SilverResult) -> None:
    book = dirty_book()
    first = dirty
    rng = np.random.default_rng(3)
    # Shuffling must not change which duplicate wins: versions differ in SystemModstamp / updated_at.
    shuffled = {t: f.iloc[rng.permutation(len(f))].reset_index(drop=True) for t, f in book.items()}
    second = build_silver(shuffled, mapping, run_id="run-7")
    for name in SILVER_TABLES:
        assert_frame_equal(first.tables[name], second.tables[name], obj=name)
        key = SILVER_TABLES[name].names[0]
        assert first.tables[name][key].is_monotonic_increasing or name == "fx_rates"
    assert_frame_equal(first.quarantine, second.quarantine)
    assert_frame_equal(first.report.to_frame(), second.report.to_frame())


def test_line_items_take_account_product_term_and_rate_from_their_parents(dirty: SilverResult) -> None:
    lines = dirty.tables["opportunity_line_items"].set_index("line_item_id")
    l1 = lines.loc["L1"]  # no code/name/currency on the line: from Product2 and the opportunity
    assert (l1["account_id"], l1["product_code"], l1["product_name"], l1["currency_code"]) == ("A1", "FIB-100", "Fibre 100", "EUR")
    assert (l1["term_months"], l1["service_start_date"], l1["service_end_date"]) == (1, pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29"))
    l3 = lines.loc["L3"]  # own code and name kept; no term on the line: the opportunity's 24 months
    assert (l3["account_id"], l3["product_code"], l3["product_name"]) == ("A6", "MOB-5G", "Mobile 5G (promo)")
    assert (l3["term_months"], l3["service_end_date"]) == (24, pd.Timestamp("2026-06-01"))
    assert (l1["fx_rate_to_usd"], l1["total_price_usd"]) == (1.08, 1080.0)  # configured EUR rate


def test_opportunity_term_defaults_to_the_configured_months(mapping: MappingConfig, dirty: SilverResult) -> None:
    opps = dirty.tables["opportunities"].set_index("opportunity_id")
    assert opps["term_months"].to_dict() == {"O1": 12, "O9": 24}
    shorter = mapping.model_copy(update={"default_term_months": 6})
    opps = build_silver(dirty_book(), shorter, run_id="t").tables["opportunities"].set_index("opportunity_id")
    assert opps.loc["O1", "term_months"] == 6


def test_activities_union_events_and_tasks_and_flag_qbrs(dirty: SilverResult) -> None:
    act = dirty.tables["activities"]
    assert act[["activity_id", "activity_kind", "activity_type", "is_qbr"]].values.tolist() == [
        ["E1", "EVENT", "Meeting", True],  # "QBR" in the subject
        ["TK1", "TASK", "Call", False],
    ]
    assert pd.isna(act["status"].iloc[0]) and act["status"].iloc[1] == "Completed"  # events have no status
    assert act["activity_date"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02")]


def test_owner_name_comes_from_users(dirty: SilverResult) -> None:
    accounts = dirty.tables["accounts"].set_index("account_id")
    assert accounts.loc["A1", "owner_name"] == "Ann Owner"
    assert pd.isna(accounts.loc["A6", "owner_name"])  # owner U9 is not a known user: kept, no name


def test_report_frame_and_dict(dirty: SilverResult) -> None:
    report = dirty.report
    frame = report.to_frame()
    assert list(frame.columns) == REPORT_COLUMNS
    rows = {(r.table, r.check, r.rule, r.field): r.count for r in frame.itertuples()}
    assert rows[("opportunities", "rows_in", "", "")] == 9
    assert rows[("opportunities", "quarantined", "date_parse", "CloseDate")] == 3
    assert rows[("contacts", "field_nulled", "email_invalid", "Email")] == 1
    assert rows[("accounts", "soft_deleted_dropped", "", "")] == 1
    assert rows[("opportunities", "default_applied", "term_months", "term_months")] == 1
    doc = report.to_dict()
    assert doc["run_id"] == "run-7" and list(doc["tables"]) == list(SILVER_TABLES)
    assert doc["tables"]["opportunities"]["quarantined"]["date_parse"] == {"CloseDate": 3}
    json.dumps(doc)  # plain data, ready for the run manifest


def test_unexpected_values_and_shapes_never_crash(mapping: MappingConfig) -> None:
    # A Salesforce table dropped as CSV (all text), with missing and extra columns and odd values.
    accounts = pd.DataFrame(
        {
            "Id": pd.Series(["A1", "A2", "A3"], dtype="str"),
            "Name": pd.Series(["Acme", "Beta", "Gamma"], dtype="str"),
            "IsDeleted": pd.Series(["false", "yes", None], dtype=object),
            "NumberOfEmployees": pd.Series(["many", "5", "12"], dtype="str"),
            "BillingCountry": pd.Series(["DE", "DE", 42], dtype=object),
            "Surprise": [1, 2, 3],
        }
    )
    opps = bronze("Opportunity", [{"Id": "O1", "AccountId": "A1", "StageName": "Closed Won", "CloseDate": "2024-01-01", "CurrencyIsoCode": "EUR", "Amount": 5.0}])
    opps = opps.assign(Amount=pd.Series(["5"], dtype="str"), ContractTerm__c=pd.Series(["twelve"], dtype="str"))
    result = build_silver({"Account": accounts, "Opportunity": opps}, mapping, run_id="odd")
    acc = result.tables["accounts"]
    assert acc["account_id"].tolist() == ["A1"]  # A2 soft-deleted ("yes"), A3 in no country
    assert pd.isna(acc["employees"].iloc[0])  # "many" employees: field nulled
    rules = set(zip(result.quarantine["table"], result.quarantine["rule"], result.quarantine["field"], strict=True))
    assert ("Account", "country", "BillingCountry") in rules  # 42 is not a country
    assert ("Account", "cast", "NumberOfEmployees") in rules
    assert ("Opportunity", "cast", "ContractTerm__c") in rules  # "twelve" months
    for name, frame in result.tables.items():
        assert to_arrow(name, frame).schema == SILVER_TABLES[name]


def test_to_arrow_rejects_frames_missing_contract_columns(dirty: SilverResult) -> None:
    with pytest.raises(KeyError):
        to_arrow("users", dirty.tables["users"].drop(columns=["email"]))
    assert isinstance(to_arrow("users", dirty.tables["users"]), pa.Table)
