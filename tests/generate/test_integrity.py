"""The clean book is internally consistent: keys resolve, ids look like Salesforce's,
timestamps are ordered, stages, amounts, terms, dates and currencies agree, and
every clean country and phone value can be normalised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pycountry
import pytest

from etl.contracts import BRONZE_SALESFORCE, BRONZE_TABLES
from etl.generate import GenerationReport
from etl.storage import read_bronze

from .conftest import AS_OF

NOW = "2024-03-15T00:00:00.000+0000"
PREFIX = {"User": "005", "Account": "001", "Contact": "003", "Opportunity": "006", "OpportunityLineItem": "00k",
          "Case": "500", "Contract": "800", "Event": "00U", "Task": "00T", "Product2": "01t", "Asset": "02i"}
REFERENCES = [  # (table, column, target table, may be null)
    ("Account", "ParentId", "Account", True), ("Account", "OwnerId", "User", False),
    ("Contact", "AccountId", "Account", False), ("Opportunity", "AccountId", "Account", False),
    ("Opportunity", "OwnerId", "User", False), ("OpportunityLineItem", "OpportunityId", "Opportunity", False),
    ("OpportunityLineItem", "Product2Id", "Product2", False), ("Contract", "AccountId", "Account", False),
    ("Asset", "AccountId", "Account", False), ("Asset", "ContactId", "Contact", True),
    ("Asset", "Product2Id", "Product2", False), ("Case", "AccountId", "Account", False),
    ("Case", "ContactId", "Contact", True), ("Event", "AccountId", "Account", False),
    ("Event", "WhoId", "Contact", False), ("Task", "AccountId", "Account", False), ("Task", "WhoId", "Contact", True),
    ("billing_invoices", "account_id", "Account", False), ("monthly_usage", "account_id", "Account", False),
]


@pytest.fixture(scope="module")
def book(clean_book: tuple[Path, GenerationReport]) -> dict[str, pd.DataFrame]:
    data_dir, _ = clean_book
    return {t: read_bronze(data_dir, t) for t in BRONZE_TABLES}


def dangling(book: dict[str, pd.DataFrame], table: str, column: str, target: str, nullable: bool) -> pd.DataFrame:
    """Rows whose reference does not resolve (a null counts only where the field is required)."""
    frame = book[table]
    values = frame[column]
    bad = ~values.isin(set(book[target]["Id"]))
    if nullable:
        bad &= values.notna()
    return frame[bad]


def test_every_reference_resolves(book: dict[str, pd.DataFrame]) -> None:
    for table, column, target, nullable in REFERENCES:
        assert dangling(book, table, column, target, nullable).empty, (table, column)
    usage_codes = set(book["monthly_usage"]["service_code"])
    assert usage_codes <= set(book["Product2"]["ProductCode"])


def test_ids_are_unique_18_character_salesforce_ids(book: dict[str, pd.DataFrame]) -> None:
    for table in BRONZE_SALESFORCE:
        ids = book[table]["Id"]
        assert ids.is_unique, table
        assert (ids.str.len() == 18).all(), table
        if table in PREFIX:
            assert ids.str.startswith(PREFIX[table]).all(), table
    assert book["billing_invoices"]["invoice_id"].is_unique


def test_system_timestamps_are_ordered_and_not_after_extraction(book: dict[str, pd.DataFrame]) -> None:
    for table in BRONZE_SALESFORCE:
        f = book[table]
        assert (f["CreatedDate"] <= f["LastModifiedDate"]).all(), table
        assert (f["LastModifiedDate"] <= f["SystemModstamp"]).all(), table
        assert (f["SystemModstamp"] <= NOW).all(), table
        assert f["CreatedDate"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000").all(), table
    accounts = book["Account"].set_index("Id")["CreatedDate"]
    opps = book["Opportunity"]
    assert (opps["CreatedDate"] >= opps["AccountId"].map(accounts)).all()


def test_opportunity_stages_probabilities_and_dates_agree(book: dict[str, pd.DataFrame]) -> None:
    o = book["Opportunity"]
    probability = {"Prospecting": 10, "Qualification": 20, "Proposal": 50, "Negotiation": 75, "Closed Won": 100,
                   "Closed Lost": 0}
    assert set(o["StageName"]) == set(probability)
    assert (o["Probability"] == o["StageName"].map(probability)).all()
    assert (o["IsClosed"] == o["StageName"].isin(["Closed Won", "Closed Lost"])).all()
    assert (o["IsWon"] == (o["StageName"] == "Closed Won")).all()
    assert set(o["Type"]) == {"New Business", "Renewal", "Upsell"}
    close = pd.to_datetime(o["CloseDate"])
    as_of = pd.Timestamp(AS_OF)
    assert (close[o["IsClosed"]] <= as_of).all()
    assert (close[~o["IsClosed"]] > as_of).all() and (close <= as_of + pd.Timedelta(days=190)).all()
    assert (close >= as_of - pd.DateOffset(months=38)).all()
    # A missing term means the default of 12, so only 12-month deals leave it blank.
    assert set(o["ContractTerm__c"].dropna()) == {12.0, 24.0, 36.0} and o["ContractTerm__c"].isna().any()


def test_amount_is_the_sum_of_the_lines_in_the_account_currency(book: dict[str, pd.DataFrame]) -> None:
    o, li, acc = book["Opportunity"], book["OpportunityLineItem"], book["Account"]
    assert np.allclose(li["TotalPrice"], (li["Quantity"] * li["UnitPrice"]).round(2), atol=0.011)
    total = li.groupby("OpportunityId")["TotalPrice"].sum()
    assert np.allclose(o["Amount"], o["Id"].map(total), atol=0.05)
    assert (o["CurrencyIsoCode"] == o["AccountId"].map(acc.set_index("Id")["CurrencyIsoCode"])).all()
    assert (li["CurrencyIsoCode"] == li["OpportunityId"].map(o.set_index("Id")["CurrencyIsoCode"])).all()
    gap = (pd.to_datetime(li["ServiceDate"]) - pd.to_datetime(li["OpportunityId"].map(o.set_index("Id")["CloseDate"])))
    assert gap.dt.days.between(0, 30).all()
    opp_term = li["OpportunityId"].map(o.set_index("Id")["ContractTerm__c"].fillna(12.0))
    blank = li["Term_Months__c"].isna()
    assert blank.any() and (opp_term[blank] > 0).all()


def test_all_seven_currencies_and_rates_covering_every_close_date(book: dict[str, pd.DataFrame]) -> None:
    seven = {"USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF"}
    assert set(book["Opportunity"]["CurrencyIsoCode"]) == seven
    assert set(book["billing_invoices"]["currency"]) == seven
    ct = book["CurrencyType"].set_index("IsoCode")
    assert set(ct.index) == seven and ct.loc["USD", "IsCorporate"] and ct["IsCorporate"].sum() == 1
    assert 100 < ct.loc["JPY", "ConversionRate"] < 200 and ct.loc["USD", "ConversionRate"] == 1.0
    rates = book["DatedConversionRate"]
    assert (rates.loc[rates["IsoCode"] == "USD", "ConversionRate"] == 1.0).all()
    drift = rates["ConversionRate"] / rates["IsoCode"].map(ct["ConversionRate"])
    assert drift.between(0.8, 1.25).all()
    for code, periods in rates.groupby("IsoCode"):
        periods = periods.sort_values("StartDate")
        assert (periods["StartDate"].iloc[1:].to_numpy() == periods["NextStartDate"].iloc[:-1].to_numpy()).all()
        assert periods["NextStartDate"].iloc[-1] == "9999-12-31", code
        assert periods["StartDate"].iloc[0] <= book["Opportunity"]["CloseDate"].min()


def test_contracts_follow_their_won_deals(book: dict[str, pd.DataFrame]) -> None:
    c = book["Contract"]
    start, end = pd.to_datetime(c["StartDate"]), pd.to_datetime(c["EndDate"])
    months = c["ContractTerm"].astype(int)
    expected_end = pd.Series([s + pd.DateOffset(months=m) for s, m in zip(start, months, strict=True)]) - pd.Timedelta(days=1)
    assert (end.reset_index(drop=True) == expected_end).all()
    as_of = pd.Timestamp(AS_OF)
    status = np.select([start > as_of, end < as_of], ["Draft", "Expired"], "Activated")
    assert (c["Status"].to_numpy() == status).all()
    won = book["Opportunity"].query("IsWon and Type != 'Upsell'")
    assert len(c) == len(won)


def test_cases_statuses_and_closure_agree(book: dict[str, pd.DataFrame]) -> None:
    cs = book["Case"]
    assert (cs["IsClosed"] == (cs["Status"] == "Closed")).all()
    assert (cs["ClosedDate"].notna() == cs["IsClosed"]).all()
    assert (cs.loc[cs["IsClosed"], "ClosedDate"] >= cs.loc[cs["IsClosed"], "CreatedDate"]).all()
    assert cs.loc[cs["Status"] == "Escalated", "IsEscalated"].all()
    assert set(cs["Priority"]) == {"Critical", "High", "Medium", "Low"}
    assert cs["CaseNumber"].is_unique


def test_feeds_are_consistent(book: dict[str, pd.DataFrame]) -> None:
    inv = book["billing_invoices"]
    issue, due = pd.to_datetime(inv["issue_date"]), pd.to_datetime(inv["due_date"])
    assert ((due - issue).dt.days == 30).all() and (issue.dt.day == 1).all()
    paid = pd.to_datetime(inv["paid_date"])
    assert ((inv["status"] == "PAID") == paid.notna()).all() and (paid.dropna() <= pd.Timestamp(AS_OF)).all()
    assert (pd.to_numeric(inv["amount"]) > 0).all()
    assert (inv["currency"] == inv["account_id"].map(book["Account"].set_index("Id")["CurrencyIsoCode"])).all()
    usage = book["monthly_usage"]
    assert usage["usage_month"].max() == "2024-03" and usage["usage_month"].nunique() == 24
    assert (pd.to_numeric(usage["quantity"]) >= 0).all()
    assert not usage.duplicated(["account_id", "service_code", "usage_month"]).any()


def test_clean_countries_and_phones_can_be_normalised(book: dict[str, pd.DataFrame]) -> None:
    acc = book["Account"]
    codes = acc["BillingCountry"].map(lambda v: pycountry.countries.lookup(v).alpha_2)
    forms = acc["BillingCountry"]
    assert (forms == codes).mean() > 0.7 and (forms.str.len() > 2).any() and forms.str.islower().any()
    country_of = dict(zip(acc["Id"], codes, strict=True))
    contacts = book["Contact"]
    for frame, country in ((acc, codes), (contacts, contacts["AccountId"].map(country_of))):
        phones = frame["Phone"].dropna()
        regions = country[phones.index]
        valid = [phonenumbers.is_valid_number(phonenumbers.parse(p, r)) for p, r in zip(phones, regions, strict=True)]
        assert all(valid)


def test_contact_last_activity_comes_from_activities(book: dict[str, pd.DataFrame]) -> None:
    acts = pd.concat([book["Event"][["WhoId", "ActivityDate"]], book["Task"][["WhoId", "ActivityDate"]]])
    acts = acts[acts["ActivityDate"] <= AS_OF.isoformat()]
    latest = acts.groupby("WhoId")["ActivityDate"].max()
    contacts = book["Contact"].set_index("Id")
    assert (contacts["LastActivityDate"].dropna() == latest.reindex(contacts["LastActivityDate"].dropna().index)).all()
    assert contacts["LastActivityDate"].isna().sum() == len(contacts) - len(latest)


def test_nothing_happens_to_an_account_or_contact_before_it_exists(book: dict[str, pd.DataFrame]) -> None:
    account_created = book["Account"].set_index("Id")["CreatedDate"]
    for table in ("Contact", "Opportunity", "Case", "Contract", "Asset"):
        f = book[table]
        assert (f["CreatedDate"] >= f["AccountId"].map(account_created)).all(), table
    contact_created = book["Contact"].set_index("Id")["CreatedDate"]
    for table, column in (("Event", "WhoId"), ("Task", "WhoId")):
        f = book[table].dropna(subset=[column])
        assert (f["ActivityDate"] >= f["AccountId"].map(account_created).str[:10]).all(), table
        assert (f["ActivityDate"] >= f[column].map(contact_created).str[:10]).all(), table
    cases = book["Case"].dropna(subset=["ContactId"])
    assert (cases["CreatedDate"] >= cases["ContactId"].map(contact_created)).all()
