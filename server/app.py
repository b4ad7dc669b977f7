"""The ASGI application: GraphQL (with GraphiQL) and health check on one Starlette app."""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from etl.gold.params import load_metrics_config
from server.context import Context
from server.schema import schema
from server.snapshot import SnapshotHolder

log = logging.getLogger("c360.server")


class C360GraphQL(GraphQL):
    def __init__(self, holder: SnapshotHolder, metrics_config, **kw):
        super().__init__(schema, graphql_ide="graphiql", **kw)
        self.holder = holder
        self.metrics_config = metrics_config

    async def get_context(self, request, response) -> Context:
        return Context(holder=self.holder, metrics_config=self.metrics_config, request=request)

    def process_errors(self, errors, execution_context=None) -> None:
        for error in errors:
            # Unexpected errors are masked for the client; keep the detail in the log with an id to find it.
            if getattr(error, "original_error", None) is not None:
                log.error("graphql error %s: %s", uuid.uuid4().hex[:12], error, exc_info=error.original_error)


def create_app(data_dir: Path, config_dir: Path) -> Starlette:
    holder = SnapshotHolder(data_dir)
    metrics_config = load_metrics_config(Path(config_dir) / "silver_to_gold_metrics.json")

    async def healthz(request: Request) -> JSONResponse:
        snap = holder.get()
        if snap is None:
            return JSONResponse({"status": "no snapshot published"}, status_code=503)
        return JSONResponse({"status": "ok", "run_id": snap.run_id, "as_of": snap.as_of.isoformat(), "customers": len(snap.metrics)})

    @asynccontextmanager
    async def lifespan(app):
        holder.get()  # load the snapshot before the first request
        yield

    graphql = C360GraphQL(holder, metrics_config)
    routes = [Route("/healthz", healthz), Route("/graphql", graphql, methods=["GET", "POST"])]
    return Starlette(routes=routes, lifespan=lifespan)
