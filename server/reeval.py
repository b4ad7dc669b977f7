"""Re-evaluating one customer's rules after a mutation, on the rules' per-customer path.

`rules.evaluate.evaluate_customer` (durable-rules) runs every enabled rule
on the customer's facts: its gold metrics row plus its ``gold_rule_facts``
row from the published snapshot, with the rule files as they are now (the
`RuleSetHolder` reloads them when they change, keeping the last good set).
The result - which rules fire, at which level, and why - is kept per
customer until the next snapshot and served as ``Customer.ruleEvaluation``.
A snapshot without ``gold_rule_facts`` cannot be re-evaluated: nothing is
stored and the field stays null.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from server.snapshot import Snapshot, SnapshotHolder
from server.store import utcnow

log = logging.getLogger("c360.server.reeval")


@dataclass(frozen=True)
class Evaluation:
    account_id: str
    run_id: str
    evaluated_at: datetime
    trigger: str
    rules_fingerprint: str
    firings: tuple  # rules.firing.Firing


class Reevaluator:
    def __init__(self, holder: SnapshotHolder, rules_path: Path | None = None):
        from rules.holder import RuleSetHolder
        from rules.model import DEFAULT_RULES_DIR

        self.holder = holder
        self.rules = RuleSetHolder(Path(rules_path) if rules_path else DEFAULT_RULES_DIR)
        self._lock = threading.Lock()
        self._results: dict[str, Evaluation] = {}
        self.evaluations = 0
        holder.listeners.append(self._on_snapshot)

    def _on_snapshot(self, snap: Snapshot) -> None:
        with self._lock:
            self._results.clear()  # a new snapshot carries the batch evaluation

    def get(self, account_id: str) -> Evaluation | None:
        snap = self.holder.get()
        with self._lock:
            ev = self._results.get(account_id)
        return ev if ev is not None and snap is not None and ev.run_id == snap.run_id else None

    def evaluate(self, account_id: str, trigger: str) -> Evaluation | None:
        from rules.evaluate import evaluate_customer

        snap = self.holder.get()
        facts_row = None if snap is None else snap.rule_facts_of(account_id)
        if facts_row is None:
            return None
        metrics = snap.customer(account_id)
        if metrics is None:
            return None
        self.rules.reload()
        ruleset = self.rules.ruleset
        firings = evaluate_customer({**metrics, **facts_row}, ruleset)
        ev = Evaluation(account_id, snap.run_id, utcnow(), trigger, ruleset.fingerprint, tuple(firings))
        with self._lock:
            self._results[account_id] = ev
            self.evaluations += 1
        log.info("re-evaluated rules", extra={"account_id": account_id, "trigger": trigger, "firings": len(firings)})
        return ev
