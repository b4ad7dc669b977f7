"""The bronze -> silver mapping config (config/bronze_to_silver_mapping.json)
as a validated model.

Each silver table names its bronze source(s) and an ordered list of steps;
a step is one transformation type with its parameters.  Validation happens
in two passes so that every problem names the file, the key path and what is
wrong:

1. pydantic checks shape: known step types, required parameters, no stray
   keys, sane currency and QBR settings;
2. `validate_mapping` walks each table's steps against the bronze contract,
   tracking which columns exist after every step, so that a step reading a
   column that is not there, a lookup of an unknown table, or a silver column
   no step produces is caught before any data is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from etl.contracts import BRONZE_METADATA, BRONZE_TABLES, SILVER_TABLES
from etl.errors import ConfigError
from etl.settings import load_config
from etl.silver.reference import is_iso_country, iso_currencies

OnError = Literal["quarantine", "null"]
Scalar = bool | int | float | str

# Columns the build adds to every working frame; steps may read but never write them.
TABLE_COL = "_table"  # the bronze object or feed a row came from
RECORD_ID_COL = "_record_id"  # the record id quarantine rows carry (first part, if composite)
BATCH_COL = "_batch_id"
HIDDEN_COLUMNS = frozenset({TABLE_COL, RECORD_ID_COL, *BRONZE_METADATA.names})
ALWAYS_KEPT = (TABLE_COL, RECORD_ID_COL, BATCH_COL)  # what a quarantine row needs


def record_id_parts(n: int) -> list[str]:
    """Hidden columns holding a record id of n parts (joined with '|' only when quarantined)."""
    return [RECORD_ID_COL] + [f"{RECORD_ID_COL}.{i}" for i in range(1, n)]


def is_hidden(column: str) -> bool:
    return column in HIDDEN_COLUMNS or column.startswith(RECORD_ID_COL)


# Silver tables built by code rather than by a mapping entry.
FX_TABLE = "fx_rates"
MAPPED_TABLES = tuple(name for name in SILVER_TABLES if name != FX_TABLE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- steps


class _Step(_Model):
    """Common interface the validator uses to follow columns through the steps."""

    def reads(self) -> list[tuple[str, str]]:
        """(parameter path, column) for every column the step reads."""
        return []

    def writes(self) -> list[str]:
        return []

    def renames(self) -> dict[str, str]:
        return {}

    def lookup_table(self) -> str | None:
        return None


def _cols(param: str, columns: list[str]) -> list[tuple[str, str]]:
    return [(f"{param}.{i}", c) for i, c in enumerate(columns)]


class _ColumnsStep(_Step):
    columns: list[str] = Field(min_length=1)

    def reads(self) -> list[tuple[str, str]]:
        return _cols("columns", self.columns)

    def writes(self) -> list[str]:
        return list(self.columns)


class _SingleColumnStep(_Step):
    column: str
    target: str | None = None  # defaults to rewriting `column` in place

    @property
    def out(self) -> str:
        return self.target or self.column

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]

    def writes(self) -> list[str]:
        return [self.out]


class RenameStep(_Step):
    type: Literal["rename"]
    columns: dict[str, str] = Field(min_length=1)

    def reads(self) -> list[tuple[str, str]]:
        return [(f"columns.{old}", old) for old in self.columns]

    def renames(self) -> dict[str, str]:
        return dict(self.columns)


class CastStep(_ColumnsStep):
    type: Literal["cast"]
    to: Literal["string", "int", "float", "bool"]
    on_error: OnError = "quarantine"


class TrimStep(_ColumnsStep):
    type: Literal["trim"]
    blank_as_null: bool = True


class CaseStep(_ColumnsStep):
    type: Literal["case"]
    mode: Literal["upper", "lower", "title"]


class ParseDateStep(_SingleColumnStep):
    type: Literal["parse_date"]
    formats: list[str] = Field(default=["%Y-%m-%d"], min_length=1)
    on_error: OnError = "quarantine"

    @field_validator("formats")
    @classmethod
    def _strftime_formats(cls, formats: list[str]) -> list[str]:
        for fmt in formats:
            if "%" not in fmt:
                raise ValueError(f"{fmt!r} is not a strftime format (e.g. '%Y-%m-%d')")
            try:
                date(2024, 1, 2).strftime(fmt)
            except ValueError as exc:
                raise ValueError(f"{fmt!r} is not a valid strftime format: {exc}") from None
        return formats


class ParseDatetimeStep(_SingleColumnStep):
    type: Literal["parse_datetime"]
    on_error: OnError = "quarantine"


class DefaultStep(_Step):
    type: Literal["default"]
    column: str
    value: Scalar

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]

    def writes(self) -> list[str]:
        return [self.column]


class ValueMapStep(_SingleColumnStep):
    type: Literal["value_map"]
    mapping: dict[str, str] = Field(min_length=1)
    case_insensitive: bool = True
    unmapped: Literal["quarantine", "keep", "null"] = "quarantine"

    @model_validator(mode="after")
    def _unambiguous(self) -> ValueMapStep:
        if self.case_insensitive:
            seen: dict[str, str] = {}
            for key, value in self.mapping.items():
                k = key.strip().casefold()
                if k in seen and seen[k] != value:
                    raise ValueError(f"mapping keys differing only in case map to different values: {key!r}")
                seen[k] = value
        return self


class CountryStep(_SingleColumnStep):
    type: Literal["country"]
    region_target: str | None = None
    aliases: dict[str, str] = {}  # extra spellings -> ISO alpha-2
    on_unknown: OnError = "quarantine"

    @field_validator("aliases")
    @classmethod
    def _iso_aliases(cls, aliases: dict[str, str]) -> dict[str, str]:
        bad = [f"{k}={v}" for k, v in aliases.items() if not is_iso_country(v.upper())]
        if bad:
            raise ValueError(f"alias targets must be ISO 3166-1 alpha-2 codes: {', '.join(bad)}")
        return aliases

    def writes(self) -> list[str]:
        return [self.out] + ([self.region_target] if self.region_target else [])


class PhoneStep(_SingleColumnStep):
    type: Literal["phone"]
    country_column: str | None = None  # ISO alpha-2 giving the calling code of national numbers
    default_country: str | None = None  # used when the row has no country

    @field_validator("default_country")
    @classmethod
    def _iso_country(cls, code: str | None) -> str | None:
        if code is not None and not is_iso_country(code.upper()):
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return code.upper() if code else None

    def reads(self) -> list[tuple[str, str]]:
        return super().reads() + ([("country_column", self.country_column)] if self.country_column else [])


class EmailStep(_SingleColumnStep):
    type: Literal["email"]


class CurrencyCodeStep(_SingleColumnStep):
    type: Literal["currency_code"]
    on_unknown: OnError = "quarantine"
    allow_null: bool = False


class DedupeStep(_Step):
    type: Literal["dedupe"]
    key: list[str] = Field(min_length=1)
    order_by: str  # a parsed datetime: the latest version wins

    def reads(self) -> list[tuple[str, str]]:
        return _cols("key", self.key) + [("order_by", self.order_by)]


class DropDeletedStep(_Step):
    type: Literal["drop_deleted"]
    column: str = "IsDeleted"

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]


class RequiredStep(_ColumnsStep):
    type: Literal["required"]

    def writes(self) -> list[str]:
        return []


class NonNegativeStep(_ColumnsStep):
    type: Literal["non_negative"]
    on_error: OnError = "quarantine"


class RangeStep(_Step):
    type: Literal["range"]
    column: str
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    on_error: OnError = "quarantine"

    @model_validator(mode="after")
    def _bounds(self) -> RangeStep:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]

    def writes(self) -> list[str]:
        return [self.column]


# Named derivations and how many input columns each takes (None = one or more).
DERIVATIONS: dict[str, tuple[int, int | None]] = {
    "add_months": (2, 2),  # [start date, months] -> start + months (exclusive end date)
    "coalesce": (1, None),  # first non-null input
    "term_months": (1, None),  # first non-null input, else the configured default_term_months
    "is_qbr": (1, 2),  # [activity type, subject] -> QBR recognition from the qbr settings
}


class DerivedStep(_Step):
    type: Literal["derived"]
    derivation: Literal["add_months", "coalesce", "term_months", "is_qbr"]
    inputs: list[str] = Field(min_length=1)
    target: str

    @model_validator(mode="after")
    def _arity(self) -> DerivedStep:
        lo, hi = DERIVATIONS[self.derivation]
        n = len(self.inputs)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi else f"at least {lo}"
            raise ValueError(f"derivation {self.derivation!r} takes {want} input column(s), got {n}")
        return self

    def reads(self) -> list[tuple[str, str]]:
        return _cols("inputs", self.inputs)

    def writes(self) -> list[str]:
        return [self.target]


class LookupStep(_Step):
    """Join columns from an already built silver table; a missing parent is an orphan."""

    type: Literal["lookup"]
    table: str  # a silver table
    on: str  # local column holding the parent's key
    key: str | None = None  # column of `table` matched against `on`; default its primary id
    columns: dict[str, str] = {}  # local target column -> column of `table`
    only_missing: bool = False  # fill targets only where they are null
    on_missing: Literal["quarantine", "keep"] = "quarantine"

    @property
    def remote_key(self) -> str:
        if self.key:
            return self.key
        schema = SILVER_TABLES.get(self.table)
        return schema.names[0] if schema is not None else ""

    def reads(self) -> list[tuple[str, str]]:
        own = [("on", self.on)]
        if self.only_missing:
            own += [(f"columns.{t}", t) for t in self.columns]
        return own

    def writes(self) -> list[str]:
        return list(self.columns)

    def lookup_table(self) -> str | None:
        return self.table


class FxConvertStep(_Step):
    """amount -> reporting currency; dated rates when `date` is given (DatedConversionRate first)."""

    type: Literal["fx_convert"]
    amount: str
    currency: str
    target: str
    rate_target: str = "fx_rate_to_usd"
    date: str | None = None

    def reads(self) -> list[tuple[str, str]]:
        cols = [("amount", self.amount), ("currency", self.currency)]
        return cols + ([("date", self.date)] if self.date else [])

    def writes(self) -> list[str]:
        return [self.target, self.rate_target]


Step = Annotated[
    RenameStep
    | CastStep
    | TrimStep
    | CaseStep
    | ParseDateStep
    | ParseDatetimeStep
    | DefaultStep
    | ValueMapStep
    | CountryStep
    | PhoneStep
    | EmailStep
    | CurrencyCodeStep
    | DedupeStep
    | DropDeletedStep
    | RequiredStep
    | NonNegativeStep
    | RangeStep
    | DerivedStep
    | LookupStep
    | FxConvertStep,
    Field(discriminator="type"),
]

STEP_TYPES: tuple[str, ...] = (
    "rename", "cast", "trim", "case", "parse_date", "parse_datetime", "default", "value_map",
    "country", "phone", "email", "currency_code", "dedupe", "drop_deleted", "required",
    "non_negative", "range", "derived", "lookup", "fx_convert",
)  # fmt: skip


# ---------------------------------------------------------------------------- tables


class SourceSpec(_Model):
    table: str  # a bronze object or feed
    constants: dict[str, Scalar] = {}  # columns set for every row of this source (e.g. activity_kind)


class TableMapping(_Model):
    source: str | list[SourceSpec]
    record_id: str | list[str] = "Id"  # bronze column(s) naming a record in quarantine
    primary_key: list[str] | None = None  # output sort order; default the first silver column
    steps: list[Step] = Field(min_length=1)

    @property
    def sources(self) -> list[SourceSpec]:
        return [SourceSpec(table=self.source)] if isinstance(self.source, str) else list(self.source)

    @property
    def record_id_columns(self) -> list[str]:
        return [self.record_id] if isinstance(self.record_id, str) else list(self.record_id)


# -------------------------------------------------------------------------- settings


class CurrencySettings(_Model):
    reporting_currency: str = "USD"  # the *_usd columns hold amounts in this currency
    known_currencies: list[str] = Field(min_length=1)
    # Units of the reporting currency per one unit of each currency, used when the
    # org has no CurrencyType / DatedConversionRate rate for it.
    fallback_rates: dict[str, float] = {}

    @field_validator("reporting_currency")
    @classmethod
    def _iso_reporting(cls, code: str) -> str:
        if code.upper() not in iso_currencies():
            raise ValueError(f"{code!r} is not an ISO 4217 currency code")
        return code.upper()

    @field_validator("known_currencies")
    @classmethod
    def _iso_known(cls, codes: list[str]) -> list[str]:
        bad = [c for c in codes if c.upper() not in iso_currencies()]
        if bad:
            raise ValueError(f"not ISO 4217 currency codes: {', '.join(bad)}")
        return sorted({c.upper() for c in codes})

    @field_validator("fallback_rates")
    @classmethod
    def _positive_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        bad = [f"{k}={v}" for k, v in rates.items() if not v > 0]
        if bad:
            raise ValueError(f"rates must be positive: {', '.join(bad)}")
        return {k.upper(): v for k, v in rates.items()}

    @model_validator(mode="after")
    def _consistent(self) -> CurrencySettings:
        if self.reporting_currency not in self.known_currencies:
            raise ValueError(f"reporting_currency {self.reporting_currency} is not in known_currencies")
        unknown = sorted(set(self.fallback_rates) - set(self.known_currencies))
        if unknown:
            raise ValueError(f"fallback_rates for currencies not in known_currencies: {', '.join(unknown)}")
        return self


class QbrSettings(_Model):
    """How a quarterly business review is recognised among Events and Tasks."""

    types: list[str] = []  # activity types that are QBRs, compared case-insensitively
    subject_pattern: str | None = None  # regex (RE2 syntax) searched in the subject

    @field_validator("subject_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            re.compile(pattern)
            pc.match_substring_regex(pa.array(["x"]), pattern=pattern)  # the engine silver runs it on
        except (re.error, pa.ArrowInvalid) as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return pattern


class MappingConfig(_Model):
    default_term_months: int = Field(12, gt=0, le=600)
    currency: CurrencySettings
    qbr: QbrSettings = QbrSettings()
    tables: dict[str, TableMapping]


# ---------------------------------------------------------------------- validation


def _available_after_sources(tm: TableMapping) -> set[str]:
    cols: set[str] = set(HIDDEN_COLUMNS)
    for spec in tm.sources:
        cols |= set(BRONZE_TABLES[spec.table].names) | set(spec.constants)
    return cols


def _problem(file: str, key: str, problem: str) -> ConfigError:
    return ConfigError(file, key, problem)


def _shown(columns: set[str]) -> str:
    visible = sorted(c for c in columns if not c.startswith("_"))
    return ", ".join(visible)


def validate_mapping(mapping: MappingConfig, file: str = "<mapping>") -> None:
    """Check the mapping against the contract; raises ConfigError naming the key path."""
    for name in mapping.tables:
        if name not in MAPPED_TABLES:
            hint = " (fx_rates is built from the currency settings)" if name == FX_TABLE else ""
            raise _problem(file, f"tables.{name}", f"not a silver table{hint}; expected one of {', '.join(MAPPED_TABLES)}")
    missing = [t for t in MAPPED_TABLES if t not in mapping.tables]
    if missing:
        raise _problem(file, "tables", f"no mapping for silver table(s): {', '.join(missing)}")
    for name, tm in mapping.tables.items():
        _validate_table(name, tm, mapping, file)
    table_order(mapping, file)  # raises on a lookup cycle


def _validate_table(name: str, tm: TableMapping, mapping: MappingConfig, file: str) -> None:
    base = f"tables.{name}"
    for i, spec in enumerate(tm.sources):
        if spec.table not in BRONZE_TABLES:
            key = f"{base}.source" if isinstance(tm.source, str) else f"{base}.source.{i}.table"
            raise _problem(file, key, f"unknown bronze table {spec.table!r}; expected one of {', '.join(BRONZE_TABLES)}")
    available = _available_after_sources(tm)
    for i, col in enumerate(tm.record_id_columns):
        if col not in available:
            key = f"{base}.record_id" + ("" if isinstance(tm.record_id, str) else f".{i}")
            raise _problem(file, key, f"unknown column {col!r}; available: {_shown(available)}")
    for i, step in enumerate(tm.steps):
        where = f"{base}.steps.{i}"
        for param, col in step.reads():
            if col not in available:
                raise _problem(file, f"{where}.{param}", f"{step.type}: unknown column {col!r}; available here: {_shown(available)}")
        for old, new in step.renames().items():
            if is_hidden(new) or (new in available and new != old):
                raise _problem(file, f"{where}.columns.{old}", f"rename target {new!r} already exists")
        for col in step.writes():
            if is_hidden(col):
                raise _problem(file, where, f"{step.type}: {col!r} is reserved for the build")
        if isinstance(step, LookupStep):
            _validate_lookup(name, step, mapping, file, where)
        renamed = step.renames()
        available = {renamed.get(c, c) for c in available} | set(step.writes())
    contract = SILVER_TABLES[name].names
    never = [c for c in contract if c not in available]
    if never:
        raise _problem(file, f"{base}.steps", f"silver column(s) never produced by the steps: {', '.join(never)}")
    for i, col in enumerate(tm.primary_key or []):
        if col not in contract:
            raise _problem(file, f"{base}.primary_key.{i}", f"{col!r} is not a column of silver table {name}")


def _validate_lookup(name: str, step: LookupStep, mapping: MappingConfig, file: str, where: str) -> None:
    if step.table not in SILVER_TABLES or step.table == FX_TABLE:
        raise _problem(file, f"{where}.table", f"lookup: unknown silver table {step.table!r}")
    if step.table == name:
        raise _problem(file, f"{where}.table", "lookup: a table cannot look itself up")
    remote = SILVER_TABLES[step.table].names
    if step.remote_key not in remote:
        raise _problem(file, f"{where}.key", f"lookup: {step.table} has no column {step.remote_key!r}")
    for target, col in step.columns.items():
        if col not in remote:
            raise _problem(file, f"{where}.columns.{target}", f"lookup: {step.table} has no column {col!r}")


def _dependencies(tm: TableMapping) -> Iterator[tuple[int, str]]:
    for i, step in enumerate(tm.steps):
        table = step.lookup_table()
        if table:
            yield i, table


def live_columns(steps: list[Step], keep: set[str]) -> list[set[str]]:
    """For each step, the columns it or any later step still needs (plus `keep` at the end).

    The build drops every other column before each step, so the bronze fields
    nobody maps are never carried through filters and copies.
    """
    live = set(keep)
    before: list[set[str]] = []
    for step in reversed(steps):
        renames = step.renames()
        if renames:
            back = {new: old for old, new in renames.items()}
            live = {back.get(c, c) for c in live if not (c in renames and c not in back)}
        else:
            live -= set(step.writes())
        live |= {col for _, col in step.reads()}
        before.append(set(live))
    return before[::-1]


def table_order(mapping: MappingConfig, file: str = "<mapping>") -> list[str]:
    """Silver tables in build order: every lookup target is built before its users."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = " -> ".join(path[path.index(name) :] + [name])
            raise _problem(file, f"tables.{path[-1]}.steps", f"lookups form a cycle: {cycle}")
        state[name] = "active"
        for _, dep in _dependencies(mapping.tables[name]):
            if dep in mapping.tables:
                visit(dep, path + [name])
        state[name] = "done"
        order.append(name)

    for name in MAPPED_TABLES:
        if name in mapping.tables:
            visit(name, [])
    return order


def load_mapping(path: Path) -> MappingConfig:
    """Read and fully validate the mapping config; ConfigError names file, key and problem."""
    mapping = load_config(Path(path), MappingConfig)
    validate_mapping(mapping, str(path))
    return mapping
