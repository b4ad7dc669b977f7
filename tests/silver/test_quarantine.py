"""Each kind of dirty data ends up where docs/data-quality.md says: quarantined, nulled, or only counted."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contracts import QUARANTINE_SCHEMA
from etl.silver import MappingConfig, SilverResult, build_silver

from .builders import dirty_book


@pytest.fixture(scope="module")
def result(mapping: MappingConfig) -> SilverResult:
    return build_silver(dirty_book(), mapping, run_id="run-1")


def quarantined(result: SilverResult, table: str, record_id: str) -> list[tuple[str, str, str | None]]:
    q = result.quarantine
    rows = q[(q["table"] == table) & (q["record_id"] == record_id)]
    return [(r.rule, r.field, None if pd.isna(r.value) else r.value) for r in rows.itertuples()]


def ids(result: SilverResult, table: str) -> list[str]:
    return result.tables[table].iloc[:, 0].tolist()


def test_null_required_field_is_quarantined(result: SilverResult) -> None:
    assert quarantined(result, "Account", "A3") == [("required", "Name", None)]
    assert quarantined(result, "Opportunity", "O8") == [("required", "StageName", None)]
    assert "A3" not in ids(result, "accounts")


def test_bad_dates_are_quarantined_with_the_value(result: SilverResult) -> None:
    assert quarantined(result, "Opportunity", "O2") == [("date_parse", "CloseDate", "2024-13-45")]
    assert quarantined(result, "Opportunity", "O3") == [("date_parse", "CloseDate", "31/02/2024")]
    assert quarantined(result, "Opportunity", "O4") == [("date_parse", "CloseDate", "not a date")]
    assert quarantined(result, "monthly_usage", "A1|FIB-100|2024-13") == [("date_parse", "usage_month", "2024-13")]


def test_bad_secondary_date_only_nulls_the_field(result: SilverResult) -> None:
    cases = result.tables["cases"].set_index("case_id")
    assert pd.isna(cases.loc["K1", "closed_at"])
    assert cases.loc["K2", "closed_at"] == pd.Timestamp("2024-03-02 08:30", tz="UTC")
    assert quarantined(result, "Case", "K1") == [("date_parse", "ClosedDate", "garbage")]


def test_negative_amounts_are_quarantined(result: SilverResult) -> None:
    assert quarantined(result, "Opportunity", "O5") == [("non_negative", "Amount", "-5")]
    assert quarantined(result, "OpportunityLineItem", "L4") == [("non_negative", "Quantity", "-1")]
    assert quarantined(result, "billing_invoices", "I2") == [("non_negative", "amount", "-10")]
    assert quarantined(result, "monthly_usage", "A1|MOB-5G|2024-03") == [("non_negative", "quantity", "-3")]


def test_text_amount_that_is_not_a_number(result: SilverResult) -> None:
    assert quarantined(result, "billing_invoices", "I3") == [("cast", "amount", "abc")]


def test_duplicate_ids_keep_the_latest_version_and_are_only_counted(result: SilverResult) -> None:
    acme = result.tables["accounts"].set_index("account_id").loc["A1"]
    assert (acme["account_name"], acme["country_code"], acme["employees"]) == ("Acme", "DE", 120)
    inv = result.tables["invoices"].set_index("invoice_id").loc["I1"]
    assert (inv["amount"], inv["status"], inv["paid_date"]) == (100.5, "PAID", pd.Timestamp("2024-02-20"))
    usage = result.tables["usage"]
    assert usage[["service_code", "quantity"]].values.tolist() == [["FIB-100", 12.0]]
    assert quarantined(result, "Account", "A1") == [] and quarantined(result, "billing_invoices", "I1") == []
    report = result.report.to_dict()["tables"]
    assert [report[t]["duplicates_superseded"] for t in ("accounts", "invoices", "usage")] == [1, 1, 1]


def test_mixed_case_codes_are_normalised(result: SilverResult) -> None:
    acme = result.tables["accounts"].set_index("account_id").loc["A1"]
    assert (acme["currency_code"], acme["country_code"], acme["region"]) == ("EUR", "DE", "EMEA")
    assert result.tables["cases"]["priority"].tolist()[:2] == ["HIGH", "CRITICAL"]
    assert result.tables["products"]["product_code"].tolist() == ["FIB-100", "MOB-5G"]
    o1 = result.tables["opportunities"].set_index("opportunity_id").loc["O1"]
    assert (o1["stage"], o1["status"], o1["opportunity_type"]) == ("Closed Won", "WON", "NEW_BUSINESS")
    assert result.tables["opportunities"].set_index("opportunity_id").loc["O9", "currency_code"] == "USD"
    inv = result.tables["invoices"].iloc[0]
    assert (inv["currency_code"], inv["status"]) == ("EUR", "PAID")
    normalised = result.report.to_dict()["tables"]["accounts"]["values_normalised"]
    assert normalised["country"] == {"country_code": 3}  # "Germany", "united kingdom", "us"
    assert normalised["currency_code"] == {"CurrencyIsoCode": 1}  # "eur"


def test_unknown_country_is_quarantined(result: SilverResult) -> None:
    assert quarantined(result, "Account", "A2") == [("country", "BillingCountry", "Atlantis")]
    delta = result.tables["accounts"].set_index("account_id").loc["A4"]
    assert (delta["country_code"], delta["region"]) == ("GB", "EMEA")


def test_unknown_currency_is_quarantined_never_usd(result: SilverResult) -> None:
    assert quarantined(result, "Opportunity", "O6") == [("currency_code", "CurrencyIsoCode", "XYZ")]
    assert "O6" not in ids(result, "opportunities")
    # On an account the currency is informational: the field is nulled, the account kept, the problem recorded.
    fox = result.tables["accounts"].set_index("account_id").loc["A6"]
    assert pd.isna(fox["currency_code"])
    assert quarantined(result, "Account", "A6") == [("currency_code", "CurrencyIsoCode", "XYZ")]


def test_soft_deleted_rows_are_dropped_and_counted(result: SilverResult) -> None:
    assert "A5" not in ids(result, "accounts")
    assert quarantined(result, "Account", "A5") == []
    assert result.report.to_dict()["tables"]["accounts"]["soft_deleted_dropped"] == 1


def test_bad_email_nulls_the_field_keeps_the_contact(result: SilverResult) -> None:
    contacts = result.tables["contacts"].set_index("contact_id")
    assert contacts.loc["C1", "email"] == "jane.doe@acme.de"
    assert pd.isna(contacts.loc["C2", "email"])
    assert quarantined(result, "Contact", "C2") == [("email_invalid", "Email", "jane@@acme")]
    assert result.report.to_dict()["tables"]["contacts"]["fields_nulled"]["email_invalid"] == {"Email": 1}


def test_bad_phone_nulls_the_field_keeps_the_record(result: SilverResult) -> None:
    contacts = result.tables["contacts"].set_index("contact_id")
    assert contacts.loc["C1", "phone"] == "+491712345678"  # national number, account in Germany
    assert pd.isna(contacts.loc["C5", "phone"])
    assert ("phone_invalid", "Phone", "12") in quarantined(result, "Contact", "C5")
    accounts = result.tables["accounts"].set_index("account_id")
    assert pd.isna(accounts.loc["A4", "phone"]) and accounts.loc["A6", "phone"] == "+14155552671"


def test_orphans(result: SilverResult) -> None:
    # parent rejected
    assert quarantined(result, "Contact", "C3") == [("orphan", "AccountId", "A2")]
    assert quarantined(result, "OpportunityLineItem", "L2") == [("orphan", "OpportunityId", "O2")]
    # parent soft-deleted
    assert quarantined(result, "Contact", "C6") == [("orphan", "AccountId", "A5")]
    # parent never existed
    assert quarantined(result, "Contact", "C4") == [("orphan", "AccountId", "A404")]
    assert quarantined(result, "Opportunity", "O7") == [("orphan", "AccountId", "A404")]
    assert quarantined(result, "billing_invoices", "I4") == [("orphan", "account_id", "A404")]
    q = result.quarantine.set_index(["table", "record_id"])
    assert q.loc[("Contact", "C3"), "message"] == "parent accounts record was rejected (see its quarantine rows)"
    assert q.loc[("Contact", "C4"), "message"] == "no accounts record with this id"
    assert q.loc[("Contact", "C6"), "message"] == "parent accounts record is deleted (IsDeleted)"


def test_every_input_row_is_accounted_for(result: SilverResult) -> None:
    for name, t in result.report.to_dict()["tables"].items():
        if name == "fx_rates":
            continue
        assert t["rows_in"] == t["rows_out"] + t["rows_quarantined"] + t["duplicates_superseded"] + t["soft_deleted_dropped"], name
        assert t["rows_out"] == len(result.tables[name])
    totals = result.report.to_dict()["totals"]
    # 19 rejected rows, plus one quarantine row per nulled field (A4, A6, C2, C5 x2, K1, K3, U2)
    assert (totals["rows_quarantined"], totals["fields_nulled"]) == (19, 8)
    assert len(result.quarantine) == 27


def test_quarantine_rows_are_complete_and_sorted(result: SilverResult) -> None:
    q = result.quarantine
    assert list(q.columns) == QUARANTINE_SCHEMA.names
    assert q[["table", "record_id", "rule", "message", "source_batch_id"]].notna().all().all()
    assert set(q["source_batch_id"]) == {"b1"}
    keys = list(zip(q["table"], q["record_id"], q["rule"], q["field"], strict=True))
    assert keys == sorted(keys)
