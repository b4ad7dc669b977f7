"""The schema, composed from one module per domain, with its limits and caches.

`build_schema(config)` makes the served schema (depth, alias and token
limits and introspection from ``config/server.json``); `schema` is the
default one `export_sdl` writes to ``schema.graphql`` (the limits do not
change the SDL).
"""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from server.config import ServerConfig
from server.context import ClientError, Info, NoSnapshotError
from server.executor import PlanExecutor
from server.schema.accounts import AccountQuery
from server.schema.alerts import AlertQuery
from server.schema.customers import CustomerQuery
from server.schema.dashboard import DashboardQuery
from server.schema.mutations import Mutation
from server.schema.subscriptions import Subscription
from server.schema.types import AsOf

log = logging.getLogger("c360.server.graphql")


@strawberry.type(description="The published snapshot the API is serving, and which optional tables it has.")
class SnapshotInfo:
    as_of: AsOf
    published_at: str
    customers: int
    alerts_available: bool = strawberry.field(description="gold_risk_alerts is present (the rules stage ran)")
    recommendations_available: bool
    linking_available: bool = strawberry.field(description="gold_master_accounts is present (the linker ran)")


@strawberry.type
class SnapshotQuery:
    @strawberry.field(description="What is being served: run id, as-of date, and which tables exist")
    def snapshot(self, info: Info) -> SnapshotInfo:
        snap = info.context.snapshot()
        info.context.touch_all()
        return SnapshotInfo(
            as_of=AsOf(date=snap.as_of, run_id=snap.run_id),
            published_at=snap.published_at,
            customers=len(snap.metrics),
            alerts_available=snap.alerts is not None,
            recommendations_available=snap.recommendations is not None,
            linking_available=snap.masters is not None,
        )


@strawberry.type
class Query(CustomerQuery, DashboardQuery, AlertQuery, AccountQuery, SnapshotQuery):
    pass


def visible(error) -> bool:
    """Errors a client may see: its own bad input (graphql-core's own errors, such as a variable of the wrong
    type, which it wraps in another), a missing role, or nothing published yet.  Everything else is masked."""
    original = getattr(error, "original_error", None)
    return original is None or isinstance(original, (GraphQLError, NoSnapshotError, ValueError, ClientError))


class C360Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Masked errors are logged with their traceback (the JSON log line carries the request id); a client's own mistakes at INFO."""
        for error in errors:
            if visible(error):
                log.info("graphql client error: %s", error.message)
            else:
                log.error("unexpected error in %s: %s", ".".join(str(p) for p in error.path or ()) or "(operation)", error,
                          exc_info=error.original_error)


def build_schema(config: ServerConfig | None = None) -> strawberry.Schema:
    config = config or ServerConfig()
    limits = config.limits
    # The rule classes are made once: the validation cache keys on them.
    rules = [max_depth_rule(limits.max_query_depth, None), max_aliases_rule(limits.max_aliases)]
    if not config.graphql.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return C360Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Factories: a fresh extension per request.  The parse and validation
            # LRU caches live at module level keyed by maxsize, so they are shared;
            # they key on the query text: clients pass variables, not literals.
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: AddValidationRules(rules),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: MaskErrors(should_mask_error=lambda e: not visible(e)),
        ],
        execution_context_class=PlanExecutor,  # compiled plans for query operations (server/executor.py)
    )


schema = build_schema()


def export_sdl() -> str:
    return schema.as_str() + "\n"
