"""One pure, vectorised function per transformation type of the mapping config.

Every transform has the signature ``(frame, step, ctx) -> StepResult``: it
returns a new frame (the input is never modified) plus the problems it found
as `Issue`s, and counts for the data-quality report.  Transforms that find
problems never drop rows themselves; the build turns rejecting issues into
quarantine rows and removes those rows, so that every transform stays
trivially testable on a five-row frame.

Work that depends only on a value (parsing a date, resolving a country name,
mapping a stage) is done once per *distinct* value and mapped back onto the
rows, which is what makes these fast on millions of rows with a few thousand
distinct values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.contracts import SILVER_TABLES
from etl.silver import currency
from etl.silver.mapping import (
    CaseStep,
    CastStep,
    CountryStep,
    CurrencyCodeStep,
    CurrencySettings,
    DedupeStep,
    DefaultStep,
    DerivedStep,
    DropDeletedStep,
    EmailStep,
    FxConvertStep,
    LookupStep,
    NonNegativeStep,
    ParseDateStep,
    ParseDatetimeStep,
    PhoneStep,
    QbrSettings,
    RangeStep,
    RenameStep,
    RequiredStep,
    TrimStep,
    ValueMapStep,
)
from etl.silver.quality import Issue
from etl.silver.reference import (
    MAX_E164_DIGITS,
    numbering_plan,
    region_of_country,
    resolve_country,
)

TEXT = "str"  # pandas' default string dtype


@dataclass
class Context:
    """What a step may consult besides its own frame: settings and tables built earlier."""

    default_term_months: int = 12
    qbr: QbrSettings = field(default_factory=QbrSettings)
    currency: CurrencySettings | None = None
    silver: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejected_ids: dict[str, pd.Index] = field(default_factory=dict)  # silver table -> record ids quarantined
    deleted_ids: dict[str, pd.Index] = field(default_factory=dict)  # silver table -> record ids soft-deleted
    fx_rates: pd.DataFrame | None = None


@dataclass
class StepResult:
    frame: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    # Rows removed without quarantine (older versions, soft deletes), positional over
    # `frame`, and the report check that counts them.
    dropped: np.ndarray | None = None
    drop_check: str = ""
    # (check, rule, field) -> the rows it applies to, for check in value_normalised /
    # default_applied / fx_rate_source; masks, so the build counts only live rows.
    counts: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)

    def count(self, check: str, rule: str, column: str) -> int:
        mask = self.counts.get((check, rule, column))
        return 0 if mask is None else int(mask.sum())

    def kept(self) -> pd.DataFrame:
        """The frame without dropped rows (what the build keeps after the step)."""
        return self.frame if self.dropped is None else self.frame[~self.dropped]


# ------------------------------------------------------------------------- helpers


def is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.StringDtype) or s.dtype == object


def as_text(s: pd.Series) -> pd.Series:
    """Any column as pandas' string dtype; nulls stay null, booleans become 'true'/'false'."""
    if s.dtype == TEXT:
        return s
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.map({True: "true", False: "false"}).astype(TEXT)
    return s.astype(TEXT)


def blank(s: pd.Series) -> np.ndarray:
    """Null, or text that is empty once stripped."""
    if is_text(s):
        t = as_text(s)
        return (t.isna() | (t.str.strip() == "")).to_numpy(dtype=bool)
    return s.isna().to_numpy(dtype=bool)


def text_changed(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Rows whose non-null value a normalisation rewrote or blanked (values_normalised)."""
    b, a = as_text(before), as_text(after)
    return (b.notna() & ((b != a) | a.isna())).to_numpy(dtype=bool)


def rewritten(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Rows where a normalisation produced a value different from the input text."""
    a = as_text(after)
    return (a.notna() & (as_text(before) != a)).to_numpy(dtype=bool)


def map_distinct(s: pd.Series, fn: Callable[[Any], Any], dtype: Any = TEXT) -> pd.Series:
    """Apply `fn` once per distinct non-null value and spread the results over the rows."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    resolved = [fn(u) for u in uniques]  # loops over distinct values, not rows
    table = pd.Series(pd.array(resolved + [None], dtype=dtype))
    codes = np.where(codes < 0, len(resolved), codes)
    return pd.Series(table.take(codes).array, index=s.index)


def replace_regex(s: pd.Series, pattern: str, replacement: str = "") -> pd.Series:
    """Regex replace in Arrow (RE2); pandas would fall back to Python per row for some patterns."""
    arr = pa.array(as_text(s))
    out = pc.replace_substring_regex(arr, pattern=pattern, replacement=replacement)
    return pd.Series(out, index=s.index, dtype=TEXT)


def _issue(rule: str, column: str, mask: np.ndarray, values: pd.Series, message: str, rejects: bool) -> Issue:
    return Issue(rule, column, np.asarray(mask, dtype=bool), values, message, rejects)


_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def to_float(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(float64 values, mask of non-blank values that are not numbers)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64"), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
        return out, (~np.isfinite(out.to_numpy()) & out.notna().to_numpy())
    t = as_text(s).str.strip()
    t = t.where(t != "")
    ok = t.str.fullmatch(_NUMBER).to_numpy(dtype=bool)
    bad = t.notna().to_numpy(dtype=bool) & ~ok
    clean = pa.array(t.where(ok), type=pa.string())
    values = pc.cast(clean, pa.float64()).to_numpy(zero_copy_only=False)
    return pd.Series(values, index=s.index, dtype="float64"), bad


def to_int(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(nullable Int64 values, mask of values that are not whole numbers)."""
    if isinstance(s.dtype, pd.Int64Dtype):
        return s, np.zeros(len(s), dtype=bool)
    values, bad = to_float(s)
    v = values.to_numpy()
    whole = np.isfinite(v) & (np.floor(v) == v) & (np.abs(v) < 2**53)
    bad = bad | (~np.isnan(v) & ~whole)
    keep = whole & ~bad
    ints = np.where(keep, v, 0).astype("int64")
    return pd.Series(pd.arrays.IntegerArray(ints, ~keep), index=s.index), bad


_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def to_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(nullable boolean values, mask of values that are not booleans)."""
    if isinstance(s.dtype, pd.BooleanDtype):
        return s, np.zeros(len(s), dtype=bool)
    if s.dtype == bool:
        return s.astype("boolean"), np.zeros(len(s), dtype=bool)

    def parse(v: Any) -> bool | None:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        key = str(v).strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
        return None

    out = map_distinct(s, parse, dtype="boolean")
    bad = ~blank(s) & out.isna().to_numpy(dtype=bool)
    return out, bad


def to_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_float_dtype(s.dtype):  # 12.0 -> "12", as a typed id or code would read
        t = replace_regex(s.astype(TEXT), r"\.0$")
        return t, np.zeros(len(s), dtype=bool)
    return as_text(s), np.zeros(len(s), dtype=bool)


_CASTERS: dict[str, Callable[[pd.Series], tuple[pd.Series, np.ndarray]]] = {
    "float": to_float,
    "int": to_int,
    "bool": to_bool,
    "string": to_text,
}


def _null_like(s: pd.Series, mask: np.ndarray) -> pd.Series:
    return s.mask(mask) if mask.any() else s


# ------------------------------------------------------------------ transformations


def rename(frame: pd.DataFrame, step: RenameStep, ctx: Context) -> StepResult:
    return StepResult(frame.rename(columns=step.columns))


def cast(frame: pd.DataFrame, step: CastStep, ctx: Context) -> StepResult:
    out, issues = {}, []
    for col in step.columns:
        values, bad = _CASTERS[step.to](frame[col])
        if bad.any():
            rejects = step.on_error == "quarantine"
            issues.append(_issue("cast", col, bad, frame[col], f"not a valid {step.to}", rejects))
            values = _null_like(values, bad)
        out[col] = values
    return StepResult(frame.assign(**out), issues)


def trim(frame: pd.DataFrame, step: TrimStep, ctx: Context) -> StepResult:
    out, counts = {}, {}
    for col in step.columns:
        if not is_text(frame[col]):
            continue  # numbers and booleans have no whitespace to trim
        before = as_text(frame[col])
        after = before.str.strip()
        if step.blank_as_null:
            after = after.where(after != "")
        out[col] = after
        counts[("value_normalised", "trim", col)] = text_changed(before, after)
    return StepResult(frame.assign(**out), counts=counts)


def case(frame: pd.DataFrame, step: CaseStep, ctx: Context) -> StepResult:
    out, counts = {}, {}
    for col in step.columns:
        before = as_text(frame[col])
        after = getattr(before.str, step.mode)()  # upper / lower / title
        out[col] = after
        counts[("value_normalised", f"case_{step.mode}", col)] = text_changed(before, after)
    return StepResult(frame.assign(**out), counts=counts)


def parse_dates(s: pd.Series, formats: list[str]) -> tuple[pd.Series, np.ndarray]:
    """(datetime64 dates, mask of non-blank values matching none of the formats).

    Strict: "2024-02-31" and "2024-13-45" are errors, never rolled over.
    """
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        d = s.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
        return d.dt.normalize().astype("datetime64[us]"), np.zeros(len(s), dtype=bool)
    t = as_text(s).str.strip()
    t = t.where(t != "")
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=TEXT)
    parsed = pd.Series(pd.NaT, index=u.index, dtype="datetime64[us]")
    for fmt in formats:
        todo = parsed.isna()
        if not todo.any():
            break
        got = pd.to_datetime(u[todo], format=fmt, errors="coerce").astype("datetime64[us]")
        parsed = parsed.where(~todo, got)
    values = np.append(parsed.dt.normalize().to_numpy(dtype="datetime64[us]"), np.datetime64("NaT", "us"))
    out = pd.Series(values[np.where(codes < 0, len(u), codes)], index=s.index)
    bad = t.notna().to_numpy(dtype=bool) & out.isna().to_numpy(dtype=bool)
    return out, bad


def _iso_date_prefix(t: pd.Series) -> np.ndarray:
    """Starts like YYYY-MM-DD (the ISO-8601 parser alone would also take "2024" or "2024-03")."""
    return ((t.str.len() >= 10) & (t.str.slice(4, 5) == "-") & (t.str.slice(7, 8) == "-")).to_numpy(dtype=bool)


def parse_datetimes(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(UTC timestamps, mask of non-blank values that are not ISO-8601 instants).

    Values without an offset are taken as UTC, which is what Salesforce and the
    feeds send.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").astype("datetime64[us, UTC]"), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.tz_localize("UTC").astype("datetime64[us, UTC]"), np.zeros(len(s), dtype=bool)
    t = as_text(s).str.strip()
    t = t.where(t != "")
    shaped = _iso_date_prefix(t)
    parsed = pd.to_datetime(t.where(shaped), format="ISO8601", utc=True, errors="coerce")
    parsed = parsed.astype("datetime64[us, UTC]")
    bad = t.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy(dtype=bool)
    return parsed, bad


def parse_date(frame: pd.DataFrame, step: ParseDateStep, ctx: Context) -> StepResult:
    values, bad = parse_dates(frame[step.column], step.formats)
    issues = []
    if bad.any():
        msg = f"not a valid date (expected {' or '.join(step.formats)})"
        issues.append(_issue("date_parse", step.column, bad, frame[step.column], msg, step.on_error == "quarantine"))
    return StepResult(frame.assign(**{step.out: values}), issues)


def parse_datetime(frame: pd.DataFrame, step: ParseDatetimeStep, ctx: Context) -> StepResult:
    values, bad = parse_datetimes(frame[step.column])
    issues = []
    if bad.any():
        msg = "not a valid ISO-8601 date-time (e.g. 2024-03-15T10:22:01.000+0000)"
        issues.append(_issue("date_parse", step.column, bad, frame[step.column], msg, step.on_error == "quarantine"))
    return StepResult(frame.assign(**{step.out: values}), issues)


def default(frame: pd.DataFrame, step: DefaultStep, ctx: Context) -> StepResult:
    s = frame[step.column]
    empty = blank(s)
    if not empty.any():
        return StepResult(frame)
    if isinstance(step.value, str):
        filled = as_text(s).mask(empty, step.value)
    elif isinstance(step.value, bool):
        filled = to_bool(s)[0].mask(empty, step.value)
    elif isinstance(step.value, int) and (pd.api.types.is_integer_dtype(s.dtype) or s.isna().all()):
        filled = to_int(s)[0].mask(empty, step.value)
    else:
        filled = to_float(s)[0].mask(empty, float(step.value))
    counts = {("default_applied", "default", step.column): empty}
    return StepResult(frame.assign(**{step.column: filled}), counts=counts)


def value_map(frame: pd.DataFrame, step: ValueMapStep, ctx: Context) -> StepResult:
    src = as_text(frame[step.column]).str.strip()
    src = src.where(src != "")
    if step.case_insensitive:
        table = {k.strip().casefold(): v for k, v in step.mapping.items()}
        mapped = map_distinct(src, lambda v: table.get(v.casefold()))
    else:
        table = {k.strip(): v for k, v in step.mapping.items()}
        mapped = map_distinct(src, table.get)
    unmapped = (src.notna() & mapped.isna()).to_numpy(dtype=bool)
    issues = []
    if step.unmapped == "keep":
        mapped = mapped.where(~unmapped, src)
    elif unmapped.any():
        msg = f"value not in the configured mapping ({', '.join(sorted(set(step.mapping.values())))})"
        issues.append(_issue("value_map", step.column, unmapped, frame[step.column], msg, step.unmapped == "quarantine"))
    counts = {("value_normalised", "value_map", step.out): rewritten(frame[step.column], mapped)}
    return StepResult(frame.assign(**{step.out: mapped}), issues, counts=counts)


def country(frame: pd.DataFrame, step: CountryStep, ctx: Context) -> StepResult:
    """Typed country (code, any case, or English name) -> ISO alpha-2 (+ sales region)."""
    src = as_text(frame[step.column]).str.strip()
    src = src.where(src != "")
    aliases = step.aliases or None
    codes = map_distinct(src, lambda v: resolve_country(v, aliases))
    unknown = (src.notna() & codes.isna()).to_numpy(dtype=bool)
    issues = []
    if unknown.any():
        msg = "not an ISO 3166-1 country code or a known country name"
        issues.append(_issue("country", step.column, unknown, frame[step.column], msg, step.on_unknown == "quarantine"))
    out = {step.out: codes}
    if step.region_target:
        regions = region_of_country()
        out[step.region_target] = map_distinct(codes, regions.get)
    counts = {("value_normalised", "country", step.out): rewritten(frame[step.column], codes)}
    return StepResult(frame.assign(**out), issues, counts=counts)


_EXTENSION = r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$"


def to_e164(numbers: pd.Series, countries: pd.Series | None, default_country: str | None = None) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Phone numbers -> E.164 ("+4930123456"), without parsing row by row.

    International numbers ("+", "00", or the country's own exit code) keep their
    calling code; national numbers get the calling code of `countries` (ISO
    alpha-2 per row) after their trunk prefix ("0", "1", "8" ...) is dropped.
    The national significant number must have a length the country's
    numbering plan allows.  Returns the numbers (null where invalid) and the
    invalid rows by reason.
    """
    plan = numbering_plan()
    n = len(numbers)
    text = as_text(numbers).str.strip()
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    t = replace_regex(text.str.replace("(0)", "", regex=False), _EXTENSION)
    letters = t.str.contains(r"[A-Za-z]", regex=True).to_numpy(dtype=bool) & present
    plus = t.str.startswith("+").to_numpy(dtype=bool) & present
    digits = replace_regex(t, r"\D").fillna("")

    region_pos = {r: i for i, r in enumerate(plan.regions)}
    if countries is None:
        ridx = np.full(n, -1, dtype=np.int64)
    else:
        ridx = map_distinct(as_text(countries).str.strip().str.upper(), region_pos.get, dtype="Int64")
        ridx = ridx.to_numpy(dtype="int64", na_value=-1)
    if default_country and default_country in region_pos:
        ridx = np.where(ridx < 0, region_pos[default_country], ridx)
    has_region = ridx >= 0
    safe_r = np.where(has_region, ridx, 0)

    # International form: "+", "00", or this country's exit code.
    exit_codes = np.array(plan.international_prefix, dtype=object)[safe_r]
    exit_codes = np.where(has_region, exit_codes, "00")
    intl = plus.copy()
    rest = digits.copy()
    for code in sorted(set(exit_codes[~plus & present]) | {"00"}):
        m = ~intl & present & ((exit_codes == code) | (code == "00")) & digits.str.startswith(code).to_numpy(dtype=bool)
        if m.any():
            intl |= m
            rest = rest.mask(m, digits.str.slice(len(code)))

    # Calling code of international numbers: codes are prefix-free, so at most one length matches.
    cc = np.zeros(n, dtype=np.int64)
    cc_len = np.zeros(n, dtype=np.int64)
    for length in (1, 2, 3):
        head = rest.str.slice(0, length)
        known = {str(c) for c in plan.calling_codes if len(str(c)) == length}
        m = intl & (cc_len == 0) & head.isin(known).to_numpy(dtype=bool)
        cc[m] = head[m].astype("int64").to_numpy()
        cc_len[m] = length
    nsn = digits
    for length in (1, 2, 3):
        m = intl & (cc_len == length)
        if m.any():
            nsn = nsn.mask(m, rest.str.slice(length))

    # National form: drop the country's trunk prefix when what remains is a possible length.
    national = present & ~intl
    cc = np.where(national & has_region, plan.calling_code[safe_r], cc)
    trunks = np.array(plan.national_prefix, dtype=object)[safe_r]
    lengths = nsn.str.len().to_numpy(dtype="int64", na_value=0)
    width = plan.allowed_length.shape[1]
    for trunk in sorted(set(trunks[national & has_region]) - {""}):
        m = national & has_region & (trunks == trunk) & nsn.str.startswith(trunk).to_numpy(dtype=bool)
        shorter = np.clip(lengths - len(trunk), 0, width - 1)
        m &= plan.allowed_length[safe_r, shorter]
        if m.any():
            nsn = nsn.mask(m, nsn.str.slice(len(trunk)))
    lengths = np.clip(nsn.str.len().to_numpy(dtype="int64", na_value=0), 0, width - 1)

    cc_rows = np.array(sorted(plan.cc_allowed_length))
    cc_table = np.vstack([plan.cc_allowed_length[c] for c in cc_rows])
    cc_pos = np.clip(np.searchsorted(cc_rows, cc), 0, len(cc_rows) - 1)
    cc_digits = np.where(cc >= 100, 3, np.where(cc >= 10, 2, 1))
    plan_ok = np.where(intl, cc_table[cc_pos, lengths], plan.allowed_length[safe_r, lengths] & has_region)
    length_ok = plan_ok & (cc > 0) & (cc_digits + lengths <= MAX_E164_DIGITS)

    reasons: dict[str, np.ndarray] = {
        "contains letters": present & letters,
        "unknown international calling code": present & ~letters & intl & (cc_len == 0),
        "national number without a known country to give its calling code": present & ~letters & national & ~has_region,
    }
    flagged = np.zeros(n, dtype=bool)
    for m in reasons.values():
        flagged |= m
    reasons["implausible length for the country's numbering plan"] = present & ~flagged & ~length_ok
    valid = present & ~flagged & length_ok
    e164 = ("+" + pd.Series(cc.astype(str), index=numbers.index, dtype=TEXT) + nsn).where(valid)
    return e164, {k: v for k, v in reasons.items() if v.any()}


def phone(frame: pd.DataFrame, step: PhoneStep, ctx: Context) -> StepResult:
    countries = frame[step.country_column] if step.country_column else None
    e164, reasons = to_e164(frame[step.column], countries, step.default_country)
    issues = [
        _issue("phone_invalid", step.column, mask, frame[step.column], f"cannot normalise to E.164: {why}", False)
        for why, mask in reasons.items()
    ]
    counts = {("value_normalised", "phone", step.out): rewritten(frame[step.column], e164)}
    return StepResult(frame.assign(**{step.out: e164}), issues, counts=counts)


# Practical address syntax (no quoted local parts or IP literals), lower-case after normalising.
EMAIL_PATTERN = (
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def email(frame: pd.DataFrame, step: EmailStep, ctx: Context) -> StepResult:
    src = frame[step.column]
    t = as_text(src).str.strip().str.lower()
    t = t.where(t != "")
    bad = (t.notna() & ~t.str.fullmatch(EMAIL_PATTERN)).to_numpy(dtype=bool)
    out = t.mask(bad)
    issues = [_issue("email_invalid", step.column, bad, src, "not a valid email address", False)] if bad.any() else []
    counts = {("value_normalised", "email", step.out): rewritten(src, out)}
    return StepResult(frame.assign(**{step.out: out}), issues, counts=counts)


def currency_code(frame: pd.DataFrame, step: CurrencyCodeStep, ctx: Context) -> StepResult:
    if ctx.currency is None:
        raise ValueError("currency_code needs the currency settings in the context")
    known = set(ctx.currency.known_currencies)
    src = frame[step.column]
    t = as_text(src).str.strip().str.upper()
    t = t.where(t != "")
    unknown = (t.notna() & ~t.isin(known)).to_numpy(dtype=bool)
    missing = t.isna().to_numpy(dtype=bool) & (not step.allow_null)
    rejects = step.on_unknown == "quarantine"
    issues = []
    if unknown.any():
        msg = "unknown currency (not in known_currencies); never assumed to be the reporting currency"
        issues.append(_issue("currency_code", step.column, unknown, src, msg, rejects))
    if missing.any():
        issues.append(_issue("currency_code", step.column, missing, src, "currency missing", rejects))
    out = t.mask(unknown)
    counts = {("value_normalised", "currency_code", step.out): rewritten(src, out)}
    return StepResult(frame.assign(**{step.out: out}), issues, counts=counts)


def sort_codes(s: pd.Series) -> tuple[np.ndarray, int]:
    """(codes that sort like the values, number of codes); nulls sort last."""
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64), len(uniques) + 1


def key_order(frame: pd.DataFrame, key: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(positions sorting the frame by `key`, the sorted rows' combined key codes).

    Rows with equal keys end up adjacent (in no particular order among
    themselves); sorting integer codes is much faster than comparing strings.
    """
    combined, span = np.zeros(len(frame), dtype=np.int64), 1
    parts = []
    for col in key:
        codes, width = sort_codes(frame[col])
        parts.append(codes)
        span *= width
        combined = combined * width + codes
    if span >= 2**62:  # too many distinct keys for one integer: compare them column by column
        order = np.lexsort(parts[::-1])
        combined = np.cumsum(np.append(False, np.any([p[order][1:] != p[order][:-1] for p in parts], axis=0)))
        return order, combined
    order = np.argsort(combined, kind="quicksort")
    return order, combined[order]


def _order_values(s: pd.Series) -> np.ndarray:
    """Sortable int64/float view of an ordering column; nulls sort first (oldest)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        values = s.to_numpy(dtype="datetime64[us]").astype("int64")
        return np.where(s.isna().to_numpy(), np.iinfo(np.int64).min, values)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=-np.inf)
    codes, _ = pd.factorize(s, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64)


def dedupe(frame: pd.DataFrame, step: DedupeStep, ctx: Context) -> StepResult:
    """Keep the latest version of each key by `order_by`; later input rows win ties.

    The result comes back ordered by the key: silver tables are published in
    primary-key order and the key usually is the primary key, so the build
    need not sort again.
    """
    if len(frame) < 2:
        return StepResult(frame)
    order, keys = key_order(frame, step.key)
    same = keys[1:] == keys[:-1]
    loser = np.zeros(len(frame), dtype=bool)  # over sorted positions
    if same.any():
        in_group = np.zeros(len(frame), dtype=bool)
        in_group[1:] |= same
        in_group[:-1] |= same
        at = np.flatnonzero(in_group)  # sorted positions of rows sharing a key
        rows = order[at]
        stamp = _order_values(frame[step.order_by])[rows]
        rank = np.lexsort((rows, stamp, keys[at]))  # by key, then stamp, then input position
        group = keys[at][rank]
        loser[at[rank[np.append(group[1:] == group[:-1], False)]]] = True
    if not loser.any() and (order[1:] > order[:-1]).all():
        return StepResult(frame)  # already in key order, nothing superseded
    out = frame.take(order)
    return StepResult(out, dropped=loser, drop_check="duplicates_superseded")


def truthy(s: pd.Series) -> np.ndarray:
    values, _ = to_bool(s)
    return values.fillna(False).to_numpy(dtype=bool)


def drop_deleted(frame: pd.DataFrame, step: DropDeletedStep, ctx: Context) -> StepResult:
    deleted = truthy(frame[step.column])
    if not deleted.any():
        return StepResult(frame)
    return StepResult(frame, dropped=deleted, drop_check="soft_deleted_dropped")


def required(frame: pd.DataFrame, step: RequiredStep, ctx: Context) -> StepResult:
    issues = []
    for col in step.columns:
        missing = blank(frame[col])
        if missing.any():
            issues.append(_issue("required", col, missing, frame[col], "required value is missing", True))
    return StepResult(frame, issues)


def _bound_check(frame: pd.DataFrame, col: str, bad_of: Callable[[np.ndarray], np.ndarray], rule: str, msg: str, on_error: str) -> tuple[dict[str, pd.Series], list[Issue]]:
    values, _ = to_float(frame[col])
    v = values.to_numpy()
    bad = ~np.isnan(v) & bad_of(v)
    if not bad.any():
        return {}, []
    issue = _issue(rule, col, bad, frame[col], msg, on_error == "quarantine")
    return ({col: frame[col].mask(bad)} if on_error == "null" else {}), [issue]


def non_negative(frame: pd.DataFrame, step: NonNegativeStep, ctx: Context) -> StepResult:
    out, issues = {}, []
    for col in step.columns:
        o, i = _bound_check(frame, col, lambda v: v < 0, "non_negative", "must not be negative", step.on_error)
        out.update(o)
        issues += i
    return StepResult(frame.assign(**out) if out else frame, issues)


def range_check(frame: pd.DataFrame, step: RangeStep, ctx: Context) -> StepResult:
    lo, hi = step.min, step.max

    def outside(v: np.ndarray) -> np.ndarray:
        bad = np.zeros(len(v), dtype=bool)
        if lo is not None:
            bad |= (v < lo) if step.min_inclusive else (v <= lo)
        if hi is not None:
            bad |= (v > hi) if step.max_inclusive else (v >= hi)
        return bad

    left = ("[" if step.min_inclusive else "(") + ("" if lo is None else f"{lo:g}")
    right = ("" if hi is None else f"{hi:g}") + ("]" if step.max_inclusive else ")")
    out, issues = _bound_check(frame, step.column, outside, "range", f"outside the allowed range {left}, {right}", step.on_error)
    return StepResult(frame.assign(**out) if out else frame, issues)


# ----------------------------------------------------------------------- derivations


def add_months(start: pd.Series, months: pd.Series) -> pd.Series:
    """start + months, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    d = start.to_numpy(dtype="datetime64[D]")
    m, _ = to_float(months)
    mv = m.to_numpy()
    ok = ~np.isnat(d) & ~np.isnan(mv)
    d = np.where(ok, d, np.datetime64("2000-01-01"))
    month = d.astype("datetime64[M]")
    day = (d - month.astype("datetime64[D]")).astype("int64")
    target = month + np.where(ok, mv, 0).astype("int64")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype("int64")
    result = target.astype("datetime64[D]") + np.minimum(day, length - 1)
    result = np.where(ok, result, np.datetime64("NaT"))
    return pd.Series(result.astype("datetime64[us]"), index=start.index)


def coalesce(columns: list[pd.Series]) -> pd.Series:
    out = columns[0]
    for nxt in columns[1:]:
        out = out.where(~pd.Series(blank(out), index=out.index), nxt)
    return out


def is_qbr(types: pd.Series, subjects: pd.Series | None, qbr: QbrSettings) -> pd.Series:
    wanted = {t.strip().casefold() for t in qbr.types}
    hit = map_distinct(as_text(types), lambda v: v.strip().casefold() in wanted, dtype="boolean").fillna(False)
    if subjects is not None and qbr.subject_pattern:
        hit = hit | as_text(subjects).str.contains(qbr.subject_pattern, regex=True).fillna(False).astype("boolean")
    return hit.astype(bool)


def derived(frame: pd.DataFrame, step: DerivedStep, ctx: Context) -> StepResult:
    inputs = [frame[c] for c in step.inputs]
    issues: list[Issue] = []
    counts: dict[tuple[str, str, str], np.ndarray] = {}
    if step.derivation == "add_months":
        value = add_months(inputs[0], inputs[1])
    elif step.derivation == "coalesce":
        value = coalesce(inputs)
    elif step.derivation == "term_months":
        months, bad = to_int(coalesce(inputs))
        if bad.any():
            issues.append(_issue("cast", step.inputs[0], bad, coalesce(inputs), "term is not a whole number of months", True))
            months = months.mask(bad)
        missing = months.isna().to_numpy() & ~bad
        value = months.mask(missing, ctx.default_term_months)
        counts[("default_applied", "term_months", step.target)] = missing
    else:  # is_qbr
        value = is_qbr(inputs[0], inputs[1] if len(inputs) > 1 else None, ctx.qbr)
    return StepResult(frame.assign(**{step.target: value}), issues, counts=counts)


# --------------------------------------------------------------------------- joins


def arrow_text(s: pd.Series) -> pa.Array:
    arr = pa.array(as_text(s))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def positions_in(keys: pd.Series, index: pd.Series) -> np.ndarray:
    """Row of `index` holding each key (first occurrence), -1 where absent."""
    if len(index) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    found = pc.index_in(arrow_text(keys), value_set=arrow_text(index))
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def take_or_null(values: pd.Series, pos: np.ndarray) -> pd.Series:
    """values[pos] keeping the dtype, null where pos is -1."""
    missing = pos < 0
    if len(values) == 0:
        return values.reset_index(drop=True).reindex(pd.RangeIndex(len(pos)))
    taken = values.iloc[np.where(missing, 0, pos)].reset_index(drop=True)
    return taken.mask(missing) if missing.any() else taken


def lookup(frame: pd.DataFrame, step: LookupStep, ctx: Context) -> StepResult:
    remote = ctx.silver.get(step.table)
    if remote is None:
        remote = SILVER_TABLES[step.table].empty_table().to_pandas()
    pos = positions_in(frame[step.on], remote[step.remote_key])
    out = {}
    for target, col in step.columns.items():
        value = take_or_null(remote[col], pos).set_axis(frame.index)
        if step.only_missing:
            value = coalesce([frame[target], value])
        out[target] = value
    issues = []
    if step.on_missing == "quarantine":
        orphan = (pos < 0) & ~blank(frame[step.on])
        if orphan.any():
            keys = as_text(frame[step.on])
            empty = pd.Index([], dtype=TEXT)
            rejected = orphan & keys.isin(ctx.rejected_ids.get(step.table, empty)).to_numpy(dtype=bool)
            deleted = orphan & ~rejected & keys.isin(ctx.deleted_ids.get(step.table, empty)).to_numpy(dtype=bool)
            absent = orphan & ~rejected & ~deleted
            why = {
                f"parent {step.table} record was rejected (see its quarantine rows)": rejected,
                f"parent {step.table} record is deleted (IsDeleted)": deleted,
                f"no {step.table} record with this id": absent,
            }
            issues += [_issue("orphan", step.on, m, frame[step.on], msg, True) for msg, m in why.items() if m.any()]
    return StepResult(frame.assign(**out) if out else frame, issues)


def fx_convert(frame: pd.DataFrame, step: FxConvertStep, ctx: Context) -> StepResult:
    amount, _ = to_float(frame[step.amount])
    codes = as_text(frame[step.currency])
    on = parse_dates(frame[step.date], ["%Y-%m-%d"])[0] if step.date else None
    rates = ctx.fx_rates if ctx.fx_rates is not None else currency.empty_fx_rates()
    rate, source = currency.rates_for(codes, on, rates)
    no_rate = np.isnan(rate) & (codes.notna().to_numpy(dtype=bool) | amount.notna().to_numpy())
    issues = []
    if no_rate.any():
        msg = "no exchange rate to the reporting currency (DatedConversionRate, CurrencyType or configured fallback)"
        issues.append(_issue("fx_rate_missing", step.currency, no_rate, frame[step.currency], msg, True))
    counts = {("fx_rate_source", name, step.target): source == code for code, name in enumerate(currency.SOURCES)}
    out = {step.rate_target: pd.Series(rate, index=frame.index), step.target: amount * rate}
    return StepResult(frame.assign(**out), issues, counts=counts)


TRANSFORMS: dict[str, Callable[[pd.DataFrame, Any, Context], StepResult]] = {
    "rename": rename,
    "cast": cast,
    "trim": trim,
    "case": case,
    "parse_date": parse_date,
    "parse_datetime": parse_datetime,
    "default": default,
    "value_map": value_map,
    "country": country,
    "phone": phone,
    "email": email,
    "currency_code": currency_code,
    "dedupe": dedupe,
    "drop_deleted": drop_deleted,
    "required": required,
    "non_negative": non_negative,
    "range": range_check,
    "derived": derived,
    "lookup": lookup,
    "fx_convert": fx_convert,
}


def apply_step(frame: pd.DataFrame, step: Any, ctx: Context) -> StepResult:
    return TRANSFORMS[step.type](frame, step, ctx)




def conform(frame: pd.DataFrame, schema: pa.Schema) -> StepResult:
    """Coerce a table's contract columns to the contract's types.

    The mapping should already have produced these types; a value that still
    does not fit (say, a config that forgot a cast) is nulled and reported as
    a "cast" problem rather than crashing the run or writing a wrong type.
    """
    out, issues = {}, []
    for f in schema:
        s = frame[f.name]
        if pa.types.is_string(f.type):
            values, bad = to_text(s)
        elif pa.types.is_floating(f.type):
            values, bad = to_float(s)
        elif pa.types.is_integer(f.type):
            values, bad = to_int(s)
        elif pa.types.is_boolean(f.type):
            values, bad = to_bool(s)
        elif pa.types.is_date(f.type):
            values, bad = parse_dates(s, ["%Y-%m-%d"])
        elif pa.types.is_timestamp(f.type):
            values, bad = parse_datetimes(s)
        else:  # the contract uses no other types; keep the column as it is
            values, bad = s, np.zeros(len(s), dtype=bool)
        if bad.any():
            issues.append(_issue("cast", f.name, bad, s, f"cannot be stored as {f.type}", False))
            values = values.mask(bad)
        out[f.name] = values
    return StepResult(frame.assign(**out), issues)
