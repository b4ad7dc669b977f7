"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from etl.gold.params import MetricsConfig
from server.snapshot import Snapshot, SnapshotHolder


class NoSnapshotError(Exception):
    """Nothing has been published yet: run `c360 pipeline run`."""


@dataclass
class Context:
    holder: SnapshotHolder
    metrics_config: MetricsConfig
    request: Any = None

    def snapshot(self) -> Snapshot:
        snap = self.holder.get()
        if snap is None:
            raise NoSnapshotError("no published snapshot yet: run `c360 pipeline run` first")
        return snap


Info = strawberry.Info[Context, None]
