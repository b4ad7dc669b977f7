"""Configured fields meet the org's describe: missing fields warn, missing objects are skipped,
and DatedConversionRate falls back to CurrencyType."""

from __future__ import annotations

import logging

import pytest

from etl.extract.emulator import Emulator
from etl.storage import read_bronze
from tests.extract.helpers import assert_bronze_matches_org


def test_a_configured_field_missing_from_the_org_is_a_warning(extract, emu: Emulator, caplog):
    emu.org.hide_field("Account", "Website")
    emu.org.hide_field("Opportunity", "ContractTerm__c")
    with caplog.at_level(logging.WARNING, logger="etl.extract"):
        report = extract(["Account", "Opportunity"])
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Account.Website" in m and "not in the org" in m for m in messages)
    assert any("Opportunity.ContractTerm__c" in m for m in messages)
    assert len(report.warnings) == 2
    assert all(r.status == "published" for r in report.results)
    bronze = assert_bronze_matches_org(extract.data_dir, emu, "Account")
    assert bronze["Website"].isna().all()


def test_currency_iso_code_absent_in_a_single_currency_org(extract, emu: Emulator, caplog):
    emu.org.hide_field("Opportunity", "CurrencyIsoCode")
    with caplog.at_level(logging.WARNING, logger="etl.extract"):
        extract(["Opportunity"])
    assert any("Opportunity.CurrencyIsoCode" in r.getMessage() and "multi-currency" in r.getMessage() for r in caplog.records)
    assert read_bronze(extract.data_dir, "Opportunity")["CurrencyIsoCode"].isna().all()


@pytest.mark.parametrize("where", ["describe", "query"])
def test_dated_conversion_rate_invalid_type_falls_back_to_currency_type(extract, emu: Emulator, caplog, where: str):
    emu.org.disable("DatedConversionRate", at=where)
    with caplog.at_level(logging.WARNING, logger="etl.extract"):
        report = extract(["DatedConversionRate"])  # CurrencyType not even asked for
    statuses = {r.object: (r.status, r.note) for r in report.results}
    code = "NOT_FOUND" if where == "describe" else "INVALID_TYPE"
    assert statuses == {"DatedConversionRate": ("unavailable", code), "CurrencyType": ("published", "")}
    assert any("falls back" in r.getMessage() and "CurrencyType" in r.getMessage() for r in caplog.records)
    assert read_bronze(extract.data_dir, "DatedConversionRate").empty
    assert_bronze_matches_org(extract.data_dir, emu, "CurrencyType")


def test_other_unavailable_objects_are_skipped(extract, emu: Emulator, caplog):
    emu.org.disable("Asset")
    emu.org.disable("CurrencyType", at="query")
    with caplog.at_level(logging.WARNING, logger="etl.extract"):
        report = extract(["Account", "Asset", "CurrencyType"])
    statuses = {r.object: r.status for r in report.results}
    assert statuses == {"Account": "published", "Asset": "unavailable", "CurrencyType": "unavailable"}
    assert any("single-currency" in r.getMessage() for r in caplog.records)
    assert any("Asset is not available" in r.getMessage() for r in caplog.records)


def test_unknown_object_on_the_command_line_is_refused(extract):
    from etl.extract.errors import ExtractError

    with pytest.raises(ExtractError, match=r"unknown object\(s\) \['Lead'\]"):
        extract(["Lead"])


@pytest.mark.parametrize("api", ["rest", "bulk2"])
def test_fields_spelled_differently_by_the_org_keep_their_values(extract, emu: Emulator, api: str):
    expected = emu.org.frame("OpportunityLineItem").set_index("Id")["Term_Months__c"]
    emu.org.respell("OpportunityLineItem", "Term_Months__c", "term_months__C")
    extract(["OpportunityLineItem"], api=api)
    got = read_bronze(extract.data_dir, "OpportunityLineItem").set_index("Id")["Term_Months__c"]
    assert expected.notna().sum() > 10
    assert got.sort_index().equals(expected.sort_index())
