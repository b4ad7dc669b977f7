"""The fast lane: a query Strawberry has already run cleanly, executed again without its per-request pipeline.

Strawberry's path for every request - the HTTP view, the schema extensions'
hooks around parsing, validation and execution, the validation cache (which
hashes the whole syntax tree to find its entry) - costs about as much as
executing the customer 360 profile itself.  Everything it decides before
execution depends only on the query text and the operation name: the token
limit, parsing, validation (depth, aliases, introspection rules), and that
the operation is a query.  So once Strawberry has executed a (query text,
operation name) as a query without errors, that text has passed all of it,
and `FastLane.execute` runs the next request with the same text directly:
variables coerced by graphql-core (`Executor.build`), then the operation's
compiled plan (`server.executor`).

It answers only when that goes cleanly: on a variable error, or whenever
the plan hands over to graphql-core (errors, unsupported features), it
returns None and the view runs the request through Strawberry, which
reports exactly what it always did.  The lane is off when the schema has
an extension outside `DOCUMENT_ONLY` (one that could act on a request's
variables, context or result), or does not execute with `PlanExecutor`.
A successful result is ``{"data": ...}`` in both paths: these extensions
add nothing to a result without errors.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import DocumentNode, parse
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from server.executor import PlanExecutor

# Extensions that decide from the query text alone (limits, validation rules, caches of both), or touch only errors.
DOCUMENT_ONLY = (AddValidationRules, DisableIntrospection, MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, ParserCache,
                 QueryDepthLimiter, ValidationCache)


class FastLane:
    def __init__(self, schema, maxsize: int = 512):
        self.schema = schema
        self.maxsize = maxsize
        executor = getattr(schema, "execution_context_class", None)
        self.enabled = (isinstance(executor, type) and issubclass(executor, PlanExecutor)
                        and all(isinstance(e, DOCUMENT_ONLY) for e in schema.get_extensions()))
        self._documents: OrderedDict[tuple[str, str | None], DocumentNode] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def knows(self, query: str, operation_name: str | None) -> bool:
        return (query, operation_name) in self._documents

    def admit(self, query: str, operation_name: str | None) -> None:
        """Strawberry executed this text as a query without errors: it passed parsing, limits and validation."""
        if not self.enabled or (query, operation_name) in self._documents:
            return
        self._documents[(query, operation_name)] = parse(query)
        while len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)

    def execute(self, query: str, variables: dict[str, Any] | None, operation_name: str | None, context: Any) -> Any:
        """The data (a dict), None when Strawberry must handle the request, or an awaitable of either."""
        document = self._documents.get((query, operation_name))
        if document is None:
            return None
        self._documents.move_to_end((query, operation_name))
        executor = self.schema.execution_context_class.build(
            self.schema._schema, document, None, context, variables, operation_name,
            is_awaitable=optimized_is_awaitable, operation_extensions=None,
        )
        if isinstance(executor, list):  # variable errors: Strawberry reports them
            return None
        return executor.try_plan()
