"""Alerts and next-best actions as declarative rules (docs/rules.md).

Rule files in ``rules/definitions/`` are loaded and validated into a
`RuleSet`; `build_rule_facts` adds record-level facts to the gold metrics;
`evaluate_batch` fires every rule for every account at once (vectorised) and
`evaluate_customer` re-evaluates one account with durable-rules; the
lifecycle carries alerts and recommendations across runs; `run_rules` is
the pipeline's entry point.  durable-rules is imported only by the
per-customer path (`rules.engine`).
"""

from rules.evaluate import evaluate_batch, evaluate_customer
from rules.facts import PartitionFacts, book_facts, build_rule_facts, partition_facts
from rules.firing import ConditionCheck, Firing, firings_from_frame
from rules.lifecycle import STATUS_CHANGES_COLUMNS, LifecycleConfig, apply_lifecycle
from rules.model import DEFAULT_RULES_DIR, Parameters, Rule, RuleError, RuleSet, load_rules
from rules.outcomes import rule_report, track_outcomes
from rules.run import ALERTS, RECOMMENDATIONS, RULE_FACTS, check_lifecycle_order, run_rules, run_rules_on_facts
from rules.schemas import READ_ORDER, RULES_SCHEMAS, to_arrow

__all__ = [
    "ALERTS",
    "DEFAULT_RULES_DIR",
    "RECOMMENDATIONS",
    "READ_ORDER",
    "RULES_SCHEMAS",
    "RULE_FACTS",
    "STATUS_CHANGES_COLUMNS",
    "ConditionCheck",
    "Firing",
    "LifecycleConfig",
    "Parameters",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleSetHolder",
    "apply_lifecycle",
    "build_rule_facts",
    "evaluate_batch",
    "evaluate_customer",
    "firings_from_frame",
    "load_rules",
    "rule_report",
    "run_rules",
    "run_rules_on_facts",
    "check_lifecycle_order",
    "PartitionFacts",
    "partition_facts",
    "book_facts",
    "to_arrow",
    "track_outcomes",
]


def __getattr__(name: str) -> object:
    # RuleSetHolder compiles durable-rules engines; import it (and durable-rules) only when asked for.
    if name == "RuleSetHolder":
        from rules.holder import RuleSetHolder

        return RuleSetHolder
    raise AttributeError(f"module 'rules' has no attribute {name!r}")
