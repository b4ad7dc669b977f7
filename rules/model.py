"""Rule files -> a validated, immutable `RuleSet`.

Rule files are YAML (or JSON) that analysts edit; this module is the gate
they pass before any account is evaluated.  Everything is checked on load:
the file parses, keys are known, each rule's id is unique across the set,
every condition names known fields with operators and values of the right
type, every message placeholder exists, every impact expression is valid.
The first problem raises `RuleError` (a `ConfigError`) naming the file, the
rule id and the problem, so a bad edit stops a pipeline run before anything
is written and a running server keeps its last good rules (`RuleSetHolder`).

File layout (see docs/rules.md for the full reference)::

    version: 3                       # integer, bumped on every change
    parameters: {...}                # optional; see `Parameters`
    rules:
      - id: CHURN_RISK
        name: Churn risk
        kind: alert                  # or recommendation
        category: Retention
        enabled: true
        condition: {...}             # optional base condition
        levels:                      # first level whose `when` holds wins
          - {severity: HIGH, when: {churn_risk: {gte: 70}}}
          - {severity: MEDIUM, when: {churn_risk: {gte: 40}}}
        message: "Churn risk {churn_risk:.0f}/100"
        impact: arr_usd * churn_risk / 100
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from etl.errors import ConfigError
from rules.conditions import Condition, ConditionError, conjunction, fields_of, parse_condition
from rules.expressions import Expression, parse_expression
from rules.formatting import Template, parse_template

SEVERITIES = ("HIGH", "MEDIUM", "LOW")
SEVERITY_RANK = {"HIGH": 3, "MEDIUM": 2, "LOW": 1}
KINDS = ("alert", "recommendation")
CATEGORIES = ("Retention", "Growth", "Support", "Billing", "Usage")
RULE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_RULES_DIR = Path(__file__).resolve().parent / "definitions"
_ID = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")

Severity = Literal["HIGH", "MEDIUM", "LOW"]


class RuleError(ConfigError):
    """A rule file problem: names the file, the rule (or '(file)') and what is wrong."""

    def __init__(self, file: str, rule_id: str | None, problem: str, path: str = ""):
        self.rule_id = rule_id
        where = f"rule {rule_id}" if rule_id else "(file)"
        super().__init__(file, f"{where}{': ' + path if path else ''}", problem)


# --------------------------------------------------------------------------- parameters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


PositiveHours = Annotated[float, Field(gt=0)]


class SlaHours(_Strict):
    """Hours a case may stay open, by priority, before it breaches its SLA."""

    CRITICAL: PositiveHours = 4
    HIGH: PositiveHours = 24
    MEDIUM: PositiveHours = 72
    LOW: PositiveHours = 120


class Parameters(_Strict):
    """Values the fact builder and the lifecycle use; a rule file may set any of them.

    The defaults are the documented business values; the shipped rule files
    spell them out so an analyst sees and edits them next to the rules.
    """

    sla_hours: SlaHours = SlaHours()
    usage_trailing_months: Annotated[int, Field(ge=2, le=24)] = 6
    segment_by: Annotated[tuple[Literal["industry", "region", "country_code"], ...], Field(strict=False)] = ("industry", "region")
    recommendation_cooldown_days: Annotated[int, Field(ge=0)] = 30
    resolved_alert_retention_days: Annotated[int, Field(ge=0)] = 90
    closed_recommendation_retention_days: Annotated[int, Field(ge=0)] = 400
    reopen_on_escalation: bool = True

    @model_validator(mode="after")
    def _keeps_what_it_needs(self) -> Parameters:
        # Closed recommendations are what the cool-down and the 90-day outcome are measured from.
        need = max(self.recommendation_cooldown_days, 90)
        if self.closed_recommendation_retention_days < need:
            raise ValueError(
                f"closed_recommendation_retention_days ({self.closed_recommendation_retention_days}) must be at least "
                f"{need}: the cool-down and the 90-day outcome are measured from closed recommendations"
            )
        return self


# --------------------------------------------------------------------------- raw file shape


class _RawLevel(_Strict):
    severity: Severity | None = None
    priority: Severity | None = None
    when: dict[str, Any] | None = None


class _RawRule(_Strict):
    id: str
    name: Annotated[str, Field(min_length=1)]
    kind: Literal["alert", "recommendation"]
    category: Literal["Retention", "Growth", "Support", "Billing", "Usage"]
    enabled: bool = True
    description: str | None = None
    condition: dict[str, Any] | None = None
    levels: Annotated[list[_RawLevel], Field(min_length=1)] | None = None
    severity: Severity | None = None
    priority: Severity | None = None
    message: str
    action: str | None = None
    expected_outcome: str | None = None
    impact: str | float | None = None
    cooldown_days: Annotated[int, Field(ge=0)] | None = None


class _RawFile(_Strict):
    version: Annotated[int, Field(ge=1)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    rules: list[Any]


# --------------------------------------------------------------------------- the validated model


@dataclass(frozen=True)
class Level:
    severity: str  # HIGH / MEDIUM / LOW: an alert's severity or a recommendation's priority
    when: Condition | None  # None: always (given the rule's condition)


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    category: str
    enabled: bool
    condition: Condition | None
    levels: tuple[Level, ...]
    message: Template
    action: Template | None
    expected_outcome: Template | None
    impact: Expression | None
    cooldown_days: int | None
    description: str | None
    source: str  # file the rule came from
    version: int  # that file's version

    def level_condition(self, index: int) -> Condition | None:
        """The full test for level `index`: the rule's condition AND the level's `when`."""
        return conjunction(self.condition, self.levels[index].when)

    @property
    def fields(self) -> set[str]:
        """Every fact the rule reads: conditions, templates and impact."""
        out: set[str] = set()
        for cond in (self.condition, *(lv.when for lv in self.levels)):
            if cond is not None:
                out |= fields_of(cond)
        for tpl in (self.message, self.action, self.expected_outcome):
            if tpl is not None:
                out |= tpl.fields
        if self.impact is not None:
            out |= set(self.impact.fields)
        return out


@dataclass(frozen=True)
class RuleSource:
    path: str
    version: int
    sha256: str


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    parameters: Parameters
    sources: tuple[RuleSource, ...]
    # Per-ruleset caches (the compiled durable-rules engine); never part of equality.
    _cache: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    @property
    def fingerprint(self) -> str:
        """Changes whenever any file's content changes: what RuleSetHolder compares."""
        return hashlib.sha256("".join(s.sha256 for s in self.sources).encode()).hexdigest()[:16]

    @property
    def version(self) -> str:
        """One label for the whole set, e.g. 'alerts.yaml@3+recommendations.yaml@2'."""
        return "+".join(f"{Path(s.path).name}@{s.version}" for s in self.sources)

    @property
    def fields(self) -> set[str]:
        out = {"account_id"}
        for rule in self.active:
            out |= rule.fields
        return out

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


# --------------------------------------------------------------------------- reading files


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a rule file must not."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _parse_file(path: Path) -> tuple[Any, str]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError(file, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(file, None, f"unreadable: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates), text
        except json.JSONDecodeError as exc:
            raise RuleError(file, None, f"unparseable JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except ValueError as exc:
            raise RuleError(file, None, f"unparseable JSON: {exc}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader), text  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError(file, None, f"unparseable YAML{where}: {problem}") from None


def _pydantic_problem(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return loc, f"unknown key {err['loc'][-1]!r}"
    if err["type"] == "missing":
        return loc, "required key is missing"
    if err["type"] in ("literal_error", "enum"):
        return loc, f"{err['msg']}, got {err.get('input')!r}"
    return loc, f"wrong type or value: {err['msg']}, got {err.get('input')!r}"


def _rule_from_raw(raw: Any, index: int, file: str, version: int) -> Rule:
    rule_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{index + 1}"
    if not isinstance(raw, dict):
        raise RuleError(file, rule_id, f"a rule must be a mapping, got {raw!r}")
    try:
        r = _RawRule.model_validate(raw)
    except ValidationError as exc:
        loc, problem = _pydantic_problem(exc)
        if exc.errors()[0]["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(exc.errors()[0]["loc"][-1]), _RawRule.model_fields, n=1)
            problem += f" (did you mean {close[0]!r}?)" if close else ""
        raise RuleError(file, rule_id, problem, loc) from None
    if not _ID.match(r.id):
        raise RuleError(file, rule_id, "id must be upper-case letters, digits and _ (e.g. CHURN_RISK, R001)", "id")
    word = "severity" if r.kind == "alert" else "priority"
    other = "priority" if r.kind == "alert" else "severity"

    def fail(path: str, problem: str) -> RuleError:
        return RuleError(file, r.id, problem, path)

    if getattr(r, other) is not None:
        raise fail(other, f"{r.kind} rules take {word!r}, not {other!r}")
    if r.kind == "alert":
        for key in ("action", "expected_outcome", "cooldown_days"):
            if getattr(r, key) is not None:
                raise fail(key, "applies to recommendation rules only")
    else:
        for key in ("action", "expected_outcome", "impact"):
            if getattr(r, key) is None:
                raise fail(key, "required key is missing (recommendations need action, expected_outcome and impact)")
    try:
        condition = parse_condition(r.condition, "condition") if r.condition is not None else None
        if (r.levels is None) == (getattr(r, word) is None):
            raise ConditionError(word, f"give either {word!r} (one level) or 'levels', not both and not neither")
        levels: list[Level] = []
        if r.levels is None:
            levels.append(Level(getattr(r, word), None))
        else:
            for i, lv in enumerate(r.levels):
                if getattr(lv, other) is not None:
                    raise ConditionError(f"levels[{i}].{other}", f"{r.kind} levels take {word!r}, not {other!r}")
                level_severity = getattr(lv, word)
                if level_severity is None:
                    raise ConditionError(f"levels[{i}].{word}", "required key is missing")
                when = parse_condition(lv.when, f"levels[{i}].when") if lv.when is not None else None
                if when is None and i < len(r.levels) - 1:
                    raise ConditionError(f"levels[{i}]", "a level without 'when' always matches, so the levels after it could never fire")
                levels.append(Level(level_severity, when))
        if condition is None and levels[0].when is None:
            raise ConditionError("condition", "the rule has no condition at all: it would fire for every account")
        message = parse_template(r.message, "message")
        action = parse_template(r.action, "action") if r.action is not None else None
        outcome = parse_template(r.expected_outcome, "expected_outcome") if r.expected_outcome is not None else None
        impact = parse_expression(r.impact, "impact") if r.impact is not None else None
    except ConditionError as exc:
        raise RuleError(file, r.id, exc.problem, exc.path) from None
    return Rule(
        id=r.id,
        name=r.name,
        kind=r.kind,
        category=r.category,
        enabled=r.enabled,
        condition=condition,
        levels=tuple(levels),
        message=message,
        action=action,
        expected_outcome=outcome,
        impact=impact,
        cooldown_days=r.cooldown_days,
        description=r.description,
        source=file,
        version=version,
    )


def rule_files(path_or_dir: Path) -> list[Path]:
    """The files a path names: itself, or the rule files directly in a directory (sorted)."""
    path = Path(path_or_dir)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in RULE_FILE_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise RuleError(str(path), None, f"no rule files ({', '.join(RULE_FILE_SUFFIXES)}) in this directory")
        return files
    if path.suffix not in RULE_FILE_SUFFIXES and path.exists():
        raise RuleError(str(path), None, f"not a rule file: expected one of {', '.join(RULE_FILE_SUFFIXES)}")
    return [path]


def load_rules(path_or_dir: Path) -> RuleSet:
    """Read and validate one rule file or every rule file in a directory.

    Raises `RuleError` (a ConfigError) on the first problem, naming the file,
    the rule id and what is wrong; returns an immutable RuleSet otherwise.
    """
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    params: dict[str, tuple[Any, str]] = {}
    sources: list[RuleSource] = []
    for path in rule_files(Path(path_or_dir)):
        file = str(path)
        doc, text = _parse_file(path)
        if not isinstance(doc, dict):
            raise RuleError(file, None, "the top level must be a mapping with 'version' and 'rules'")
        try:
            raw = _RawFile.model_validate(doc)
        except ValidationError as exc:
            loc, problem = _pydantic_problem(exc)
            raise RuleError(file, None, problem, loc) from None
        for key, value in (raw.parameters or {}).items():
            if key in params and params[key][0] != value:
                raise RuleError(file, None, f"parameter {key!r} is also set, differently, in {params[key][1]}", f"parameters.{key}")
            params[key] = (value, file)
        for i, item in enumerate(raw.rules):
            rule = _rule_from_raw(item, i, file, raw.version)
            if rule.id in seen:
                raise RuleError(file, rule.id, f"duplicate id: also defined in {seen[rule.id]}", "id")
            seen[rule.id] = file
            rules.append(rule)
        sources.append(RuleSource(file, raw.version, hashlib.sha256(text.encode()).hexdigest()))
    for rule in rules:
        retention = params.get("closed_recommendation_retention_days", (Parameters().closed_recommendation_retention_days, ""))[0]
        if rule.cooldown_days is not None and isinstance(retention, int) and rule.cooldown_days > retention:
            raise RuleError(rule.source, rule.id, f"cooldown_days ({rule.cooldown_days}) exceeds closed_recommendation_retention_days ({retention})", "cooldown_days")
    try:
        parameters = Parameters.model_validate({k: v for k, (v, _) in params.items()})
    except ValidationError as exc:
        loc, problem = _pydantic_problem(exc)
        first = loc.split(".")[0]
        file = params[first][1] if first in params else next((f for _, f in params.values()), str(path_or_dir))
        raise RuleError(file, None, problem.removeprefix("wrong type or value: Value error, "), "parameters" + (f".{loc}" if loc else "")) from None
    return RuleSet(tuple(rules), parameters, tuple(sources))
