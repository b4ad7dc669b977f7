"""Builders for small bronze frames shaped exactly like `etl.storage.read_bronze` output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from etl.contracts import BRONZE_METADATA, BRONZE_TABLES
from etl.silver.mapping import CurrencySettings

MAPPING_PATH = Path(__file__).resolve().parents[2] / "config" / "bronze_to_silver_mapping.json"

SF_STAMP = "2024-01-01T00:00:00.000+0000"


def bronze(table: str, rows: list[dict[str, Any]], batch: str = "b1") -> pd.DataFrame:
    """A bronze frame: contract columns (unset ones null) plus metadata, via Arrow like read_bronze."""
    schema = pa.schema(list(BRONZE_TABLES[table]) + list(BRONZE_METADATA))
    defaults: dict[str, Any] = {"_batch_id": batch, "_extracted_at": "2024-06-01T00:00:00.000Z", "_source": "test"}
    if "IsDeleted" in schema.names:
        defaults |= {"IsDeleted": False, "SystemModstamp": SF_STAMP, "CreatedDate": SF_STAMP, "LastModifiedDate": SF_STAMP}
    full = [{**defaults, **row} for row in rows]
    return pa.Table.from_pylist(full, schema=schema).to_pandas()


def feed(table: str, rows: list[dict[str, Any]], batch: str = "b1") -> pd.DataFrame:
    """A CSV feed as read_bronze returns it when every column arrives as text."""
    names = BRONZE_TABLES[table].names + BRONZE_METADATA.names
    defaults = {"_batch_id": batch, "_extracted_at": "2024-06-01T00:00:00.000Z", "_source": "feed:test.csv"}
    full = [{**defaults, **row} for row in rows]
    return pd.DataFrame({c: pd.Series([r.get(c) for r in full], dtype="str") for c in names})


def currency_settings(**kw: Any) -> CurrencySettings:
    base: dict[str, Any] = {"known_currencies": ["USD", "EUR", "GBP", "JPY"], "fallback_rates": {"EUR": 1.1, "GBP": 1.25}}
    return CurrencySettings(**(base | kw))


def stamp(day: str) -> str:
    return f"{day}T00:00:00.000+0000"


def dirty_book() -> dict[str, pd.DataFrame]:
    """A tiny book with one example of each kind of dirt; every expected outcome is in the tests."""
    return {
        "User": bronze("User", [
            {"Id": "U1", "Name": "Ann Owner", "Email": "ANN@telco.com", "IsActive": True},
            {"Id": "U2", "Name": "Bob Owner", "Email": "not-an-email", "IsActive": True},
        ]),
        "Product2": bronze("Product2", [
            {"Id": "P1", "Name": "Fibre 100", "ProductCode": "fib-100", "Family": "Data"},
            {"Id": "P2", "Name": "Mobile 5G", "ProductCode": "MOB-5G", "Family": "Mobile"},
        ]),
        "Account": pd.concat([
            bronze("Account", [
                {"Id": "A1", "Name": "Acme Old", "BillingCountry": "de", "SystemModstamp": stamp("2024-01-01")},
                {"Id": "A2", "Name": "Beta", "BillingCountry": "Atlantis"},
                {"Id": "A3", "Name": None, "BillingCountry": "DE"},
                {"Id": "A4", "Name": "Delta", "BillingCountry": "united kingdom", "Phone": "12", "CurrencyIsoCode": "GBP"},
                {"Id": "A5", "Name": "Echo", "BillingCountry": "FR", "IsDeleted": True},
                {"Id": "A6", "Name": "Foxtrot", "BillingCountry": "us", "CurrencyIsoCode": "XYZ", "Phone": "(415) 555-2671", "OwnerId": "U9"},
            ]),
            bronze("Account", [
                {"Id": "A1", "Name": "Acme", "BillingCountry": "Germany", "Phone": "030 1234567", "CurrencyIsoCode": "eur",
                 "OwnerId": "U1", "NumberOfEmployees": 120.0, "SystemModstamp": stamp("2024-02-01")},
            ], batch="b2"),
        ], ignore_index=True),
        "Contact": bronze("Contact", [
            {"Id": "C1", "AccountId": "A1", "LastName": "Doe", "Email": " Jane.Doe@Acme.DE ", "Phone": "0171 2345678", "LastActivityDate": "2024-03-01"},
            {"Id": "C2", "AccountId": "A1", "LastName": "Roe", "Email": "jane@@acme"},
            {"Id": "C3", "AccountId": "A2", "LastName": "Poe"},
            {"Id": "C4", "AccountId": "A404", "LastName": "Zoe"},
            {"Id": "C5", "AccountId": "A4", "LastName": "Moe", "Phone": "12", "LastActivityDate": "yesterday"},
            {"Id": "C6", "AccountId": "A5", "LastName": "Hoe"},
        ]),
        "Opportunity": bronze("Opportunity", [
            {"Id": "O1", "AccountId": "A1", "Name": "Fibre deal", "Type": "New Business", "StageName": "closed won", "Amount": 1000.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-03-15"},
            {"Id": "O2", "AccountId": "A1", "Name": "b", "StageName": "Prospecting", "Amount": 1.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-13-45"},
            {"Id": "O3", "AccountId": "A1", "Name": "c", "StageName": "Prospecting", "Amount": 1.0, "CurrencyIsoCode": "EUR", "CloseDate": "31/02/2024"},
            {"Id": "O4", "AccountId": "A1", "Name": "d", "StageName": "Prospecting", "Amount": 1.0, "CurrencyIsoCode": "EUR", "CloseDate": "not a date"},
            {"Id": "O5", "AccountId": "A1", "Name": "e", "StageName": "Prospecting", "Amount": -5.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-03-15"},
            {"Id": "O6", "AccountId": "A1", "Name": "f", "StageName": "Prospecting", "Amount": 1.0, "CurrencyIsoCode": "XYZ", "CloseDate": "2024-03-15"},
            {"Id": "O7", "AccountId": "A404", "Name": "g", "StageName": "Prospecting", "Amount": 1.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-03-15"},
            {"Id": "O8", "AccountId": "A1", "Name": "h", "StageName": None, "Amount": 1.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-03-15"},
            {"Id": "O9", "AccountId": "A6", "Name": "Mobile renewal", "Type": "Renewal", "StageName": "Negotiation/Review", "Amount": 500.0, "CurrencyIsoCode": "usd",
             "CloseDate": "2024-05-20", "ContractTerm__c": 24.0},
        ]),
        "OpportunityLineItem": bronze("OpportunityLineItem", [
            {"Id": "L1", "OpportunityId": "O1", "Product2Id": "P1", "Quantity": 2.0, "UnitPrice": 500.0, "TotalPrice": 1000.0, "ServiceDate": "2024-01-31", "Term_Months__c": 1.0},
            {"Id": "L2", "OpportunityId": "O2", "Product2Id": "P1", "Quantity": 1.0, "UnitPrice": 1.0, "TotalPrice": 1.0, "ServiceDate": "2024-01-31"},
            {"Id": "L3", "OpportunityId": "O9", "Product2Id": "P2", "ProductCode": "mob-5g", "Name": "Mobile 5G (promo)", "Quantity": 10.0, "UnitPrice": 50.0,
             "TotalPrice": 500.0, "CurrencyIsoCode": "USD", "ServiceDate": "2024-06-01"},
            {"Id": "L4", "OpportunityId": "O1", "Product2Id": "P2", "Quantity": -1.0, "UnitPrice": 5.0, "TotalPrice": 5.0, "ServiceDate": "2024-01-31"},
        ]),
        "Case": bronze("Case", [
            {"Id": "K1", "AccountId": "A1", "CaseNumber": "00001", "Priority": "high", "Status": "Closed", "IsClosed": True, "ClosedDate": "garbage"},
            {"Id": "K2", "AccountId": "A1", "CaseNumber": "00002", "Priority": "P1", "Status": "New", "ClosedDate": "2024-03-02T08:30:00.000+0000"},
            {"Id": "K3", "AccountId": "A1", "CaseNumber": "00003", "Priority": "whatever", "Status": "New"},
        ]),
        "Contract": bronze("Contract", [
            {"Id": "T1", "AccountId": "A1", "ContractNumber": "0001", "Status": "Activated", "StartDate": "2024-01-01", "EndDate": "2024-12-31", "ContractTerm": 12.0},
        ]),
        "Event": bronze("Event", [{"Id": "E1", "AccountId": "A1", "Subject": "QBR Q1 with the CFO", "Type": "Meeting", "ActivityDate": "2024-03-01"}]),
        "Task": bronze("Task", [{"Id": "TK1", "AccountId": "A4", "Subject": "Follow-up call", "Type": "Call", "Status": "Completed", "ActivityDate": "2024-03-02"}]),
        "billing_invoices": feed("billing_invoices", [
            {"invoice_id": "I1", "account_id": "A1", "invoice_number": "N1", "issue_date": "2024-02-01", "amount": "90", "currency": "EUR", "status": "ISSUED", "updated_at": "2024-02-01T00:00:00Z"},
            {"invoice_id": "I1", "account_id": "A1", "invoice_number": "N1", "issue_date": "2024-02-01", "due_date": "2024-03-01", "paid_date": "2024-02-20",
             "amount": "100.50", "currency": "eur", "status": "paid", "updated_at": "2024-02-21T00:00:00Z"},
            {"invoice_id": "I2", "account_id": "A1", "invoice_number": "N2", "issue_date": "2024-02-01", "amount": "-10", "currency": "EUR", "status": "ISSUED", "updated_at": "2024-02-01T00:00:00Z"},
            {"invoice_id": "I3", "account_id": "A1", "invoice_number": "N3", "issue_date": "2024-02-01", "amount": "abc", "currency": "EUR", "status": "ISSUED", "updated_at": "2024-02-01T00:00:00Z"},
            {"invoice_id": "I4", "account_id": "A404", "invoice_number": "N4", "issue_date": "2024-02-01", "amount": "1", "currency": "EUR", "status": "ISSUED", "updated_at": "2024-02-01T00:00:00Z"},
        ]),
        "monthly_usage": feed("monthly_usage", [
            {"account_id": "A1", "service_code": "fib-100", "usage_month": "2024-03", "quantity": "10", "unit": "GB", "updated_at": "2024-04-01T00:00:00Z"},
            {"account_id": "A1", "service_code": "FIB-100", "usage_month": "2024-03", "quantity": "12", "unit": "GB", "updated_at": "2024-04-02T00:00:00Z"},
            {"account_id": "A1", "service_code": "FIB-100", "usage_month": "2024-13", "quantity": "1", "unit": "GB", "updated_at": "2024-04-01T00:00:00Z"},
            {"account_id": "A1", "service_code": "MOB-5G", "usage_month": "2024-03", "quantity": "-3", "unit": "lines", "updated_at": "2024-04-01T00:00:00Z"},
        ]),
    }  # fmt: skip
