"""The durable-rules engine behind `evaluate_customer`.

Each (rule, level) of a RuleSet becomes one durable-rules rule whose single
pattern is the rule's condition AND the level's ``when``, compiled to
durable's JSON condition language.  The customer is asserted as a *fact*,
not posted as an event: durable-rules consumes an event with the first rule
that matches it, while a fact is matched by every rule (see PERF_NOTES), and
all matching rules must fire.  The first matching level per rule is chosen
afterwards, exactly as the batch path does.

Measured durable-rules behaviours this compilation relies on (each is
covered by tests/rules/test_paths_agree.py):

* The session state is itself a fact, so a bare ``$nex`` would match it and
  loop: every pattern is anchored on a marker field ``_c360`` only account
  facts carry.
* ``$lt``/``$gt``/``$neq``... on a missing field do not match, like our
  "a test on null is false"; null facts are therefore left out of the fact.
* A comparison against another field (``{"$m": name}``) *does* match when
  that other field is missing, so both fields are required explicitly.
* There is no ``not``: negation is pushed down to the tests (De Morgan),
  where "not (x >= 70)" becomes "x < 70 or x is missing".

* Its JSON parser rejects ``1e-09`` and ``1e+20`` (it wants ``1.0e-09``), so
  definitions and facts are serialised by `_dumps`.
* Deleting a session whose first fact matched nothing crashes the process,
  so one session is reused: each evaluation asserts the customer and
  retracts it afterwards, and the engine holds no state between customers.

The engine is not thread-safe, so evaluations are serialised with a lock;
the host's background dispatch threads are not started (actions run
synchronously inside ``assert_fact``).
"""

from __future__ import annotations

import json
import math
import threading
import types

from durable import engine as durable

from rules.conditions import All, Any, Between, Compare, Condition, FieldRef, In, IsNull, Leaf, Not, fields_of
from rules.fields import FIELDS
from rules.formatting import Columns
from rules.model import RuleSet

MARKER = "_c360"
RULESET_NAME = "c360"
SESSION = "customer"
_DURABLE_OPS = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_NEGATED_OPS = {"eq": "ne", "ne": "eq", "lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}
_MAX_FLOAT = 1.7976931348623157e308  # JSON has no infinity; this compares the same with any finite threshold


def _number(value: float) -> str:
    """A float as JSON that durable-rules' own parser reads: it needs a '.' before any exponent.

    Python writes 1e-09 and 1e+20; durable-rules rejects both (error 204,
    measured with 2.0.28) but reads 1.0e-09 and 1.0e+20.
    """
    if not math.isfinite(value):
        raise ValueError(f"durable-rules cannot hold the non-finite number {value!r}")
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _dumps(obj: object, **_: object) -> str:
    """json.dumps for the plain structures durable-rules serialises (definitions and facts)."""
    if obj is None or isinstance(obj, bool):
        return json.dumps(obj)
    if isinstance(obj, float):
        return _number(obj)
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot serialise {type(obj).__name__} for durable-rules")


# durable.engine serialises every definition and fact with its module-level `json`;
# give it one whose numbers its parser accepts (see _number).
durable.json = types.SimpleNamespace(dumps=_dumps, loads=json.loads)


def _any(parts: list[dict]) -> dict:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _all(parts: list[dict]) -> dict:
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _exists(field: str) -> dict:
    return {"$ex": {field: 1}}


def _missing(field: str) -> dict:
    return {"$nex": {field: 1}}


def _compare(field: str, op: str, value: object) -> dict:
    if isinstance(value, FieldRef):
        ref = {"$m": value.name}
        test = {field: ref} if op == "eq" else {_DURABLE_OPS[op]: {field: ref}}
        return _all([_exists(field), _exists(value.name), test])
    return {field: value} if op == "eq" else {_DURABLE_OPS[op]: {field: value}}


def _leaf(leaf: Leaf, negate: bool) -> dict:
    f = leaf.field
    if isinstance(leaf, IsNull):
        return _missing(f) if leaf.is_null != negate else _exists(f)
    if isinstance(leaf, Between):
        if not negate:
            return _all([{"$gte": {f: leaf.low}}, {"$lte": {f: leaf.high}}])
        return _any([{"$lt": {f: leaf.low}}, {"$gt": {f: leaf.high}}, _missing(f)])
    if isinstance(leaf, In):
        if not negate:
            return _any([{f: v} for v in leaf.values])
        return _any([_all([{"$neq": {f: v}} for v in leaf.values]), _missing(f)])
    assert isinstance(leaf, Compare)
    if not negate:
        return _compare(f, leaf.op, leaf.value)
    nulls = [_missing(f)] + ([_missing(leaf.value.name)] if isinstance(leaf.value, FieldRef) else [])
    return _any([_compare(f, _NEGATED_OPS[leaf.op], leaf.value), *nulls])


def to_durable(cond: Condition, negate: bool = False) -> dict:
    """A condition tree as a durable-rules JSON expression, with `not` pushed down to the tests."""
    if isinstance(cond, Not):
        return to_durable(cond.child, not negate)
    if isinstance(cond, (All, Any)):
        parts = [to_durable(c, negate) for c in cond.children]
        conjunctive = isinstance(cond, All) != negate
        return _all(parts) if conjunctive else _any(parts)
    return _leaf(cond, negate)


class _QuietHost(durable.Host):
    """A host without the background dispatch threads: actions run inside assert_fact."""

    def _run(self) -> None:
        return None


class DurableEngine:
    """One compiled RuleSet: `matches(columns)` -> {rule index: {level indexes that match}}."""

    def __init__(self, ruleset: RuleSet):
        self._lock = threading.Lock()
        self._fired: list[tuple[int, int]] = []
        self._condition_fields: set[str] = set()
        definitions: dict[str, dict] = {}
        for r, rule in enumerate(ruleset.active):
            for lv in range(len(rule.levels)):
                cond = rule.level_condition(lv)
                pattern = {MARKER: 1} if cond is None else _all([{MARKER: 1}, to_durable(cond)])
                definitions[f"{rule.id}.{lv}"] = {"all": [{"m": pattern}], "run": self._action(r, lv)}
                if cond is not None:
                    self._condition_fields |= fields_of(cond)
        self.definitions = definitions
        self._host = self._new_host()

    def _new_host(self) -> _QuietHost:
        # durable-rules mutates the definitions it is given; hand it a copy each time.
        return _QuietHost({RULESET_NAME: {name: dict(d) for name, d in self.definitions.items()}})

    def _action(self, rule_index: int, level: int):
        def run(c: object) -> None:
            self._fired.append((rule_index, level))

        return run

    def fact(self, columns: Columns, row: int = 0) -> dict[str, object]:
        """The account as a durable-rules fact: condition fields only, nulls left out."""
        fact: dict[str, object] = {MARKER: 1}
        for name in sorted(self._condition_fields):
            value = columns.python_value(name, row)
            if value is None:
                continue
            kind = FIELDS[name].type
            if kind == "number":
                value = float(value)  # type: ignore[arg-type]
                if math.isinf(value):
                    value = math.copysign(_MAX_FLOAT, value)
            elif kind == "date":
                value = value.isoformat()  # type: ignore[attr-defined]  # only ever tested for null
            fact[name] = value
        return fact

    def matches(self, columns: Columns, row: int = 0) -> dict[int, set[int]]:
        """Assert the account, collect the (rule, level) actions that ran, retract it again.

        One session id is reused: deleting a durable-rules session whose
        first fact matched nothing crashes the engine (measured with
        durable-rules 2.0.28), while assert + retract keeps the session
        empty between customers at ~40 us per evaluation and flat memory.
        """
        fact = self.fact(columns, row)
        fact["sid"] = SESSION
        with self._lock:
            self._fired = []
            try:
                self._host.assert_fact(RULESET_NAME, fact)
            except durable.MessageNotHandledException:
                pass  # no rule matched
            finally:
                try:
                    self._host.retract_fact(RULESET_NAME, fact)
                except Exception:  # noqa: BLE001 - never carry a stale fact into the next customer
                    self._host = self._new_host()
            fired = self._fired
        out: dict[int, set[int]] = {}
        for rule_index, level in fired:
            out.setdefault(rule_index, set()).add(level)
        return out


_ENGINE_LOCK = threading.Lock()


def engine_for(ruleset: RuleSet) -> DurableEngine:
    """The ruleset's compiled engine, built on first use and cached on the ruleset."""
    with _ENGINE_LOCK:
        engine = ruleset._cache.get("durable")
        if engine is None:
            engine = DurableEngine(ruleset)
            ruleset._cache["durable"] = engine
        return engine  # type: ignore[return-value]
