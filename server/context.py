"""The typed per-request context every resolver receives, and the services it reaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import strawberry

from etl.gold.params import MetricsConfig
from server.keys import Principal, allows
from server.snapshot import Snapshot, SnapshotHolder
from server.store import Actor

if TYPE_CHECKING:
    from server.config import ServerConfig
    from server.events import Broker
    from server.loaders import Loaders
    from server.operations import Operations
    from server.reeval import Reevaluator
    from server.store import Store


class NoSnapshotError(Exception):
    """Nothing has been published yet: run `c360 pipeline run`."""


class ClientError(Exception):
    """An error the client caused and may see (bad cursor, page too large, missing role)."""

    def __init__(self, message: str, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.code = code
        self.extensions = {"code": code}  # graphql-core copies it onto the GraphQL error


@dataclass
class Services:
    """What lives for the whole process: built once by `server.app.create_app`."""

    holder: SnapshotHolder
    metrics_config: MetricsConfig
    config: ServerConfig
    store: Store
    operations: Operations
    broker: Broker
    reevaluator: Reevaluator | None = None

    def __post_init__(self) -> None:
        # the score weights as plain dicts, once: every breakdown reads them
        self.health_weights = self.metrics_config.health.weights.model_dump()
        self.churn_weights = self.metrics_config.churn.weights.model_dump()


@dataclass
class Context:
    services: Services
    principal: Principal | None = None
    request: Any = None
    request_id: str | None = None
    loaders: Loaders | None = None
    # What the response read, so the response cache can drop it when a mutation touches it.
    touched_accounts: set[str] = field(default_factory=set)
    touched_all: bool = False
    connection_params: dict[str, Any] | None = None

    @property
    def holder(self) -> SnapshotHolder:
        return self.services.holder

    @property
    def metrics_config(self) -> MetricsConfig:
        return self.services.metrics_config

    @property
    def health_weights(self) -> dict[str, float]:
        return self.services.health_weights

    @property
    def churn_weights(self) -> dict[str, float]:
        return self.services.churn_weights

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def role(self) -> str | None:
        return None if self.principal is None else self.principal.role

    def actor(self) -> Actor:
        p = self.principal
        if p is None:
            return Actor(name="anonymous", role="none", request_id=self.request_id)
        return Actor(name=p.name, role=p.role, key_id=p.key_id, request_id=self.request_id)

    def snapshot(self) -> Snapshot:
        snap = self.holder.get()
        if snap is None:
            raise NoSnapshotError("no published snapshot yet: run `c360 pipeline run` first")
        return snap

    def require(self, role: str) -> None:
        if not allows(self.role, role):
            raise ClientError(f"this needs the {role} role; the API key is {self.role or 'missing'}", "FORBIDDEN")

    def page_size(self, first: int, name: str = "first") -> int:
        limit = self.services.config.limits.max_page_size
        if first < 0 or first > limit:
            raise ClientError(f"{name} must be between 0 and {limit}")
        return first

    def touch(self, account_id: str) -> None:
        self.touched_accounts.add(account_id)

    def touch_all(self) -> None:
        self.touched_all = True


Info = strawberry.Info[Context, None]
