"""Currency normalisation by hand: which rate, from which source, for which row."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.silver import MappingConfig, build_silver
from etl.silver.currency import build_fx_rates, rates_for

from .builders import bronze, currency_settings, feed


def ct(*rows: tuple[str, float, bool]) -> pd.DataFrame:
    """A cleaned CurrencyType frame."""
    return pd.DataFrame(
        {
            "IsoCode": pd.Series([r[0] for r in rows], dtype="str"),
            "ConversionRate": pd.Series([r[1] for r in rows], dtype="float64"),
            "IsCorporate": pd.Series([r[2] for r in rows], dtype="boolean"),
        }
    )


def dated(*rows: tuple[str, float, str, str | None]) -> pd.DataFrame:
    """A cleaned DatedConversionRate frame."""
    return pd.DataFrame(
        {
            "IsoCode": pd.Series([r[0] for r in rows], dtype="str"),
            "ConversionRate": pd.Series([r[1] for r in rows], dtype="float64"),
            "StartDate": pd.to_datetime(pd.Series([r[2] for r in rows], dtype="str")).astype("datetime64[us]"),
            "NextStartDate": pd.to_datetime(pd.Series([r[3] for r in rows], dtype="str")).astype("datetime64[us]"),
        }
    )


def as_rows(rates: pd.DataFrame) -> list[tuple]:
    out = []
    for r in rates.itertuples(index=False):
        start = None if pd.isna(r.valid_from) else str(r.valid_from.date())
        end = None if pd.isna(r.valid_to) else str(r.valid_to.date())
        out.append((r.currency_code, round(r.rate_to_usd, 6), start, end, r.source))
    return out


def lookup(rates: pd.DataFrame, codes: list[str], on: list[str | None] | None) -> list[tuple[float | None, str | None]]:
    when = None if on is None else pd.to_datetime(pd.Series(on, dtype="str")).astype("datetime64[us]")
    rate, source = rates_for(pd.Series(codes, dtype="str"), when, rates)
    names = ("DatedConversionRate", "CurrencyType", "config")
    return [(None if pd.isna(r) else round(float(r), 6), None if s < 0 else names[s]) for r, s in zip(rate, source, strict=True)]


EMPTY_DATED = dated()


def test_usd_corporate_currency_type_and_dated_periods() -> None:
    fx = build_fx_rates(
        ct(("USD", 1.0, True), ("EUR", 0.8, False), ("JPY", 150.0, False)),
        dated(("EUR", 0.8, "2024-01-01", "2024-02-01"), ("EUR", 0.5, "2024-02-01", "9999-12-31")),
        currency_settings(),
    )
    assert fx.currency_type_issues == [] and fx.dated_issues == []
    assert as_rows(fx.rates) == [
        ("EUR", 1.25, None, None, "CurrencyType"),
        ("EUR", 1.25, "2024-01-01", "2024-02-01", "DatedConversionRate"),
        ("EUR", 2.0, "2024-02-01", None, "DatedConversionRate"),  # 9999-12-31 means open-ended
        ("GBP", 1.25, None, None, "config"),  # not in CurrencyType: the configured rate
        ("JPY", round(1 / 150, 6), None, None, "CurrencyType"),
        ("USD", 1.0, None, None, "CurrencyType"),
    ]
    # An EUR opportunity closing inside a dated period uses that period's rate;
    # before any period it falls back to CurrencyType; an invoice (no date) uses CurrencyType.
    assert lookup(fx.rates, ["EUR", "EUR", "EUR", "USD", "GBP"], ["2024-01-15", "2024-03-01", "2023-12-31", "2024-01-15", "2024-01-15"]) == [
        (1.25, "DatedConversionRate"),
        (2.0, "DatedConversionRate"),
        (1.25, "CurrencyType"),
        (1.0, "CurrencyType"),
        (1.25, "config"),
    ]
    assert lookup(fx.rates, ["EUR", "XYZ", "CHF"], None) == [(1.25, "CurrencyType"), (None, None), (None, None)]


def test_no_org_tables_uses_configured_rates() -> None:
    fx = build_fx_rates(ct(), EMPTY_DATED, currency_settings())
    assert as_rows(fx.rates) == [
        ("EUR", 1.1, None, None, "config"),
        ("GBP", 1.25, None, None, "config"),
        ("USD", 1.0, None, None, "config"),  # the reporting currency is always 1
    ]
    assert lookup(fx.rates, ["EUR", "JPY"], ["2024-01-15", "2024-01-15"]) == [(1.1, "config"), (None, None)]


def test_non_usd_corporate_currency() -> None:
    # Corporate EUR: 1 EUR = 1.1 USD = 0.85 GBP.  USD per GBP = 1.1 / 0.85.
    fx = build_fx_rates(
        ct(("EUR", 1.0, True), ("USD", 1.1, False), ("GBP", 0.85, False)),
        dated(("USD", 1.2, "2024-01-01", "2024-02-01"), ("GBP", 0.8, "2024-01-01", "2024-02-01")),
        currency_settings(),
    )
    assert lookup(fx.rates, ["EUR", "GBP", "USD"], None) == [(1.1, "CurrencyType"), (round(1.1 / 0.85, 6), "CurrencyType"), (1.0, "CurrencyType")]
    # In January both USD and GBP have dated rates: GBP -> USD = 1.2 / 0.8; EUR -> USD = 1.2.
    assert lookup(fx.rates, ["GBP", "EUR", "USD", "GBP"], ["2024-01-15", "2024-01-15", "2024-01-15", "2024-02-15"]) == [
        (1.5, "DatedConversionRate"),
        (1.2, "DatedConversionRate"),
        (1.0, "CurrencyType"),
        (round(1.1 / 0.85, 6), "CurrencyType"),
    ]


def test_corporate_currency_without_a_usd_rate_is_anchored_by_config() -> None:
    # No USD row in the org: USD per corporate EUR comes from fallback_rates["EUR"] = 1.1.
    fx = build_fx_rates(ct(("EUR", 1.0, True), ("GBP", 0.88, False)), EMPTY_DATED, currency_settings())
    assert lookup(fx.rates, ["EUR", "GBP", "USD"], None) == [(1.1, "CurrencyType"), (1.25, "CurrencyType"), (1.0, "config")]


def test_org_rates_without_a_single_corporate_row_are_rejected() -> None:
    fx = build_fx_rates(ct(("USD", 1.0, False), ("EUR", 0.9, False)), dated(("EUR", 0.9, "2024-01-01", None)), currency_settings())
    assert [i.rule for i in fx.currency_type_issues] == ["fx_corporate"]
    assert fx.currency_type_issues[0].count == 2 and fx.dated_issues[0].count == 1
    assert set(fx.rates["source"]) == {"config"}


def test_dated_period_that_ends_before_it_starts_is_rejected() -> None:
    fx = build_fx_rates(ct(("USD", 1.0, True)), dated(("EUR", 0.9, "2024-02-01", "2024-01-01")), currency_settings())
    assert [(i.rule, i.field, i.count) for i in fx.dated_issues] == [("range", "NextStartDate", 1)]


# ------------------------------------------------------------------ through the build


@pytest.fixture
def org_bronze() -> dict[str, pd.DataFrame]:
    return {
        "CurrencyType": bronze(
            "CurrencyType",
            [
                {"Id": "C1", "IsoCode": "USD", "ConversionRate": 1.0, "IsCorporate": True, "IsActive": True},
                {"Id": "C2", "IsoCode": "eur", "ConversionRate": 0.8, "IsCorporate": False, "IsActive": True},
                {"Id": "C3", "IsoCode": "XYZ", "ConversionRate": 3.0, "IsCorporate": False, "IsActive": True},
            ],
        ),
        "DatedConversionRate": bronze(
            "DatedConversionRate",
            [
                {"Id": "D1", "IsoCode": "EUR", "ConversionRate": 0.5, "StartDate": "2024-01-01", "NextStartDate": "2024-04-01"},
                {"Id": "D2", "IsoCode": "EUR", "ConversionRate": -1.0, "StartDate": "2024-04-01", "NextStartDate": "2024-07-01"},
            ],
        ),
        "User": bronze("User", [{"Id": "U1", "Name": "Ann"}]),
        "Account": bronze("Account", [{"Id": "A1", "Name": "Acme", "BillingCountry": "DE", "CurrencyIsoCode": "EUR"}]),
        "Opportunity": bronze(
            "Opportunity",
            [
                {"Id": "O1", "AccountId": "A1", "Name": "Q1 deal", "StageName": "Closed Won", "Amount": 1000.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-02-10"},
                {"Id": "O2", "AccountId": "A1", "Name": "Q3 deal", "StageName": "Prospecting", "Amount": 1000.0, "CurrencyIsoCode": "EUR", "CloseDate": "2024-08-10"},
                {"Id": "O3", "AccountId": "A1", "Name": "odd", "StageName": "Prospecting", "Amount": 1000.0, "CurrencyIsoCode": "XYZ", "CloseDate": "2024-02-10"},
                {"Id": "O4", "AccountId": "A1", "Name": "yen", "StageName": "Prospecting", "Amount": 1000.0, "CurrencyIsoCode": "JPY", "CloseDate": "2024-02-10"},
            ],
        ),
        "OpportunityLineItem": bronze(
            "OpportunityLineItem",
            [{"Id": "L1", "OpportunityId": "O1", "Quantity": 1.0, "UnitPrice": 400.0, "TotalPrice": 400.0, "ServiceDate": "2024-03-01"}],
        ),
        "billing_invoices": feed(
            "billing_invoices",
            [{"invoice_id": "I1", "account_id": "A1", "invoice_number": "N1", "issue_date": "2024-02-10", "amount": "100", "currency": "EUR", "status": "PAID", "updated_at": "2024-02-10T00:00:00Z"}],
        ),
    }


def test_build_converts_with_the_right_rate_per_table(mapping: MappingConfig, org_bronze: dict[str, pd.DataFrame]) -> None:
    result = build_silver(org_bronze, mapping, run_id="fx")
    opps = result.tables["opportunities"].set_index("opportunity_id")
    # O1 closes in the dated Q1 period: 1 / 0.5 = 2.0 USD per EUR.
    assert (opps.loc["O1", "fx_rate_to_usd"], opps.loc["O1", "amount_usd"]) == (2.0, 2000.0)
    # O2 closes after the only valid period (Q2's negative rate was rejected): CurrencyType 1 / 0.8.
    assert (opps.loc["O2", "fx_rate_to_usd"], opps.loc["O2", "amount_usd"]) == (1.25, 1250.0)
    # JPY has no org rate at all: the configured fallback (0.0067 USD per JPY) applies.
    assert opps.loc["O4", "fx_rate_to_usd"] == pytest.approx(0.0067)
    assert "O3" not in opps.index  # XYZ is unknown: never treated as USD
    # The line item converts at its opportunity's close date, not its own service date.
    line = result.tables["opportunity_line_items"].iloc[0]
    assert (line["currency_code"], line["fx_rate_to_usd"], line["total_price_usd"]) == ("EUR", 2.0, 800.0)
    inv = result.tables["invoices"].iloc[0]
    assert (inv["fx_rate_to_usd"], inv["amount_usd"]) == (1.25, 125.0)

    q = result.quarantine
    assert q[["table", "record_id", "rule", "field", "value"]].values.tolist() == [
        ["CurrencyType", "C3", "currency_code", "IsoCode", "XYZ"],
        ["DatedConversionRate", "D2", "range", "ConversionRate", "-1"],
        ["Opportunity", "O3", "currency_code", "CurrencyIsoCode", "XYZ"],
    ]
    report = result.report.to_dict()["tables"]
    assert report["opportunities"]["fx_rate_sources"] == {"CurrencyType": 1, "DatedConversionRate": 1, "config": 1}
    assert report["invoices"]["fx_rate_sources"] == {"CurrencyType": 1}


def test_known_currency_without_any_rate_is_quarantined(mapping: MappingConfig, org_bronze: dict[str, pd.DataFrame]) -> None:
    settings = mapping.currency.model_copy(update={"fallback_rates": {}})
    result = build_silver(org_bronze, mapping.model_copy(update={"currency": settings}), run_id="fx")
    assert "O4" not in set(result.tables["opportunities"]["opportunity_id"])
    row = result.quarantine[result.quarantine["record_id"] == "O4"].iloc[0]
    assert (row["rule"], row["field"], row["value"]) == ("fx_rate_missing", "CurrencyIsoCode", "JPY")
