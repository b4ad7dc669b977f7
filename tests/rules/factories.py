"""Hand-made fact frames for the rule tests: every catalogue field present, nulls unless given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np
import pandas as pd

from rules.conditions import Between, Compare, In, leaves
from rules.fields import FIELDS, GOLD_FIELDS
from rules.model import RuleSet

AS_OF = date(2026, 10, 31)


def _column(name: str, values: list[object]) -> pd.Series:
    kind = FIELDS[name].type
    if kind == "number":
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if kind == "string":
        return pd.Series(values, dtype="str")
    if kind == "boolean":
        return pd.Series(values, dtype="boolean")
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[s]")


def facts_frame(rows: Iterable[Mapping[str, object]], fields: Iterable[str] = FIELDS) -> pd.DataFrame:
    """One row per mapping; account_id defaults to A<n>; every other field null unless given."""
    rows = [dict(r) for r in rows]
    for i, r in enumerate(rows):
        r.setdefault("account_id", f"A{i:04d}")
    return pd.DataFrame({name: _column(name, [r.get(name) for r in rows]) for name in fields})


def metrics_frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """A gold metrics frame (gold columns only) for build_rule_facts tests."""
    return facts_frame(rows, GOLD_FIELDS)


def boundary_values(ruleset: RuleSet) -> dict[str, list[object]]:
    """Per field, values that sit on and around every threshold the rules use, plus null."""
    out: dict[str, set] = {}
    for rule in ruleset.rules:
        conds = [rule.condition, *(lv.when for lv in rule.levels)]
        for cond in conds:
            if cond is None:
                continue
            for leaf, _ in leaves(cond):
                vals = out.setdefault(leaf.field, set())
                if isinstance(leaf, Compare) and not hasattr(leaf.value, "name"):
                    v = leaf.value
                    vals.add(v)
                    if isinstance(v, float):
                        vals |= {v - 1, v + 1, v - 1e-9, v + 1e-9, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)}
                elif isinstance(leaf, Between):
                    for v in (leaf.low, leaf.high):
                        vals |= {v, v - 1, v + 1, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)}
                elif isinstance(leaf, In):
                    vals |= set(leaf.values)
    result: dict[str, list[object]] = {}
    for name, vals in out.items():
        kind = FIELDS[name].type
        if kind == "string":
            vals |= {"HIGH", "MEDIUM", "LOW", "X"}
        if kind == "boolean":
            vals |= {True, False}
        if kind == "number":
            vals |= {0.0, -5.0, 1e9}
        if kind == "date":
            vals |= {AS_OF}
        result[name] = sorted(vals, key=repr) + [None]
    return result


def random_facts(ruleset: RuleSet, n: int, seed: int) -> pd.DataFrame:
    """n accounts whose tested fields take boundary values (and nulls) at random."""
    rng = np.random.default_rng(seed)
    values = boundary_values(ruleset)
    rows = []
    for i in range(n):
        row: dict[str, object] = {"account_id": f"R{i:05d}", "account_name": f"Account {i}"}
        for name in FIELDS:
            if name in values:
                options = values[name]
                row[name] = options[rng.integers(len(options))]
            elif FIELDS[name].type == "number":
                row[name] = None if rng.random() < 0.1 else float(rng.integers(0, 200))
            elif FIELDS[name].type == "date":
                row[name] = None if rng.random() < 0.2 else AS_OF
            elif FIELDS[name].type == "string" and name not in row:
                row[name] = None if rng.random() < 0.2 else f"{name[:3]}-{rng.integers(5)}"
        rows.append(row)
    return facts_frame(rows)
