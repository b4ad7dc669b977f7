"""One or more tests per transformation type, on frames small enough to check by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_series_equal
from pydantic import TypeAdapter

from etl.silver.mapping import QbrSettings, Step
from etl.silver.transforms import Context, StepResult, apply_step, to_e164

STEP = TypeAdapter(Step)
NaT = pd.NaT


def run(frame: pd.DataFrame, ctx: Context, **step: Any) -> StepResult:
    return apply_step(frame, STEP.validate_python(step), ctx)


def text(*values: Any) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def col(res: StepResult, name: str) -> list[Any]:
    """Column values with every kind of null as None, for literal comparison."""
    return [None if pd.isna(v) else v for v in res.frame[name].tolist()]


def flagged(res: StepResult, rule: str) -> list[int]:
    return sorted(int(i) for issue in res.issues if issue.rule == rule for i in np.flatnonzero(issue.mask))


def dates(*values: str | None) -> list[Any]:
    return [None if v is None else pd.Timestamp(v) for v in values]


# ----------------------------------------------------------------------------- rename


def test_rename_renames_only_the_named_columns(ctx: Context) -> None:
    df = pd.DataFrame({"Id": text("a"), "Name": text("n"), "Other": text("o")})
    res = run(df, ctx, type="rename", columns={"Id": "account_id", "Name": "account_name"})
    assert list(res.frame.columns) == ["account_id", "account_name", "Other"]
    assert res.issues == []


# ------------------------------------------------------------------------------- cast


def test_cast_float_from_text_rejects_non_numbers(ctx: Context) -> None:
    df = pd.DataFrame({"amount": text("1.5", " 2 ", "abc", None, "", "-3e2")})
    res = run(df, ctx, type="cast", columns=["amount"], to="float")
    assert col(res, "amount") == [1.5, 2.0, None, None, None, -300.0]
    assert flagged(res, "cast") == [2]
    assert res.issues[0].rejects_row
    assert res.frame["amount"].dtype == "float64"


def test_cast_int_nulls_non_whole_numbers_when_configured(ctx: Context) -> None:
    df = pd.DataFrame({"n": pd.Series([12.0, 12.5, np.nan, 0.0])})
    res = run(df, ctx, type="cast", columns=["n"], to="int", on_error="null")
    assert col(res, "n") == [12, None, None, 0]
    assert str(res.frame["n"].dtype) == "Int64"
    assert flagged(res, "cast") == [1]
    assert not res.issues[0].rejects_row


def test_cast_bool_from_text(ctx: Context) -> None:
    df = pd.DataFrame({"flag": text("true", "No", "1", "maybe", None, "F")})
    res = run(df, ctx, type="cast", columns=["flag"], to="bool", on_error="null")
    assert col(res, "flag") == [True, False, True, None, None, False]
    assert flagged(res, "cast") == [3]


def test_cast_string_from_float_reads_like_a_code(ctx: Context) -> None:
    df = pd.DataFrame({"code": pd.Series([12.0, 3.5, np.nan])})
    res = run(df, ctx, type="cast", columns=["code"], to="string")
    assert col(res, "code") == ["12", "3.5", None]


# ----------------------------------------------------------------------- trim / case


def test_trim_strips_and_turns_blanks_into_nulls(ctx: Context) -> None:
    df = pd.DataFrame({"name": text("  Acme ", "Beta", "   ", None), "n": pd.Series([1.0, 2.0, 3.0, 4.0])})
    res = run(df, ctx, type="trim", columns=["name", "n"])
    assert col(res, "name") == ["Acme", "Beta", None, None]
    assert col(res, "n") == [1.0, 2.0, 3.0, 4.0]  # numbers are left alone
    assert res.count("value_normalised", "trim", "name") == 2


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("upper", ["EUR", "GBP", None]), ("lower", ["eur", "gbp", None]), ("title", ["Eur", "Gbp", None])],
)
def test_case(ctx: Context, mode: str, expected: list[str | None]) -> None:
    df = pd.DataFrame({"code": text("eur", "GBP", None)})
    res = run(df, ctx, type="case", columns=["code"], mode=mode)
    assert col(res, "code") == expected


# ---------------------------------------------------------------------------- dates


def test_parse_date_is_strict(ctx: Context) -> None:
    df = pd.DataFrame({"CloseDate": text("2024-03-15", "2024-13-45", "31/02/2024", "not a date", None, "2024-02-29", "2023-02-29", " 2024-01-02 ")})
    res = run(df, ctx, type="parse_date", column="CloseDate", target="close_date")
    assert col(res, "close_date") == dates("2024-03-15", None, None, None, None, "2024-02-29", None, "2024-01-02")
    assert flagged(res, "date_parse") == [1, 2, 3, 6]
    assert res.issues[0].rejects_row
    assert col(res, "CloseDate")[1] == "2024-13-45"  # the original stays for the quarantine value


def test_parse_date_tries_formats_in_order(ctx: Context) -> None:
    df = pd.DataFrame({"d": text("2024-03", "15.03.2024", "2024-3", "2024-00")})
    res = run(df, ctx, type="parse_date", column="d", formats=["%Y-%m", "%d.%m.%Y"], on_error="null")
    assert col(res, "d") == dates("2024-03-01", "2024-03-15", "2024-03-01", None)
    assert flagged(res, "date_parse") == [3]
    assert not res.issues[0].rejects_row


def test_parse_datetime_salesforce_iso_and_date_only(ctx: Context) -> None:
    df = pd.DataFrame(
        {"ts": text("2024-03-15T10:22:01.000+0000", "2024-03-15T10:22:01Z", "2024-03-15", "2024-03-15T12:00:00+02:00", "2024", "2024-03-15T25:00:00Z", None)}
    )
    res = run(df, ctx, type="parse_datetime", column="ts", target="at")
    utc = [pd.Timestamp(v, tz="UTC") for v in ("2024-03-15 10:22:01", "2024-03-15 10:22:01", "2024-03-15 00:00:00", "2024-03-15 10:00:00")]
    assert col(res, "at") == utc + [None, None, None]
    assert flagged(res, "date_parse") == [4, 5]
    assert str(res.frame["at"].dtype) == "datetime64[us, UTC]"


# --------------------------------------------------------------------------- default


def test_default_fills_only_nulls_and_counts(ctx: Context) -> None:
    df = pd.DataFrame({"unit": text("GB", None, "", "min")})
    res = run(df, ctx, type="default", column="unit", value="each")
    assert col(res, "unit") == ["GB", "each", "each", "min"]
    assert res.count("default_applied", "default", "unit") == 2


# ------------------------------------------------------------------------- value_map


STATUS = {"Prospecting": "OPEN", "Closed Won": "WON", "Closed Lost": "LOST"}


def test_value_map_stage_to_status_case_insensitive(ctx: Context) -> None:
    df = pd.DataFrame({"stage": text("Closed Won", "closed lost", " PROSPECTING ", "Haggling", None)})
    res = run(df, ctx, type="value_map", column="stage", target="status", mapping=STATUS)
    assert col(res, "status") == ["WON", "LOST", "OPEN", None, None]
    assert flagged(res, "value_map") == [3]
    assert res.issues[0].rejects_row
    assert col(res, "stage")[3] == "Haggling"


@pytest.mark.parametrize(("unmapped", "expected", "rejects"), [("keep", "Expansion", None), ("null", None, False)])
def test_value_map_unmapped_policies(ctx: Context, unmapped: str, expected: str | None, rejects: bool | None) -> None:
    df = pd.DataFrame({"Type": text("New Business", "Renewal", "Expansion")})
    mapping = {"New Business": "NEW_BUSINESS", "Renewal": "RENEWAL"}
    res = run(df, ctx, type="value_map", column="Type", target="opportunity_type", mapping=mapping, unmapped=unmapped)
    assert col(res, "opportunity_type") == ["NEW_BUSINESS", "RENEWAL", expected]
    assert [i.rejects_row for i in res.issues] == ([] if rejects is None else [rejects])


def test_value_map_priorities_upper_case(ctx: Context) -> None:
    df = pd.DataFrame({"priority": text("Critical", "high", "MEDIUM", "Low")})
    mapping = {"Critical": "CRITICAL", "High": "HIGH", "Medium": "MEDIUM", "Low": "LOW"}
    res = run(df, ctx, type="value_map", column="priority", mapping=mapping, unmapped="null")
    assert col(res, "priority") == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    assert res.count("value_normalised", "value_map", "priority") == 3


# --------------------------------------------------------------------------- country


def test_country_codes_names_and_regions(ctx: Context) -> None:
    df = pd.DataFrame({"BillingCountry": text("DE", "de", "Germany", "U.S.A.", "Atlantis", "XX", None, "Côte d'Ivoire", "japan")})
    res = run(df, ctx, type="country", column="BillingCountry", target="country_code", region_target="region")
    assert col(res, "country_code") == ["DE", "DE", "DE", "US", None, None, None, "CI", "JP"]
    assert col(res, "region") == ["EMEA", "EMEA", "EMEA", "AMER", None, None, None, "EMEA", "APAC"]
    assert flagged(res, "country") == [4, 5]
    assert res.issues[0].rejects_row
    assert res.count("value_normalised", "country", "country_code") == 5


def test_country_extra_aliases(ctx: Context) -> None:
    df = pd.DataFrame({"c": text("Bavaria")})
    res = run(df, ctx, type="country", column="c", aliases={"Bavaria": "DE"})
    assert col(res, "c") == ["DE"]


# ----------------------------------------------------------------------------- phone


def test_phone_to_e164_with_the_accounts_country() -> None:
    numbers = text(
        "(415) 555-2671", "030 1234567", "+44 (0)20 7946 0958", "0049 30 1234567", "12",
        "011 44 20 7946 0958", "06 1234 5678", "030 1234567", "call me", "+999 1234567",
        "1-415-555-2671", "+1 415 555 2671 ext. 12", "8 495 123-45-67", None,
    )  # fmt: skip
    countries = text("US", "DE", "DE", "DE", "DE", "US", "IT", None, "DE", "DE", "US", "GB", "RU", "DE")
    e164, reasons = to_e164(numbers, countries)
    assert [None if pd.isna(v) else v for v in e164] == [
        "+14155552671", "+49301234567", "+442079460958", "+49301234567", None,
        "+442079460958", "+390612345678", None, None, None,
        "+14155552671", "+14155552671", "+74951234567", None,
    ]  # fmt: skip
    assert {k: np.flatnonzero(v).tolist() for k, v in reasons.items()} == {
        "contains letters": [8],
        "unknown international calling code": [9],
        "national number without a known country to give its calling code": [7],
        "implausible length for the country's numbering plan": [4],
    }


def test_phone_nulls_the_field_and_keeps_the_row(ctx: Context) -> None:
    df = pd.DataFrame({"phone": text("030 1234567", "12"), "_country": text("DE", "DE")})
    res = run(df, ctx, type="phone", column="phone", country_column="_country")
    assert col(res, "phone") == ["+49301234567", None]
    assert len(res.frame) == 2
    assert flagged(res, "phone_invalid") == [1]
    assert not res.issues[0].rejects_row


def test_phone_default_country(ctx: Context) -> None:
    df = pd.DataFrame({"phone": text("020 7946 0958")})
    res = run(df, ctx, type="phone", column="phone", default_country="gb")
    assert col(res, "phone") == ["+442079460958"]


# ----------------------------------------------------------------------------- email


def test_email_lowercases_and_nulls_invalid(ctx: Context) -> None:
    df = pd.DataFrame({"email": text(" Ann@Example.COM ", "bad@", "a@b", "x.y+z@sub.example.co.uk", None, "two@@x.com")})
    res = run(df, ctx, type="email", column="email")
    assert col(res, "email") == ["ann@example.com", None, None, "x.y+z@sub.example.co.uk", None, None]
    assert flagged(res, "email_invalid") == [1, 2, 5]
    assert not res.issues[0].rejects_row
    assert res.count("value_normalised", "email", "email") == 1


# --------------------------------------------------------------------- currency_code


def test_currency_code_upper_cases_and_rejects_unknown(ctx: Context) -> None:
    df = pd.DataFrame({"cur": text("usd", "EUR ", "XYZ", None)})
    res = run(df, ctx, type="currency_code", column="cur")
    assert col(res, "cur")[:2] == ["USD", "EUR"]
    assert flagged(res, "currency_code") == [2, 3]
    assert all(i.rejects_row for i in res.issues)


def test_currency_code_may_allow_null_and_null_unknown(ctx: Context) -> None:
    df = pd.DataFrame({"cur": text("gbp", "XYZ", None)})
    res = run(df, ctx, type="currency_code", column="cur", on_unknown="null", allow_null=True)
    assert col(res, "cur") == ["GBP", None, None]
    assert flagged(res, "currency_code") == [1]
    assert not res.issues[0].rejects_row


# ---------------------------------------------------------------- dedupe / deletes


def test_dedupe_keeps_latest_version(ctx: Context) -> None:
    stamps = pd.to_datetime(pd.Series(["2024-01-02", "2024-01-03", "2024-01-01", "2024-01-01", None, "2024-01-05"]), utc=True)
    df = pd.DataFrame({"Id": text("A", "A", "B", "B", "C", "C"), "v": [1, 2, 3, 4, 5, 6], "ts": stamps})
    res = run(df, ctx, type="dedupe", key=["Id"], order_by="ts")
    assert res.kept()["v"].tolist() == [2, 4, 6]  # latest A; B tie -> later row; C: a stamp beats none
    assert (res.drop_check, int(res.dropped.sum())) == ("duplicates_superseded", 3)
    assert res.issues == []


def test_dedupe_on_composite_key_returns_rows_in_key_order(ctx: Context) -> None:
    df = pd.DataFrame({"a": text("y", "x", "x", "x"), "m": text("2024-01", "2024-02", "2024-01", "2024-01"), "ts": [9, 3, 1, 2]})
    res = run(df, ctx, type="dedupe", key=["a", "m"], order_by="ts")
    assert res.kept().index.tolist() == [3, 1, 0]  # (x, 2024-01) latest is row 3; then (x, 2024-02); then y


def test_dedupe_without_duplicates_keeps_the_frame(ctx: Context) -> None:
    df = pd.DataFrame({"Id": text("A", "B"), "ts": [1, 2]})
    res = run(df, ctx, type="dedupe", key=["Id"], order_by="ts")
    assert res.dropped is None and res.frame is df


def test_drop_deleted(ctx: Context) -> None:
    df = pd.DataFrame({"IsDeleted": pd.Series([True, False, None], dtype=object), "v": [1, 2, 3]})
    res = run(df, ctx, type="drop_deleted", column="IsDeleted")
    assert res.kept()["v"].tolist() == [2, 3]
    assert (res.drop_check, res.dropped.tolist()) == ("soft_deleted_dropped", [True, False, False])
    as_text = pd.DataFrame({"IsDeleted": text("true", "false", "1"), "v": [1, 2, 3]})
    assert run(as_text, ctx, type="drop_deleted").kept()["v"].tolist() == [2]


# ------------------------------------------------------------------------- validity


def test_required_rejects_null_and_blank(ctx: Context) -> None:
    df = pd.DataFrame({"Id": text("a", None, "  ", "d"), "n": pd.Series([1.0, 2.0, np.nan, 4.0])})
    res = run(df, ctx, type="required", columns=["Id", "n"])
    assert [(i.field, np.flatnonzero(i.mask).tolist(), i.rejects_row) for i in res.issues] == [
        ("Id", [1, 2], True),
        ("n", [2], True),
    ]


def test_non_negative(ctx: Context) -> None:
    df = pd.DataFrame({"amount": pd.Series([-1.0, 0.0, 5.0, np.nan])})
    assert flagged(run(df, ctx, type="non_negative", columns=["amount"]), "non_negative") == [0]
    res = run(df, ctx, type="non_negative", columns=["amount"], on_error="null")
    assert col(res, "amount") == [None, 0.0, 5.0, None]
    assert not res.issues[0].rejects_row


def test_range_bounds(ctx: Context) -> None:
    df = pd.DataFrame({"term": pd.array([0, 1, 600, 601, None], dtype="Int64")})
    assert flagged(run(df, ctx, type="range", column="term", min=1, max=600), "range") == [0, 3]
    exclusive = run(df, ctx, type="range", column="term", min=0, min_inclusive=False)
    assert flagged(exclusive, "range") == [0]


# ---------------------------------------------------------------------------- derived


def test_derived_add_months_clamps_to_month_end(ctx: Context) -> None:
    df = pd.DataFrame(
        {
            "start": pd.to_datetime(pd.Series(["2024-01-31", "2024-02-29", "2024-03-15", None, "2024-05-01"])),
            "months": pd.array([1, 12, 24, 12, None], dtype="Int64"),
        }
    )
    res = run(df, ctx, type="derived", derivation="add_months", inputs=["start", "months"], target="end")
    assert col(res, "end") == dates("2024-02-29", "2025-02-28", "2026-03-15", None, None)


def test_derived_term_months_precedence_and_default(ctx: Context) -> None:
    df = pd.DataFrame(
        {"line": pd.array([6, None, None], dtype="Int64"), "opp": pd.array([24, 36, None], dtype="Int64")}
    )
    res = run(df, ctx, type="derived", derivation="term_months", inputs=["line", "opp"], target="term_months")
    assert col(res, "term_months") == [6, 36, 12]
    assert res.count("default_applied", "term_months", "term_months") == 1


def test_derived_term_months_rejects_fractional_terms(ctx: Context) -> None:
    df = pd.DataFrame({"t": pd.Series([12.5, 24.0])})
    res = run(df, ctx, type="derived", derivation="term_months", inputs=["t"], target="term_months")
    assert flagged(res, "cast") == [0]
    assert col(res, "term_months")[1] == 24


def test_derived_coalesce(ctx: Context) -> None:
    df = pd.DataFrame({"a": text(None, "x", ""), "b": text("y", "z", "w")})
    res = run(df, ctx, type="derived", derivation="coalesce", inputs=["a", "b"], target="c")
    assert col(res, "c") == ["y", "x", "w"]


def test_derived_is_qbr_from_type_or_subject() -> None:
    ctx = Context(qbr=QbrSettings(types=["QBR"], subject_pattern=r"(?i)\bQBR\b|quarterly business review"))
    df = pd.DataFrame(
        {
            "type": text("QBR", "Meeting", "Meeting", "Call", None, "qbr"),
            "subject": text("x", "Q3 qbr with CFO", "Quarterly Business Review", "QBRS prep", None, None),
        }
    )
    res = run(df, ctx, type="derived", derivation="is_qbr", inputs=["type", "subject"], target="is_qbr")
    assert res.frame["is_qbr"].tolist() == [True, True, True, False, False, True]


# ----------------------------------------------------------------------------- lookup


def _accounts() -> pd.DataFrame:
    return pd.DataFrame({"account_id": text("A1", "A2"), "country_code": text("DE", "US")})


def test_lookup_joins_columns_and_quarantines_orphans(ctx: Context) -> None:
    ctx.silver["accounts"] = _accounts()
    ctx.rejected_ids["accounts"] = pd.Index(["A9"], dtype="str")
    ctx.deleted_ids["accounts"] = pd.Index(["A7"], dtype="str")
    df = pd.DataFrame({"account_id": text("A2", "A3", "A1", None, "A9", "A7")})
    res = run(df, ctx, type="lookup", table="accounts", on="account_id", columns={"_country": "country_code"})
    assert col(res, "_country") == ["US", None, "DE", None, None, None]
    assert [(np.flatnonzero(i.mask).tolist(), i.message) for i in res.issues] == [
        ([4], "parent accounts record was rejected (see its quarantine rows)"),
        ([5], "parent accounts record is deleted (IsDeleted)"),
        ([1], "no accounts record with this id"),
    ]
    assert all(i.rule == "orphan" and i.rejects_row for i in res.issues)


def test_lookup_keep_and_only_missing(ctx: Context) -> None:
    ctx.silver["products"] = pd.DataFrame({"product_id": text("P1", "P2"), "product_code": text("FIB", "MOB")})
    df = pd.DataFrame({"product_id": text("P1", "P2", "P3"), "product_code": text(None, "OWN", None)})
    res = run(df, ctx, type="lookup", table="products", on="product_id", columns={"product_code": "product_code"}, only_missing=True, on_missing="keep")
    assert col(res, "product_code") == ["FIB", "OWN", None]
    assert res.issues == []


def test_lookup_of_an_empty_parent_table_orphans_everything(ctx: Context) -> None:
    df = pd.DataFrame({"account_id": text("A1")})
    res = run(df, ctx, type="lookup", table="accounts", on="account_id", columns={"_c": "country_code"})
    assert flagged(res, "orphan") == [0]
    assert col(res, "_c") == [None]


def test_transforms_never_modify_their_input(ctx: Context) -> None:
    df = pd.DataFrame({"name": text(" a "), "cur": text("usd")})
    before = df.copy()
    run(df, ctx, type="trim", columns=["name"])
    run(df, ctx, type="currency_code", column="cur")
    assert_series_equal(df["name"], before["name"])
    assert_series_equal(df["cur"], before["cur"])
