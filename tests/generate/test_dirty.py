"""Injected dirt: none at rate 0, every kind at 5%, each listed record really damaged
the way it is listed, and nothing damaged that is not listed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pycountry
import pytest

from etl.contracts import BRONZE_TABLES
from etl.generate import GenerationReport
from etl.generate.dirty import KINDS
from etl.storage import read_bronze

from .test_integrity import REFERENCES, dangling

KEY = {"billing_invoices": "invoice_id"}
STAMP = {"billing_invoices": "updated_at", "monthly_usage": "updated_at"}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _key(table: str, frame: pd.DataFrame) -> pd.Series:
    if table == "monthly_usage":
        return frame["account_id"] + "|" + frame["service_code"] + "|" + frame["usage_month"]
    return frame[KEY.get(table, "Id")]


@pytest.fixture(scope="module")
def dirty(dirty_book: tuple[Path, GenerationReport]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    data_dir, report = dirty_book
    book = {t: read_bronze(data_dir, t) for t in BRONZE_TABLES}
    for t, frame in book.items():
        frame["_key"] = _key(t, frame)
    return book, pd.read_csv(report.ground_truth_path / "dirty_records.csv", dtype=str, keep_default_na=False)


def test_rate_zero_injects_nothing(clean_book: tuple[Path, GenerationReport]) -> None:
    data_dir, report = clean_book
    assert pd.read_csv(report.ground_truth_path / "dirty_records.csv").empty
    for table in BRONZE_TABLES:
        frame = read_bronze(data_dir, table)
        assert not frame.get("IsDeleted", pd.Series(False)).any(), table
        assert not _key(table, frame).duplicated().any(), table


def test_every_kind_appears_at_five_percent(dirty: tuple[dict[str, pd.DataFrame], pd.DataFrame]) -> None:
    book, records = dirty
    assert set(records["kind"]) == set(KINDS)
    assert not records.duplicated(["table", "record_id"]).any()
    for table, listed in records.groupby("table"):
        originals = len(book[table]) - (listed["kind"] == "duplicate_id").sum()
        assert abs(len(listed) - 0.05 * originals) <= 0.5 + 0.01 * originals, table


def _is_bad_date(value: object, field: str) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    fmt = "%Y-%m" if field == "usage_month" else "%Y-%m-%d"
    text = str(value)[:7] if field == "usage_month" else str(value)[:10]
    return pd.isna(pd.to_datetime(text, format=fmt, errors="coerce")) or len(str(value)) not in (7, 10, 28)


def test_each_listed_record_is_damaged_as_listed(dirty: tuple[dict[str, pd.DataFrame], pd.DataFrame]) -> None:
    book, records = dirty
    for (table, kind, field), listed in records.groupby(["table", "kind", "field"]):
        frame = book[table]
        rows = frame[frame["_key"].isin(set(listed["record_id"]))]
        assert rows["_key"].nunique() == len(listed), (table, kind, field)
        values = rows[field]
        if kind == "duplicate_id":
            stamp = STAMP.get(table, "SystemModstamp")
            versions = rows.groupby("_key").agg(n=(stamp, "size"), stamps=(stamp, "nunique"),
                                               vals=(field, lambda s: s.nunique(dropna=False)))
            assert (versions == 2).all().all(), (table, field)
            continue
        assert len(rows) == len(listed), (table, kind, field)
        if kind == "null_required":
            assert values.isna().all()
        elif kind == "bad_date":
            assert values.map(lambda v, f=field: _is_bad_date(v, f)).all(), values.tolist()
        elif kind == "negative_amount":
            assert (pd.to_numeric(values) < 0).all()
        elif kind == "mixed_case_code":
            assert (values != values.str.upper()).all() and values.str.upper().isin(
                set(book["Product2"]["ProductCode"]) | {"USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF"}).all()
        elif kind == "unknown_country":
            for v in values:
                with pytest.raises(LookupError):
                    pycountry.countries.lookup(v)
        elif kind == "unknown_currency":
            assert values.map(lambda v: pycountry.currencies.get(alpha_3=v) is None).all()
        elif kind == "soft_deleted":
            assert values.all()
        elif kind == "bad_email":
            assert not values.map(lambda v: bool(EMAIL.fullmatch(v))).any()
        elif kind == "bad_phone":
            def parses(v: str) -> bool:
                try:
                    return phonenumbers.is_valid_number(phonenumbers.parse(v, "US"))
                except phonenumbers.NumberParseException:
                    return False
            assert not values.map(parses).any()


def test_nothing_unlisted_is_damaged(dirty: tuple[dict[str, pd.DataFrame], pd.DataFrame]) -> None:
    book, records = dirty
    listed = set(zip(records["table"], records["record_id"], strict=True))
    for table, frame in book.items():
        duplicated = frame.loc[frame["_key"].duplicated(), "_key"]
        assert {(table, k) for k in duplicated} <= listed, table
        if "IsDeleted" in frame:
            assert {(table, k) for k in frame.loc[frame["IsDeleted"], "_key"]} <= listed, table
    for table, column, target, nullable in REFERENCES:
        broken = dangling(book, table, column, target, nullable)
        assert {(table, k) for k in broken["_key"]} <= listed, (table, column)
    amounts = {"Opportunity": "Amount", "OpportunityLineItem": "TotalPrice", "billing_invoices": "amount"}
    for table, column in amounts.items():
        negative = book[table][pd.to_numeric(book[table][column]) < 0]
        assert {(table, k) for k in negative["_key"]} <= listed, table


def test_soft_deleted_contacts_are_never_referenced(dirty: tuple[dict[str, pd.DataFrame], pd.DataFrame]) -> None:
    book, _ = dirty
    deleted = set(book["Contact"].loc[book["Contact"]["IsDeleted"], "Id"])
    assert deleted
    for table, column in (("Case", "ContactId"), ("Event", "WhoId"), ("Task", "WhoId"), ("Asset", "ContactId")):
        assert not deleted & set(book[table][column].dropna()), table
