"""The ASGI application: GraphQL (queries, mutations, subscriptions), REST, the client, health and metrics.

`create_app` wires the long-lived services once (snapshot holder, state
store, API keys, operations, response cache, subscription broker, rules
re-evaluation, Salesforce outbox worker) and declares the routes and
middleware as plain lists.  The lifespan loads the first snapshot before
the first request, then runs two background tasks: the snapshot watcher
(swaps in a newly published snapshot, clears the cache, tells subscribers)
and the outbox worker (Salesforce write-back).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from etl.errors import C360Error
from etl.gold.params import load_metrics_config
from etl.settings import REPO_ROOT
from server.auth import Authenticator
from server.cache import ResponseCache
from server.config import ServerConfig, load_server_config
from server.context import Services
from server.cors import AllowListCORS
from server.events import Broker, Event
from server.keys import KeyRing
from server.limits import BodyLimitMiddleware
from server.observability import Metrics, RequestIdMiddleware
from server.operations import Change, Operations
from server.rest import RestApi
from server.schema import build_schema
from server.snapshot import SnapshotHolder
from server.spa import spa_routes
from server.store import Store
from server.view import C360GraphQL
from server.writeback import OutboxWorker, SalesforceTasks, salesforce_tasks

log = logging.getLogger("c360.server")

AUTO = "auto"
GRAPHQL_PATH = "/graphql"


class Api(Starlette):
    """Starlette, with HTTP GET and POST of ``/graphql`` - nearly every request - sent straight to the
    GraphQL view through the layers Starlette's own stack puts around its router (`ServerErrorMiddleware`
    with the app's 500 handler and debug flag, Starlette's body size limit when set, the app's middleware,
    in that order), without the router, route matching and exception layer between (about 6 us a request,
    a few percent of a search).  The exception layer is kept when the app has handlers of its own or that
    size limit (which answers by raising): it turns what a route raises into responses, and the view
    raises nothing it handles by default.
    Everything else (the WebSocket, other methods, a ``root_path``, other paths) goes through Starlette.
    Both stacks are built on the first request, so middleware added before then is in both."""

    def __init__(self, *, graphql: ASGIApp, **kwargs) -> None:
        super().__init__(**kwargs)
        self._graphql_view = graphql
        self._graphql_http: ASGIApp | None = None

    def _build_graphql_http(self) -> ASGIApp:
        error_handler = None
        handlers = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        middleware = [Middleware(ServerErrorMiddleware, handler=error_handler, debug=self.debug)]
        max_body_size = getattr(self, "max_body_size", None)  # Starlette 1.x
        if max_body_size is not None:
            from starlette.middleware.body_limit import RequestBodyLimitMiddleware

            middleware.append(Middleware(RequestBodyLimitMiddleware, max_body_size=max_body_size))
        middleware += self.user_middleware
        if handlers or max_body_size is not None:  # the size limit answers by raising an HTTPException
            middleware.append(Middleware(ExceptionMiddleware, handlers=handlers, debug=self.debug))
        app = self._graphql_view
        for cls, args, options in reversed(middleware):
            app = cls(app, *args, **options)
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == GRAPHQL_PATH and scope["method"] in ("GET", "POST") and not scope.get("root_path"):
            if self._graphql_http is None:
                if self.middleware_stack is None:  # built together: no middleware can be added after this
                    self.middleware_stack = self.build_middleware_stack()
                self._graphql_http = self._build_graphql_http()
            scope["app"] = self
            await self._graphql_http(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _reevaluator(holder: SnapshotHolder):
    try:
        from server.reeval import Reevaluator

        return Reevaluator(holder)
    except (ImportError, C360Error) as exc:  # no rules package, or no valid rule files yet: serve without it
        log.warning("per-customer rule re-evaluation off: %s", exc)
        return None


def create_app(
    data_dir: Path,
    config_dir: Path,
    *,
    config: ServerConfig | None = None,
    environ: Mapping[str, str] | None = None,
    salesforce: SalesforceTasks | None | str = AUTO,
) -> Starlette:
    """The API over `data_dir`'s published snapshots.

    `config` defaults to ``config_dir/server.json``; `environ` (default
    ``os.environ``) supplies API key hashes and Salesforce credentials;
    `salesforce` is the Task writer, found from the environment when AUTO.
    """
    config = config or load_server_config(config_dir)
    holder = SnapshotHolder(data_dir, config.snapshot_check_seconds, poll=False, in_memory_rows=config.snapshot_in_memory_rows)
    store = Store.open(data_dir, config.state_dir)
    tasks = salesforce_tasks(config_dir, config.write_back, environ) if salesforce == AUTO else salesforce
    operations = Operations(holder, store, config.write_back, salesforce_configured=tasks is not None)
    services = Services(
        holder=holder,
        metrics_config=load_metrics_config(Path(config_dir) / "silver_to_gold_metrics.json"),
        config=config,
        store=store,
        operations=operations,
        broker=Broker(),
        reevaluator=_reevaluator(holder),
    )
    metrics = Metrics()
    cache = ResponseCache(config.cache, metrics)
    auth = Authenticator(KeyRing(store, environ), config.auth.anonymous_role)
    schema = build_schema(config)
    worker = OutboxWorker(store, tasks, config.write_back, metrics) if tasks is not None else None

    async def after_mutation(change: Change) -> None:
        await cache.invalidate(change.account_ids)
        reeval = services.reevaluator
        if reeval is not None and change.kind in ("alert", "recommendation"):
            for account in change.account_ids:
                await anyio.to_thread.run_sync(reeval.evaluate, account, change.operation)
        snap = holder.get()
        services.broker.publish(Event("MUTATION", change.kind, snap.run_id if snap else None, change.ids, change.account_ids, change.operation))
        if worker is not None and change.operation == "executeAction":
            worker.wake.set()

    operations.listeners.append(after_mutation)

    async def after_write_back(entry) -> None:
        """A write-back attempt changed what `executedAction.writeBack` shows for the customer."""
        await cache.invalidate((entry.account_id,))
        snap = holder.get()
        services.broker.publish(Event("MUTATION", "writeback", snap.run_id if snap else None, (entry.outbox_id,), (entry.account_id,), "writeBack"))

    if worker is not None:
        worker.listeners.append(after_write_back)

    def snapshot_age() -> float | None:
        snap = holder.get()
        if snap is None or not snap.published_at:
            return None
        return time.time() - datetime.fromisoformat(snap.published_at).timestamp()

    metrics.gauge("snapshot_age_seconds", snapshot_age, "Seconds since the served snapshot was published.")
    metrics.gauge("snapshot_loaded_age_seconds", lambda: (time.time() - holder.get().loaded_at) if holder.get() else None,
                  "Seconds since the served snapshot was loaded.")
    metrics.gauge("cache_entries", lambda: len(cache), "Cached responses.")
    metrics.gauge("subscribers", lambda: services.broker.subscribers, "Open GraphQL subscriptions.")
    metrics.gauge("outbox_pending", lambda: store.outbox_counts().get("pending", 0), "Salesforce write-backs waiting to be sent.")
    metrics.gauge("customers", lambda: len(holder.get().metrics) if holder.get() else None, "Customers in the served snapshot.")

    async def watch_snapshots() -> None:
        while True:
            await asyncio.sleep(config.snapshot_check_seconds)
            try:
                changed = await anyio.to_thread.run_sync(holder.refresh)
            except Exception:  # a broken run must not stop the watcher: the previous snapshot keeps serving
                log.exception("could not load the newly published snapshot; still serving the previous one")
                continue
            if changed:
                snap = holder.get()
                await cache.clear()
                services.broker.publish(Event("SNAPSHOT", "snapshot", snap.run_id))
                log.info("serving a new snapshot", extra={"run_id": snap.run_id, "as_of": snap.as_of.isoformat()})

    @asynccontextmanager
    async def lifespan(app):
        await anyio.to_thread.run_sync(holder.get)  # load the snapshot before the first request
        gc.freeze()  # the loaded snapshot is long-lived: keep it out of every collection (PERF_NOTES)
        watcher = asyncio.create_task(watch_snapshots(), name="snapshot-watcher")
        sender = asyncio.create_task(worker.run(), name="outbox-worker") if worker is not None else None
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            if sender is not None:
                # Let an attempt in flight finish and record its outcome: cancelled, it would leave
                # its entry leased (unsendable) for lease_seconds.
                worker.stop()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                    await asyncio.wait_for(sender, timeout=config.write_back.attempt_timeout_seconds + 5)
            store.close()

    async def healthz(request: Request) -> JSONResponse:
        snap = holder.get()
        if snap is None:
            return JSONResponse({"status": "no snapshot published"}, status_code=503)
        return JSONResponse({"status": "ok", "run_id": snap.run_id, "as_of": snap.as_of.isoformat(), "customers": len(snap.metrics)})

    async def readyz(request: Request) -> JSONResponse:
        problems = []
        snap = holder.get()
        if snap is None:
            problems.append("no snapshot published: run `c360 pipeline run`")
        try:
            await anyio.to_thread.run_sync(store.outbox_counts)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"state store unusable: {type(exc).__name__}")
        if services.reevaluator is not None and services.reevaluator.rules.last_error is not None:
            problems.append(f"rule files invalid (serving the last good ones): {services.reevaluator.rules.last_error}")
        body = {
            "ready": not any(p.startswith(("no snapshot", "state store")) for p in problems),
            "run_id": snap.run_id if snap else None,
            "tables": sorted(snap.tables) if snap else [],
            "salesforce_write_back": "on" if worker is not None else "off",
            "problems": problems,
        }
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    async def prometheus(request: Request) -> PlainTextResponse:
        text = await anyio.to_thread.run_sync(metrics.render)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    graphql = C360GraphQL(services, schema, auth, cache, metrics)
    rest = RestApi(services, schema, auth, cache)
    dist = Path(config.client_dist)
    dist = dist if dist.is_absolute() else REPO_ROOT / dist
    routes = [
        Route(GRAPHQL_PATH, graphql, methods=["GET", "POST"]),  # HTTP requests come here only with a root_path (`Api`)
        WebSocketRoute(GRAPHQL_PATH, graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", prometheus),
        *rest.routes(),
        *spa_routes(dist),
    ]
    middleware = [
        Middleware(RequestIdMiddleware, metrics=metrics, log_access=config.access_log),
        Middleware(BodyLimitMiddleware, max_bytes=config.limits.max_body_bytes, timeout_seconds=config.limits.body_timeout_seconds),
    ]
    if config.cors.allow_origins:
        middleware.append(
            Middleware(
                AllowListCORS,
                allow_origins=config.cors.allow_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Content-Type", "X-API-Key", "X-Request-ID", "Idempotency-Key"],
                expose_headers=["X-Request-ID", "X-Cache"],
                max_age=config.cors.max_age_seconds,
            )
        )
    app = Api(graphql=graphql, routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    app.state.cache = cache
    app.state.metrics = metrics
    app.state.worker = worker
    app.state.graphql = graphql
    return app
