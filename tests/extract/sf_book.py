"""A small hand-made org in the bronze contract's shape, for the extraction tests.

Every object of `BRONZE_SALESFORCE`, a few dozen rows each, with the values
that break naive extractors: nulls in every type, quotes, commas and
newlines in text, non-ASCII names, doubles that do not round-trip through
a careless format (0.1 + 0.2, 1e20, -0.5), and soft-deleted rows.  All
``SystemModstamp`` values lie well before `NOW`, the emulator's clock, and
more than any lookback window before it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pandas as pd

from etl.contracts import BRONZE_SALESFORCE
from etl.extract.emulator import sf_datetime

NOW = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
TRICKY_TEXT = ['Müller & Söhne GmbH', 'O\'Brien "Telco", Ltd.', "line one\nline two", "  padded  ", "東京通信", "a,b,c"]
TRICKY_NUMBERS = [0.1 + 0.2, 1e20, -0.5, 12000.0, 3.141592653589793, 0.0]

_PREFIX = {
    "User": "005", "Account": "001", "Contact": "003", "Product2": "01t", "Opportunity": "006",
    "OpportunityLineItem": "00k", "Case": "500", "Contract": "800", "Asset": "02i", "Event": "00U",
    "Task": "00T", "CurrencyType": "01L", "DatedConversionRate": "04w",
}
_DATE_FIELDS = {"LastActivityDate", "CloseDate", "ServiceDate", "StartDate", "EndDate", "ActivityDate",
                "NextStartDate", "PurchaseDate", "InstallDate", "UsageEndDate"}
_DATETIME_FIELDS = {"CreatedDate", "LastModifiedDate", "SystemModstamp", "ClosedDate"}


def sf_id(obj: str, i: int) -> str:
    return f"{_PREFIX[obj]}{i:012d}AAA"


def _value(obj: str, field: str, i: int, rng: random.Random, counts: dict[str, int]) -> object:
    typ = BRONZE_SALESFORCE[obj].field(field).type
    if field == "Id":
        return sf_id(obj, i)
    if field == "IsDeleted":
        return i % 11 == 5  # a few soft-deleted rows in every object
    if field in _DATETIME_FIELDS:
        base = NOW - timedelta(days=400 - (i * 7) % 300, seconds=i * 37, milliseconds=(i * 123) % 1000)
        return sf_datetime(base + (timedelta(days=3) if field != "CreatedDate" else timedelta()))
    if rng.random() < 0.12 and field not in ("Name", "IsoCode"):
        return None  # nulls everywhere but the key text fields
    if field in _DATE_FIELDS:
        return (NOW.date() - timedelta(days=rng.randint(0, 900))).isoformat()
    if field.endswith("Id") and field != "Id":
        target = {"OwnerId": "User", "WhoId": "Contact", "ParentId": "Account", "Product2Id": "Product2",
                  "OpportunityId": "Opportunity", "ContactId": "Contact"}.get(field, "Account")
        return sf_id(target, rng.randrange(counts[target]))
    if str(typ) == "bool":
        return rng.random() < 0.5
    if field in ("NumberOfEmployees", "ContractTerm", "DurationInMinutes"):  # integer fields in Salesforce
        return float(rng.randint(0, 50_000))
    if str(typ) == "double":
        return rng.choice(TRICKY_NUMBERS) if rng.random() < 0.3 else round(rng.uniform(1, 100_000), 2)
    if field == "IsoCode":
        return ["USD", "EUR", "GBP", "JPY", "CHF", "SEK"][i % 6]
    if field == "CurrencyIsoCode":
        return rng.choice(["USD", "EUR", "GBP"])
    if rng.random() < 0.25:
        return rng.choice(TRICKY_TEXT)
    return f"{obj} {field} {i}"


def make_book(rows: int = 30, seed: int = 7, sizes: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """``{object: frame}`` with `rows` records per object (currency tables: 6; `sizes` overrides)."""
    rng = random.Random(seed)
    counts = {obj: (6 if obj in ("CurrencyType", "DatedConversionRate") else rows) for obj in BRONZE_SALESFORCE}
    counts.update(sizes or {})
    book = {}
    for obj, schema in BRONZE_SALESFORCE.items():
        data = {f.name: [_value(obj, f.name, i, rng, counts) for i in range(counts[obj])] for f in schema}
        book[obj] = pd.DataFrame(data)
    return book
