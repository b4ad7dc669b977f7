"""The rules stage of a pipeline run: facts -> firings -> lifecycle -> outcomes.

`run_rules` is what `etl.pipeline` calls after gold is computed and before
the snapshot is published; the tables it returns are written with
`rules.schemas.to_arrow` into the same run, so alerts and recommendations are
published atomically with the metrics they were computed from.  Load (and so
validate) the rules before anything is written: a bad rule file must stop
the run, not a half-finished one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd

from etl.errors import DataError
from etl.storage import Snapshot
from rules.evaluate import evaluate_batch
from rules.facts import build_rule_facts, rule_facts_table
from rules.lifecycle import LifecycleConfig, apply_lifecycle
from rules.model import RuleSet
from rules.outcomes import History, track_outcomes

ALERTS = "gold_risk_alerts"
RECOMMENDATIONS = "gold_recommendations"
RULE_FACTS = "gold_rule_facts"


def _previous(previous: Snapshot | None, name: str) -> pd.DataFrame | None:
    if previous is None or name not in previous.tables("gold"):
        return None
    return previous.read("gold", name)


def check_lifecycle_order(previous: Snapshot | None, as_of: date) -> None:
    """The lifecycle only moves forward: refuse a run dated before the published snapshot."""
    if previous is not None:
        prev_as_of = previous.manifest.get("as_of")
        if prev_as_of is not None and date.fromisoformat(str(prev_as_of)) > as_of:
            raise DataError(
                f"the published snapshot {previous.run_id} is as of {prev_as_of}, after {as_of}: alert and "
                "recommendation lifecycles only move forward (dry-run a past date with `c360 rules test --as-of`)"
            )


def run_rules(
    silver: Mapping[str, pd.DataFrame],
    metrics: pd.DataFrame,
    history: History,
    ruleset: RuleSet,
    previous: Snapshot | None,
    as_of: date,
    run_id: str,
    *,
    status_changes: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Today's gold_risk_alerts, gold_recommendations and gold_rule_facts.

    `previous` is the snapshot published before this run (None on the first
    run): its alert and recommendation tables carry the lifecycle forward.
    `status_changes` are the users' changes since then (rules.lifecycle);
    None until the API's store supplies them.  The lifecycle only moves
    forward: a previous snapshot dated after `as_of` is refused.
    """
    check_lifecycle_order(previous, as_of)
    facts = build_rule_facts(silver, metrics, as_of, ruleset.parameters)
    return run_rules_on_facts(facts, metrics, history, ruleset, previous, as_of, run_id, status_changes=status_changes)


def run_rules_on_facts(
    facts: pd.DataFrame,
    metrics: pd.DataFrame,
    history: History,
    ruleset: RuleSet,
    previous: Snapshot | None,
    as_of: date,
    run_id: str,
    *,
    status_changes: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """`run_rules` from facts already built (`rules.facts.book_facts` over a partitioned book)."""
    check_lifecycle_order(previous, as_of)
    firings = evaluate_batch(facts, ruleset)
    alerts, recommendations = apply_lifecycle(
        firings,
        _previous(previous, ALERTS),
        _previous(previous, RECOMMENDATIONS),
        status_changes,
        as_of,
        LifecycleConfig.from_ruleset(ruleset),
    )
    recommendations = track_outcomes(recommendations, metrics, history, as_of)
    alerts["run_id"] = run_id
    recommendations["run_id"] = run_id
    return {ALERTS: alerts, RECOMMENDATIONS: recommendations, RULE_FACTS: rule_facts_table(facts, as_of)}
