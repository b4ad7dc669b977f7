"""The FX rate table and conversion to the reporting currency (USD by default).

Salesforce stores rates relative to the org's *corporate* currency (the
CurrencyType row with IsCorporate = true): ConversionRate is units of that
currency per one unit of the corporate currency.  So for reporting currency T

    T per one unit of X = rate(T) / rate(X)

which holds whatever the corporate currency is.  DatedConversionRate gives
the same ratio per period [StartDate, NextStartDate); CurrencyType is the
undated fallback; `currency.fallback_rates` in the mapping config (already
in T per unit) covers currencies the org has no rate for, or orgs without
multi-currency at all.

Conversion never guesses: a currency without a rate is quarantined, never
treated as USD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.contracts import SILVER_TABLES
from etl.silver.mapping import (
    CastStep,
    CurrencyCodeStep,
    CurrencySettings,
    DedupeStep,
    DropDeletedStep,
    ParseDateStep,
    ParseDatetimeStep,
    RangeStep,
    RequiredStep,
    TrimStep,
)
from etl.silver.quality import Issue

DATED, CURRENCY_TYPE, CONFIG = "DatedConversionRate", "CurrencyType", "config"
SOURCES = (DATED, CURRENCY_TYPE, CONFIG)  # index = the source code `rates_for` returns
FX_COLUMNS = SILVER_TABLES["fx_rates"].names

# Cleansing of the two org rate tables, run by the build like a mapping entry.
_ORG_COMMON = [
    TrimStep(type="trim", columns=["Id", "IsoCode"]),
    RequiredStep(type="required", columns=["Id", "IsoCode"]),
    ParseDatetimeStep(type="parse_datetime", column="SystemModstamp"),
    DedupeStep(type="dedupe", key=["Id"], order_by="SystemModstamp"),
    DropDeletedStep(type="drop_deleted", column="IsDeleted"),
    CurrencyCodeStep(type="currency_code", column="IsoCode"),
    CastStep(type="cast", columns=["ConversionRate"], to="float"),
    RequiredStep(type="required", columns=["ConversionRate"]),
    RangeStep(type="range", column="ConversionRate", min=0, min_inclusive=False),
]
CURRENCY_TYPE_STEPS = _ORG_COMMON + [
    DedupeStep(type="dedupe", key=["IsoCode"], order_by="SystemModstamp"),  # one rate per currency
    CastStep(type="cast", columns=["IsCorporate", "IsActive"], to="bool", on_error="null"),
]
DATED_RATE_STEPS = _ORG_COMMON + [
    RequiredStep(type="required", columns=["StartDate"]),
    ParseDateStep(type="parse_date", column="StartDate"),
    ParseDateStep(type="parse_date", column="NextStartDate"),
]

# Salesforce writes the last period's NextStartDate as 9999-12-31: open-ended.
_OPEN_END = np.datetime64("9999-01-01", "us")


def empty_fx_rates() -> pd.DataFrame:
    return _frame([], [], [], [], [])


def _frame(codes: list[str], rates: list[float], start: list, end: list, source: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "currency_code": pd.Series(codes, dtype="str"),
            "rate_to_usd": pd.Series(rates, dtype="float64"),
            "valid_from": pd.Series(start, dtype="datetime64[us]"),
            "valid_to": pd.Series(end, dtype="datetime64[us]"),
            "source": pd.Series(source, dtype="str"),
        }
    )


@dataclass
class FxBuild:
    rates: pd.DataFrame  # the silver fx_rates table
    currency_type_issues: list[Issue] = field(default_factory=list)  # over the cleaned CurrencyType frame
    dated_issues: list[Issue] = field(default_factory=list)  # over the cleaned DatedConversionRate frame


def _reject_all(frame: pd.DataFrame, rule: str, column: str, message: str) -> list[Issue]:
    if frame.empty:
        return []
    return [Issue(rule, column, np.ones(len(frame), dtype=bool), frame[column], message, True)]


def _rate_at(starts: np.ndarray, ends: np.ndarray, rates: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Rate of the period containing each instant (NaN if none); periods sorted by start."""
    if len(starts) == 0:
        return np.full(len(when), np.nan)
    i = np.searchsorted(starts, when, side="right") - 1
    j = np.clip(i, 0, None)
    inside = (i >= 0) & (np.isnat(ends[j]) | (when < ends[j]))
    return np.where(inside, rates[j], np.nan)


def _periods(dated: pd.DataFrame, code: str, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = dated[dated["IsoCode"] == code].sort_values("StartDate", kind="stable")
    return (
        rows["StartDate"].to_numpy(dtype="datetime64[us]"),
        rows["NextStartDate"].to_numpy(dtype="datetime64[us]"),
        rows["ConversionRate"].to_numpy(dtype="float64") / scale,
    )


def _dated_rows(code: str, dated: pd.DataFrame, target: str, scale: float, anchor: float, undated_rate: float) -> pd.DataFrame:
    """Periods over which `code`'s rate to the target comes from dated rates (its own or the target's)."""
    xs, xe, xr = _periods(dated, code, scale)
    ts, te, tr = _periods(dated, target, scale)
    bounds = np.unique(np.concatenate([xs, xe, ts, te]))
    bounds = bounds[~np.isnat(bounds)]
    if len(bounds) == 0:
        return empty_fx_rates()
    r_x = _rate_at(xs, xe, xr, bounds)
    r_t = _rate_at(ts, te, tr, bounds)
    dated_here = ~np.isnan(r_x) | ~np.isnan(r_t)
    r_x = np.where(np.isnan(r_x), undated_rate, r_x)
    r_t = np.where(np.isnan(r_t), anchor, r_t)
    keep = dated_here & ~np.isnan(r_x) & ~np.isnan(r_t)
    ends = np.append(bounds[1:], np.datetime64("NaT", "us"))
    n = int(keep.sum())
    return _frame([code] * n, list((r_t / r_x)[keep]), list(bounds[keep]), list(ends[keep]), [DATED] * n)


def build_fx_rates(currency_types: pd.DataFrame, dated: pd.DataFrame, settings: CurrencySettings) -> FxBuild:
    """fx_rates from the cleaned org tables, falling back to the configured rates.

    `currency_types` holds IsoCode / ConversionRate / IsCorporate, `dated` holds
    IsoCode / ConversionRate / StartDate / NextStartDate (parsed), both already
    through CURRENCY_TYPE_STEPS / DATED_RATE_STEPS.
    """
    target = settings.reporting_currency
    result = FxBuild(empty_fx_rates())
    dated = dated.assign(NextStartDate=dated["NextStartDate"].mask(dated["NextStartDate"] >= _OPEN_END))
    bad_period = (dated["NextStartDate"].notna() & (dated["NextStartDate"] <= dated["StartDate"])).to_numpy()
    if bad_period.any():
        result.dated_issues.append(
            Issue("range", "NextStartDate", bad_period, dated["NextStartDate"], "period ends on or before it starts", True)
        )
        dated = dated[~bad_period]

    ct_rate: dict[str, float] = {}
    anchor: float | None = None  # units of the target per one unit of the corporate currency
    scale = 1.0
    if len(currency_types):
        corporate = currency_types[currency_types["IsCorporate"].fillna(False).astype(bool)]
        if len(corporate) != 1:
            which = ", ".join(sorted(corporate["IsoCode"])) or "none"
            msg = f"exactly one CurrencyType row must have IsCorporate=true (found: {which}); org rates unusable"
            result.currency_type_issues += _reject_all(currency_types, "fx_corporate", "IsCorporate", msg)
            result.dated_issues += _reject_all(dated, "fx_corporate", "IsoCode", msg)
        else:
            corp = str(corporate["IsoCode"].iloc[0])
            scale = float(corporate["ConversionRate"].iloc[0])  # 1.0 in any sane org
            dated = dated[dated["IsoCode"] != corp]  # the corporate currency is 1 by definition
            ct_rate = dict(zip(currency_types["IsoCode"], currency_types["ConversionRate"] / scale, strict=True))
            if target in ct_rate:
                anchor = ct_rate[target]
            elif corp in settings.fallback_rates:
                anchor = settings.fallback_rates[corp]
            else:
                msg = f"cannot express corporate currency {corp} in {target}: no {target} CurrencyType row and no fallback rate for {corp}"
                result.currency_type_issues += _reject_all(currency_types, "fx_anchor", "IsoCode", msg)
                result.dated_issues += _reject_all(dated, "fx_anchor", "IsoCode", msg)
                ct_rate = {}
    elif len(dated):
        msg = "dated rates need CurrencyType to identify the corporate currency"
        result.dated_issues += _reject_all(dated, "fx_corporate", "IsoCode", msg)

    parts = []
    if anchor is not None:
        codes = sorted(ct_rate)
        parts.append(_frame(codes, [anchor / ct_rate[c] for c in codes], [None] * len(codes), [None] * len(codes), [CURRENCY_TYPE] * len(codes)))
        has_target_dated = bool((dated["IsoCode"] == target).any())
        dated_codes = set(dated["IsoCode"]) | (set(ct_rate) if has_target_dated else set())
        for code in sorted(dated_codes - {target}):
            parts.append(_dated_rows(code, dated, target, scale, anchor, ct_rate.get(code, np.nan)))
    covered = set(ct_rate)
    configured = {c: r for c, r in settings.fallback_rates.items() if c not in covered}
    if target not in covered and target not in configured:
        configured[target] = 1.0
    codes = sorted(configured)
    parts.append(_frame(codes, [configured[c] for c in codes], [None] * len(codes), [None] * len(codes), [CONFIG] * len(codes)))
    rates = pd.concat([p for p in parts if len(p)] or [empty_fx_rates()], ignore_index=True)
    rates = rates.sort_values(["currency_code", "valid_from", "source"], kind="stable", na_position="first")
    result.rates = rates.reset_index(drop=True)[FX_COLUMNS]
    return result


_SPAN = np.int64(1 << 24)  # days per currency in the combined (currency, day) search key
_OFFSET = np.int64(1 << 23)  # keeps pre-1970 days positive


def _days(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[D]").astype("int64") + _OFFSET


def rates_for(currency: pd.Series, on: pd.Series | None, rates: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(rate to the reporting currency, source code into SOURCES or -1) per row.

    With `on` (dates), a DatedConversionRate period containing the date wins;
    otherwise, or where no period covers it, the currency's undated rate
    (CurrencyType, else configured).  One vectorised search over a
    (currency, day) key, no per-row lookups.
    """
    n = len(currency)
    rate = np.full(n, np.nan)
    source = np.full(n, -1, dtype=np.int64)
    if n == 0 or rates.empty:
        return rate, source
    names = pd.Index(sorted(rates["currency_code"].unique()))
    code = names.get_indexer(pd.Index(currency.astype("str")))
    known = code >= 0

    undated = rates[rates["valid_from"].isna()]
    und_rate = np.full(len(names), np.nan)
    und_source = np.full(len(names), -1, dtype=np.int64)
    pos = names.get_indexer(undated["currency_code"])
    und_rate[pos] = undated["rate_to_usd"].to_numpy()
    und_source[pos] = undated["source"].map({s: i for i, s in enumerate(SOURCES)}).to_numpy(dtype="int64")
    rate[known] = und_rate[code[known]]
    source[known] = und_source[code[known]]

    dated = rates[rates["valid_from"].notna()]
    if on is not None and len(dated):
        d_code = names.get_indexer(dated["currency_code"]).astype("int64")
        d_key = d_code * _SPAN + _days(dated["valid_from"].to_numpy())
        order = np.argsort(d_key, kind="stable")
        d_key, d_code = d_key[order], d_code[order]
        d_end = dated["valid_to"].to_numpy(dtype="datetime64[us]")[order]
        d_rate = dated["rate_to_usd"].to_numpy()[order]
        when = on.to_numpy(dtype="datetime64[us]")
        has_date = known & ~np.isnat(when)
        q_key = np.where(has_date, code.astype("int64") * _SPAN + _days(np.where(has_date, when, np.datetime64(0, "us"))), -1)
        i = np.searchsorted(d_key, q_key, side="right") - 1
        j = np.clip(i, 0, None)
        hit = has_date & (i >= 0) & (d_code[j] == code) & (np.isnat(d_end[j]) | (when < d_end[j]))
        rate[hit] = d_rate[j[hit]]
        source[hit] = SOURCES.index(DATED)
    return rate, source
