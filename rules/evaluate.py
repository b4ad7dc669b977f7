"""Evaluate a RuleSet: vectorised over all accounts, or with durable-rules for one.

Why two paths.  durable-rules is the design's rule engine and serves the
per-customer path (the API re-evaluating one account after an action or an
ingested event).  Posting a million accounts into it one by one takes ~20 s
for six rules (docs/rules.md, PERF_NOTES), so the nightly batch compiles the
*same* parsed rule definitions into numpy/Arrow boolean masks instead: one
mask per distinct test, combined per rule, for all accounts at once.
tests/rules/test_paths_agree.py checks that both give identical firings.

Semantics shared by both paths:

* a test on a null value is false (except ``is_null``); ``not`` negates;
* an alert or recommendation fires when its ``condition`` holds and at least
  one level's ``when`` holds; its severity (priority) is the first such level;
* every firing carries its explanation: each test of the rule's condition
  and of the chosen level, with field, operator, threshold, actual value and
  whether it held - structured (``conditions``) and as one line of text.

Messages, explanations and impact estimates are rendered by one vectorised
renderer for both paths (rules/formatting.py), so their text is identical.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rules.conditions import All, Any, Between, Compare, Condition, FieldRef, In, IsNull, Leaf, Not, leaves, op_label
from rules.fields import FIELDS
from rules.firing import Firing, firings_from_table
from rules.formatting import Columns, format_array, format_scalar, render_template
from rules.model import Rule, RuleSet
from rules.schemas import CONDITION_STRUCT, CONDITIONS, FIRINGS_SCHEMA, to_pandas

_NUMPY_OPS = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "gt": np.greater,
    "gte": np.greater_equal,
}
_ARROW_OPS = {"eq": pc.equal, "ne": pc.not_equal}


class MaskEvaluator:
    """Boolean masks over all rows for conditions, each distinct test computed once."""

    def __init__(self, columns: Columns):
        self.columns = columns
        self._cache: dict[Leaf, np.ndarray] = {}

    def _arrow_mask(self, result: pa.Array) -> np.ndarray:
        return pc.fill_null(result, False).to_numpy(zero_copy_only=False)

    def _leaf(self, leaf: Leaf) -> np.ndarray:
        cols = self.columns
        kind = FIELDS[leaf.field].type
        if isinstance(leaf, IsNull):
            nulls = cols.array(leaf.field).is_null().to_numpy(zero_copy_only=False)
            return nulls if leaf.is_null else ~nulls
        if kind == "number":
            x = cols.numbers(leaf.field)
            known = ~np.isnan(x)
            with np.errstate(invalid="ignore"):
                if isinstance(leaf, Between):
                    return known & (x >= leaf.low) & (x <= leaf.high)
                if isinstance(leaf, In):
                    return known & np.isin(x, np.array(leaf.values, dtype=np.float64))
                assert isinstance(leaf, Compare)
                if isinstance(leaf.value, FieldRef):
                    y = cols.numbers(leaf.value.name)
                    return known & ~np.isnan(y) & _NUMPY_OPS[leaf.op](x, y)
                return known & _NUMPY_OPS[leaf.op](x, leaf.value)
        arr = cols.array(leaf.field)
        if isinstance(leaf, In):
            return self._arrow_mask(pc.is_in(arr, value_set=pa.array(leaf.values, arr.type)))
        assert isinstance(leaf, Compare)
        other = cols.array(leaf.value.name) if isinstance(leaf.value, FieldRef) else pa.scalar(leaf.value, arr.type)
        return self._arrow_mask(_ARROW_OPS[leaf.op](arr, other))

    def leaf(self, leaf: Leaf) -> np.ndarray:
        if leaf not in self._cache:
            self._cache[leaf] = self._leaf(leaf)
        return self._cache[leaf]

    def mask(self, cond: Condition | None) -> np.ndarray:
        if cond is None:
            return np.ones(self.columns.n, dtype=bool)
        if isinstance(cond, All):
            out = self.mask(cond.children[0])
            for child in cond.children[1:]:
                out = out & self.mask(child)
            return out
        if isinstance(cond, Any):
            out = self.mask(cond.children[0])
            for child in cond.children[1:]:
                out = out | self.mask(child)
            return out
        if isinstance(cond, Not):
            return ~self.mask(cond.child)
        return self.leaf(cond)

    def chosen_levels(self, rule: Rule) -> np.ndarray:
        """Per row, the index of the first level that holds (-1: the rule does not fire)."""
        chosen = np.full(self.columns.n, -1, dtype=np.int64)
        open_rows = self.mask(rule.condition)
        for i, level in enumerate(rule.levels):
            hit = open_rows & self.mask(level.when)
            chosen[hit] = i
            open_rows = open_rows & ~hit
        return chosen


# --------------------------------------------------------------------------- rendering


def _threshold_text(leaf: Leaf, columns: Columns, take: pa.Array) -> pa.Array | str:
    """A test's threshold as text: constant, or per row when it is another field ('field (value)')."""
    kind = FIELDS[leaf.field].type
    if isinstance(leaf, IsNull):
        return ""
    if isinstance(leaf, Between):
        return f"{format_scalar(leaf.low, kind)} and {format_scalar(leaf.high, kind)}"
    if isinstance(leaf, In):
        return ", ".join(format_scalar(v, kind) for v in leaf.values)
    if isinstance(leaf.value, FieldRef):
        ref = leaf.value.name
        values = format_array(columns.array(ref).take(take), FIELDS[ref].type)
        return pc.binary_join_element_wise(pa.scalar(f"{ref} ("), values, pa.scalar(")"), "")
    return format_scalar(leaf.value, kind)


def _op_text(op: str, threshold: pa.Array | str) -> pa.Array | str:
    """' (>= 70', ' (is null', or per row ' (< segment_median_active_services (3)'."""
    if isinstance(threshold, str):
        return f" ({op} {threshold}" if threshold else f" ({op}"
    return pc.binary_join_element_wise(pa.scalar(f" ({op} "), threshold, "")


def _interleave(per_leaf: list[pa.Array | str], n: int) -> pa.Array:
    """k columns of n values -> n*k values row-major (row 0's k values, then row 1's, ...)."""
    k = len(per_leaf)
    if all(isinstance(v, str) for v in per_leaf):  # constants: a dictionary lookup, no string take
        indices = pa.array(np.tile(np.arange(k, dtype=np.int32), n))
        return pa.DictionaryArray.from_arrays(indices, pa.array(per_leaf, pa.string())).dictionary_decode()
    arrays = [v if isinstance(v, pa.Array) else pa.repeat(pa.scalar(v), n) for v in per_leaf]
    if k == 1:
        return arrays[0]
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()
    return pa.concat_arrays(arrays).take(pa.array(order))


def _explain(evaluator: MaskEvaluator, rule: Rule, level: int, rows: np.ndarray, take: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The structured conditions (list<struct>) and the one-line explanation of each firing row."""
    cols, n = evaluator.columns, len(rows)
    severity = rule.levels[level].severity
    cond = rule.level_condition(level)
    checks = list(leaves(cond)) if cond is not None else []
    k = len(checks)
    if k == 0:  # unreachable for loaded rules (a rule needs a condition), kept total for safety
        empty = pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], CONDITION_STRUCT), type=CONDITIONS)
        return empty, pa.repeat(pa.scalar(f"{rule.id} {severity}: always"), n)
    ops = [op_label(leaf, negated) for leaf, negated in checks]
    thresholds = [_threshold_text(leaf, cols, take) for leaf, _ in checks]
    actual = [format_array(cols.array(leaf.field).take(take), FIELDS[leaf.field].type) for leaf, _ in checks]
    met = np.empty((n, k), dtype=bool)
    for j, (leaf, negated) in enumerate(checks):
        held = evaluator.leaf(leaf)[rows]
        met[:, j] = ~held if negated else held
    met_flat = pa.array(met.ravel())
    actual_flat = _interleave(actual, n)
    threshold_flat = _interleave(thresholds, n)
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    structs = pa.StructArray.from_arrays(
        [_interleave([leaf.field for leaf, _ in checks], n), _interleave(ops, n), threshold_flat, actual_flat, met_flat],
        fields=list(CONDITION_STRUCT),
    )
    conditions = pa.ListArray.from_arrays(offsets, structs, type=CONDITIONS)
    # "churn_risk is 75 (>= 70: met)" per test, joined with "; " per firing.
    heads = _interleave([f"{leaf.field} is " for leaf, _ in checks], n)
    rule_parts = _interleave([_op_text(op, t) for op, t in zip(ops, thresholds)], n)
    outcome = pc.if_else(met_flat, ": met)", ": not met)")
    texts = pc.binary_join_element_wise(heads, actual_flat, rule_parts, outcome, "")
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, texts), "; ")
    return conditions, pc.binary_join_element_wise(pa.scalar(f"{rule.id} {severity}: "), joined, "")


def render_firings(evaluator: MaskEvaluator, rule: Rule, level: int, rows: np.ndarray) -> pa.Table:
    """The firing rows of one rule at one level, with messages and explanations (FIRINGS_SCHEMA)."""
    cols, n = evaluator.columns, len(rows)
    take = pa.array(rows, pa.int64())
    severity = rule.levels[level].severity
    extras = {"severity": severity, "rule_id": rule.id, "rule_name": rule.name}
    conditions, explanation = _explain(evaluator, rule, level, rows, take)

    def template(tpl) -> pa.Array:
        return render_template(tpl, cols, rows, extras) if tpl is not None else pa.nulls(n, pa.string())

    if rule.impact is not None:
        impact_values = rule.impact.evaluate(lambda f: cols.numbers(f)[rows], n)
        impact = pa.array(impact_values, pa.float64(), mask=np.isnan(impact_values))
    else:
        impact = pa.nulls(n, pa.float64())

    def const(value: object, kind: pa.DataType = pa.string()) -> pa.Array:
        return pa.repeat(pa.scalar(value, kind), n)

    return pa.Table.from_arrays(
        [
            cols.array("account_id").take(take),
            const(rule.id),
            const(rule.name),
            const(rule.kind),
            const(rule.category),
            const(severity),
            template(rule.message),
            template(rule.action),
            template(rule.expected_outcome),
            impact,
            explanation,
            conditions,
            const(rule.version, pa.int64()),
        ],
        schema=FIRINGS_SCHEMA,
    )


# --------------------------------------------------------------------------- entry points


def evaluate_batch(facts: pd.DataFrame, ruleset: RuleSet) -> pd.DataFrame:
    """Every enabled rule over every account at once: one row per firing (FIRINGS_SCHEMA).

    `facts` holds one row per account with every field the rules read (the
    output of `build_rule_facts`).  Rows come out by rule (file order), then
    level, then in the facts' account order.  Vectorised: the work per rule
    and level is a few array operations over all its firing rows, never a
    loop over accounts.
    """
    evaluator = MaskEvaluator(Columns.from_frame(facts, ruleset.fields))
    tables = []
    for rule in ruleset.active:
        chosen = evaluator.chosen_levels(rule)
        for level in range(len(rule.levels)):
            rows = np.flatnonzero(chosen == level)
            if len(rows):
                tables.append(render_firings(evaluator, rule, level, rows))
    if not tables:
        return to_pandas(FIRINGS_SCHEMA.empty_table())
    return to_pandas(pa.concat_tables(tables))


def evaluate_customer(facts: Mapping[str, object], ruleset: RuleSet) -> list[Firing]:
    """Re-evaluate every enabled rule for one customer with durable-rules.

    `facts` is that customer's row of rule facts (metrics + `build_rule_facts`
    columns) as a mapping; missing fields raise DataError, null values are
    null.  durable-rules decides which rules and levels match; the firings
    are then rendered exactly as in the batch path.
    """
    from rules.engine import engine_for  # durable-rules is only needed on this path

    columns = Columns.from_mapping(facts, ruleset.fields)
    matched = engine_for(ruleset).matches(columns)
    evaluator = MaskEvaluator(columns)
    tables = []
    for index, rule in enumerate(ruleset.active):
        levels = matched.get(index)
        if levels:
            tables.append(render_firings(evaluator, rule, min(levels), np.zeros(1, dtype=np.int64)))
    if not tables:
        return []
    return firings_from_table(pa.concat_tables(tables))
