"""The schema, composed from one query class per domain."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache

from server.context import NoSnapshotError
from server.schema.customers import CustomerQuery
from server.schema.dashboard import DashboardQuery


@strawberry.type
class Query(CustomerQuery, DashboardQuery):
    pass


def _visible(error) -> bool:
    """Errors a client may see: its own bad input, or nothing published yet. Everything else is masked."""
    original = getattr(error, "original_error", None)
    return original is None or isinstance(original, (NoSnapshotError, ValueError))


schema = strawberry.Schema(
    query=Query,
    extensions=[
        # Factories: a fresh extension per request; the parse and validation
        # LRU caches live at module level keyed by maxsize, so they are shared.
        # They key on the query text: clients pass variables, not literals.
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: MaskErrors(should_mask_error=lambda e: not _visible(e)),
    ],
)


def export_sdl() -> str:
    return schema.as_str() + "\n"
