"""Rule conditions: the small language analysts write, parsed into a typed tree.

A condition in a rule file is a mapping::

    {churn_risk: {gte: 70}}                        # one field, one test
    {arr_usd: {gt: 100000}, churn_level: HIGH}     # several fields: all must hold
    {days_to_contract_end: {between: [0, 90]}}     # inclusive range
    {last_qbr_date: {is_null: true}}               # null check
    {active_services: {lt: {field: segment_median_active_services}}}  # field against field
    {all: [...]} / {any: [...]} / {not: {...}}     # and / or / not

Semantics (the same in both evaluation paths): a test on a null value is
false - except ``is_null`` - and ``not`` is plain boolean negation, so
``not: {churn_risk: {gte: 70}}`` holds for an account with no churn risk.

The tree is checked against the field catalogue while it is parsed: an
unknown field, an unknown operator or a value of the wrong type raises
`ConditionError` with the path inside the rule, which the loader turns into
a `ConfigError` naming the file and the rule.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Union

from rules.fields import FIELDS, FieldType

Scalar = Union[float, int, str, bool]

COMPARISONS = ("eq", "ne", "lt", "lte", "gt", "gte")
OPERATORS = (*COMPARISONS, "between", "in", "is_null")
SYMBOLS = {"eq": "=", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# Which tests each field type supports.
ALLOWED_OPS: dict[FieldType, tuple[str, ...]] = {
    "number": OPERATORS,
    "string": ("eq", "ne", "in", "is_null"),
    "boolean": ("eq", "ne", "is_null"),
    "date": ("is_null",),
}


class ConditionError(ValueError):
    """A problem at a path inside one rule (file and rule id are added by the loader)."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class FieldRef:
    """The right-hand side of a comparison naming another fact of the same account."""

    name: str


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # one of COMPARISONS
    value: Scalar | FieldRef


@dataclass(frozen=True)
class Between:
    field: str
    low: float
    high: float


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class IsNull:
    field: str
    is_null: bool


@dataclass(frozen=True)
class All:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Any:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


Leaf = Union[Compare, Between, In, IsNull]
Condition = Union[Compare, Between, In, IsNull, All, Any, Not]


# --------------------------------------------------------------------------- parsing


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, date):
        return "date"
    if value is None:
        return "null"
    return type(value).__name__


def _check_field(name: object, path: str) -> FieldType:
    if not isinstance(name, str) or name not in FIELDS:
        hint = ""
        if isinstance(name, str):
            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConditionError(path, f"unknown field {name!r}{hint}")
    return FIELDS[name].type


def _scalar(value: object, kind: FieldType, path: str, what: str) -> Scalar:
    """Check one literal against the field's type."""
    ok = {
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "date": False,
    }[kind]
    if not ok:
        hint = ""
        if kind == "number" and isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads 1e5 as text: write 100000 or 1.0e+5)"
            except ValueError:
                pass
        raise ConditionError(path, f"wrong type: {what} is a {kind} field, got {_type_name(value)} {value!r}{hint}")
    if kind == "number" and not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise ConditionError(path, f"{what}: {value!r} is not a finite number")
    return value  # type: ignore[return-value]


def _parse_test(field: str, kind: FieldType, op: object, value: object, path: str) -> Leaf:
    if op not in OPERATORS:
        close = difflib.get_close_matches(str(op), OPERATORS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConditionError(path, f"unknown operator {op!r}{hint}; expected one of {', '.join(OPERATORS)}")
    if op not in ALLOWED_OPS[kind]:
        raise ConditionError(
            path, f"wrong type: operator {op!r} does not apply to {kind} field {field!r} (allowed: {', '.join(ALLOWED_OPS[kind])})"
        )
    what = f"{field!r}"
    if op == "is_null":
        if not isinstance(value, bool):
            raise ConditionError(path, f"wrong type: is_null takes true or false, got {value!r}")
        return IsNull(field, value)
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise ConditionError(path, f"between takes a list of two numbers [low, high], got {value!r}")
        low, high = (_scalar(v, kind, path, what) for v in value)
        if low > high:  # type: ignore[operator]
            raise ConditionError(path, f"between: low {low!r} is above high {high!r}")
        return Between(field, float(low), float(high))  # type: ignore[arg-type]
    if op == "in":
        if not (isinstance(value, list) and value):
            raise ConditionError(path, f"in takes a non-empty list, got {value!r}")
        values = tuple(_scalar(v, kind, path, what) for v in value)
        return In(field, tuple(float(v) for v in values) if kind == "number" else values)  # type: ignore[arg-type]
    if isinstance(value, dict):
        if set(value) != {"field"}:
            raise ConditionError(path, f"a value mapping must be {{field: <name>}}, got {value!r}")
        ref = value["field"]
        ref_kind = _check_field(ref, path)
        if ref_kind != kind:
            raise ConditionError(path, f"wrong type: {field!r} is a {kind} field but {ref!r} is a {ref_kind} field")
        return Compare(field, op, FieldRef(ref))
    scalar = _scalar(value, kind, path, what)
    if kind == "number":
        scalar = float(scalar)  # type: ignore[arg-type]
    return Compare(field, op, scalar)


def _parse_field(field: object, tests: object, path: str) -> Condition:
    here = f"{path}.{field}"
    kind = _check_field(field, here)
    assert isinstance(field, str)
    if not isinstance(tests, dict):  # shorthand: {churn_level: HIGH}
        return _parse_test(field, kind, "eq", tests, here)
    if not tests:
        raise ConditionError(here, "no test given")
    leaves = [_parse_test(field, kind, op, value, f"{here}.{op}") for op, value in tests.items()]
    return leaves[0] if len(leaves) == 1 else All(tuple(leaves))


def parse_condition(raw: object, path: str) -> Condition:
    """Parse one condition mapping (see the module docstring); raises ConditionError."""
    if not isinstance(raw, dict) or not raw:
        raise ConditionError(path, f"a condition must be a non-empty mapping, got {_type_name(raw)} {raw!r}")
    groups = [k for k in raw if k in ("all", "any", "not")]
    if groups:
        if len(raw) != 1:
            raise ConditionError(path, f"{groups[0]!r} must be the only key of its mapping; nest it in all: [...]")
        key, body = next(iter(raw.items()))
        if key == "not":
            return Not(parse_condition(body, f"{path}.not"))
        if not isinstance(body, list) or not body:
            raise ConditionError(f"{path}.{key}", f"{key} takes a non-empty list of conditions")
        children = tuple(parse_condition(c, f"{path}.{key}[{i}]") for i, c in enumerate(body))
        return All(children) if key == "all" else Any(children)
    parts = [_parse_field(field, tests, path) for field, tests in raw.items()]
    return parts[0] if len(parts) == 1 else All(tuple(parts))


# --------------------------------------------------------------------------- inspection


def leaves(node: Condition, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
    """Every test in the tree, in order, with whether an odd number of `not`s sits above it."""
    if isinstance(node, (All, Any)):
        for child in node.children:
            yield from leaves(child, negated)
    elif isinstance(node, Not):
        yield from leaves(node.child, not negated)
    else:
        yield node, negated


def fields_of(node: Condition) -> set[str]:
    out: set[str] = set()
    for leaf, _ in leaves(node):
        out.add(leaf.field)
        if isinstance(leaf, Compare) and isinstance(leaf.value, FieldRef):
            out.add(leaf.value.name)
    return out


def conjunction(*parts: Condition | None) -> Condition | None:
    """AND of the given conditions, skipping None; None when nothing is left (always true)."""
    present = tuple(p for p in parts if p is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else All(present)


def op_label(leaf: Leaf, negated: bool) -> str:
    """The operator as shown in explanations, e.g. '>=' or 'not between'."""
    if isinstance(leaf, Compare):
        label = SYMBOLS[leaf.op]
    elif isinstance(leaf, Between):
        label = "between"
    elif isinstance(leaf, In):
        label = "in"
    else:
        label = "is null" if leaf.is_null else "is not null"
    return f"not {label}" if negated else label
