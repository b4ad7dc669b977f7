"""The /graphql endpoint: authentication, the response cache, the fast lane, then Strawberry.

Order of work for an HTTP request:

1. GraphiQL for a browser's GET (when enabled) - no key needed to load the page;
2. the API key -> a principal, or 401;
3. the body, read once within the size limit (413 past it);
4. for a plain JSON request (a POST of ``application/json``, or a GET,
   asking for a JSON answer): the response cache, keyed by the raw request
   (the body's bytes: query, variables and operation name; or the GET query
   string), the role and the snapshot id - a hit is answered before any
   GraphQL work; only queries' answers are ever stored;
5. a POST whose query text Strawberry has already executed cleanly: the
   fast lane (`server.fastlane`), with a fresh typed `Context`;
6. otherwise Strawberry, with a fresh typed `Context` (per-request DataLoaders);
7. a successful query's bytes go into the cache, tagged with the customers
   the resolvers read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from functools import lru_cache

import orjson

from cross_web import HTTPException
from graphql import OperationType, get_operation_ast, parse
from graphql.error import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import UNSET

from server.auth import Authenticator, Unauthenticated
from server.cache import ResponseCache
from server.context import Context, Services
from server.fastlane import FastLane
from server.limits import TooLarge, too_large_body
from server.loaders import Loaders
from server.observability import Metrics, request_id_var

log = logging.getLogger("c360.server")


@lru_cache(maxsize=1024)
def operation_type(query: str, operation_name: str | None) -> str | None:
    """'query', 'mutation', 'subscription', or None when the text does not parse (Strawberry reports that)."""
    try:
        op = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return None
    if op is None:
        return None
    return {OperationType.QUERY: "query", OperationType.MUTATION: "mutation", OperationType.SUBSCRIPTION: "subscription"}[op.operation]


def unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}, status_code=401,
                        headers={"WWW-Authenticate": 'APIKey header="X-API-Key"'})


def timed_out(seconds: float) -> JSONResponse:
    return JSONResponse({"errors": [{"message": f"the query did not finish within {seconds:g} s", "extensions": {"code": "TIMEOUT"}}]},
                        status_code=504)


def new_context(services: Services, principal, request, request_id: str | None) -> Context:
    ctx = Context(services=services, principal=principal, request=request, request_id=request_id)
    ctx.loaders = Loaders(ctx.snapshot, services.store.overlay, ctx.touch)
    return ctx


def dumps_bytes(data: object) -> bytes:
    """A JSON response body: orjson (a customer 360 profile in ~4 us instead of json's ~43 us); json for what
    orjson refuses (integers past 64 bits, ...)."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(data, separators=(",", ":")).encode()


def dumps(data: object) -> str:
    """`dumps_bytes` as text, for Strawberry's views: WebSocket messages must be text frames."""
    return dumps_bytes(data).decode()


async def read_body(request: Request) -> tuple[bytes, Request]:
    """The request's body, and the request to hand on, whose receive gives the body's first message again
    (Strawberry reads the body itself when it runs the request).  A body that came whole in one message,
    as nearly every one does, is taken from that message: Starlette's ``body()`` would read it through a
    stream generator, about 4 us a request."""
    receive = request.receive
    first = await receive()
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    again = Request(request.scope, replay)
    if first["type"] == "http.request" and not first.get("more_body", False):
        return first.get("body", b""), again
    return await again.body(), again  # in parts, or a disconnect: Starlette's way


class JSONBody(Response):
    """A JSON answer whose body is already bytes: Starlette's Response with its two headers made directly."""

    media_type = "application/json"

    def __init__(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        if headers:
            self.raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


JSON_ANSWERS = frozenset({"", "*/*", "application/*", "application/json", "application/graphql-response+json"})


def plain_json(request: Request) -> bool:
    """A request Strawberry answers with one JSON document: a GET, or a POST of application/json, not asking
    for a stream (SSE, multipart).  Only these use the response cache and the fast lane."""
    headers = request.headers
    accept = headers.get("accept", "")
    if accept and any(part.split(";", 1)[0].strip().lower() not in JSON_ANSWERS for part in accept.split(",")):
        return False
    if request.method == "GET":
        return True
    return request.method == "POST" and headers.get("content-type", "").split(";", 1)[0].strip().lower() == "application/json"


def query_fields(body: bytes) -> tuple[str, dict | None, str | None] | None:
    """(query, variables, operation name) of a single operation's JSON body; None for anything else
    (a batch, extensions, a malformed body: Strawberry handles those)."""
    try:
        data = orjson.loads(body)
    except ValueError:  # orjson.JSONDecodeError; also what it does not take (NaN, huge integers): Strawberry's json does
        return None
    if not isinstance(data, dict) or not data.keys() <= {"query", "variables", "operationName", "extensions"} or data.get("extensions"):
        return None
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not isinstance(variables, (dict, type(None))) or not isinstance(name, (str, type(None))):
        return None
    return query, variables, name


class C360GraphQL(GraphQL):
    def __init__(self, services: Services, schema, auth: Authenticator, cache: ResponseCache, metrics: Metrics):
        config = services.config
        super().__init__(
            schema,
            graphql_ide="graphiql" if config.graphql.graphiql else None,
            allowed_origins=tuple(config.cors.allow_origins),
        )
        self.services = services
        self.auth = auth
        self.cache = cache
        self.metrics = metrics
        self.lane = FastLane(schema)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self.handle_http(request)
        await response(scope, receive, send)

    async def handle_http(self, request: Request) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", "") and "query" not in request.query_params:
            if self.graphql_ide:
                return await self.render_graphql_ide(request)
            return JSONResponse({"errors": [{"message": "GraphiQL is disabled"}]}, status_code=404)
        try:
            principal = self.auth.from_headers(request.headers)
        except Unauthenticated as exc:
            return unauthorized(exc.message)
        try:
            body, request = await read_body(request)
        except TooLarge:
            return Response(too_large_body(self.services.config.limits.max_body_bytes), status_code=413, media_type="application/json")
        plain = plain_json(request)
        key = None
        generation = self.cache.generation
        if self.cache.enabled and plain:
            key = self._cache_key(request, body, principal.role)
            if key is not None:
                if self.services.store.refresh():  # another process changed statuses
                    await self.cache.clear()
                    generation = self.cache.generation
                hit = await self.cache.get(key)
                if hit is not None:
                    return JSONBody(hit, {"X-Cache": "HIT"})
        ctx = new_context(self.services, principal, request, request_id_var.get())
        fields = query_fields(body) if plain and request.method == "POST" else None
        # A query still waiting at its deadline is cancelled (at an await: running Python is not interrupted);
        # a mutation, or a request whose operation is not known here, runs to the end.
        limit = self.services.config.limits.query_timeout_seconds
        # a GET can only run queries; a POST's operation is known when its body is plain JSON (`fields`)
        is_query = plain and (request.method == "GET" or (fields is not None and operation_type(fields[0], fields[2]) == "query"))
        deadline = asyncio.get_running_loop().time() + limit if is_query else None
        try:
            return await self._execute(request, ctx, fields, key, generation, is_query, deadline)
        except TimeoutError:
            log.warning("query cancelled after %g s", limit)
            return timed_out(limit)

    async def _execute(self, request: Request, ctx: Context, fields, key: str | None, generation: int, is_query: bool,
                       deadline: float | None) -> Response:
        # The deadline guards the awaits only: a plan that completes without awaiting (most of the lane's
        # queries) has nothing to cancel, and a timer per request costs 5% of a search request.
        if fields is not None and self.lane.knows(fields[0], fields[2]):
            data = self.lane.execute(fields[0], fields[1], fields[2], ctx)
            if data is not None and not isinstance(data, dict):
                async with asyncio.timeout_at(deadline):
                    data = await data
            if data is not None:
                response = JSONBody(dumps_bytes({"data": data}))
                await self._store(key, response, ctx, generation)
                return response
        try:
            async with asyncio.timeout_at(deadline):
                response = await self.run(request, context=ctx)
        except HTTPException as exc:  # bad JSON, wrong method: Strawberry's own 4xx
            return Response(exc.reason, status_code=exc.status_code, media_type="text/plain")
        if response.status_code == 200 and getattr(request.state, "graphql_errors", True) is False and is_query:
            if fields is not None:
                self.lane.admit(fields[0], fields[2])
            await self._store(key, response, ctx, generation)  # only a query's answer is cached
        return response

    async def _store(self, key: str | None, response: Response, ctx: Context, generation: int) -> None:
        if key is None:
            return
        await self.cache.put(key, response.body, None if ctx.touched_all else set(ctx.touched_accounts), generation)
        response.headers["X-Cache"] = "MISS"

    def _cache_key(self, request: Request, body: bytes, role: str) -> str | None:
        """The request as sent (a POST's body bytes, a GET's query string), the role and the snapshot id."""
        snap = self.services.holder.get()
        if snap is None:
            return None
        raw = body if request.method == "POST" else request.url.query.encode()
        head = f"graphql\0{request.method}\0{role}\0{snap.run_id}\0".encode()
        return hashlib.sha256(head + raw).hexdigest()

    def encode_json(self, data: object) -> str:
        return dumps(data)

    async def get_context(self, request, response) -> Context:
        # HTTP requests get theirs in handle_http; this is the WebSocket's, authenticated in on_ws_connect.
        rid = request_id_var.get()
        return new_context(self.services, None, request, rid)

    async def on_ws_connect(self, context: Context):
        try:
            headers = context.request.headers if isinstance(context.request, WebSocket) else {}
            context.principal = self.auth.from_connection_params(context.connection_params, headers)
        except Unauthenticated as exc:
            log.info("websocket refused: %s", exc.message)
            raise ConnectionRejectionError() from None
        return UNSET

    async def process_result(self, request, result):
        if isinstance(request, Request):
            request.state.graphql_errors = bool(result.errors)
            if result.errors:
                self.metrics.inc("graphql_errors", len(result.errors))
        return await super().process_result(request, result)
