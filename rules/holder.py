"""Hot-reloadable rules for a long-running process (the API server).

An analyst saves a rule file while the server runs; the server calls
`RuleSetHolder.reload()` (on a timer or a signal).  A file that fails
validation must not take the server's rules away: the holder keeps the last
good RuleSet, remembers the error for a health endpoint to show, and tries
again on the next reload.
"""

from __future__ import annotations

import threading
from pathlib import Path

from etl.errors import ConfigError
from rules.engine import engine_for
from rules.model import RuleError, RuleSet, load_rules


class RuleSetHolder:
    """The current RuleSet of a rules path; `reload()` swaps it only for a valid new one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ruleset = load_rules(self.path)  # no good rules yet: a bad file is fatal at start-up
        self.last_error: ConfigError | None = None

    @property
    def ruleset(self) -> RuleSet:
        with self._lock:
            return self._ruleset

    def reload(self) -> bool:
        """Re-read the rules; True if a changed, valid set is now active.

        On a validation error the previous set stays active and the error is
        kept in `last_error` (cleared by the next successful reload).  The
        durable-rules engine of a new set is compiled before the swap, so
        callers never wait for it and never see a half-built engine.
        """
        try:
            candidate = load_rules(self.path)
        except ConfigError as exc:
            self.last_error = exc
            return False
        self.last_error = None
        if candidate.fingerprint == self.ruleset.fingerprint:
            return False
        try:
            engine_for(candidate)
        except Exception as exc:  # noqa: BLE001 - whatever durable-rules refuses, keep serving the old rules
            self.last_error = RuleError(str(self.path), None, f"durable-rules cannot compile these rules: {exc}")
            return False
        with self._lock:
            self._ruleset = candidate
        return True
