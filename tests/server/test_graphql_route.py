"""`server.app.Api`: HTTP GET and POST of /graphql skip Starlette's router, and answer exactly as through it."""

from __future__ import annotations

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from server.app import Api
from server.cors import AllowListCORS


class Tag:
    """Middleware that stamps every response, so a test sees it ran (and in which order)."""

    def __init__(self, app, name: str):
        self.app = app
        self.name = name

    async def __call__(self, scope, receive, send):
        async def tagged(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-tag", self.name.encode())]}
            await send(message)

        await self.app(scope, receive, tagged)


class View:
    """Stands in for the GraphQL view (an ASGI app, as C360GraphQL is): echoes the method, the body and
    whether Starlette's router saw the request."""

    async def __call__(self, scope, receive, send):
        await view(scope, receive, send)


async def view(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if body == b"boom":
        raise RuntimeError("the view failed")
    if body == b"value-error":
        raise ValueError("a value the app handles")
    response = JSONResponse({"method": scope["method"], "body": body.decode(), "app": isinstance(scope.get("app"), Starlette)},
                            headers={"x-routed": "yes" if "router" in scope else "no"})
    await response(scope, receive, send)


graphql = View()


def apps(**options):
    routes = [Route("/graphql", graphql, methods=["GET", "POST"]), Route("/other", lambda request: PlainTextResponse("other"))]
    middleware = [
        Middleware(Tag, name="outer"),
        Middleware(Tag, name="inner"),
        Middleware(AllowListCORS, allow_origins=["http://localhost:5173"], allow_methods=["GET", "POST", "OPTIONS"],
                   allow_headers=["Content-Type"], max_age=600),
    ]
    return (Api(graphql=graphql, routes=routes, middleware=middleware, **options),
            Starlette(routes=routes, middleware=middleware, **options))


def send_both(method: str, url: str, root_path: str = "", app_options: dict | None = None, setup=None,
              **kwargs) -> tuple[httpx.Response, httpx.Response]:
    async def call(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", follow_redirects=False) as client:
            return await client.request(method, url, **kwargs)

    both = apps(**(app_options or {}))
    for app in both:
        if setup is not None:
            setup(app)
    return anyio.run(call, both[0]), anyio.run(call, both[1])


@pytest.mark.parametrize(("method", "url", "kwargs"), [
    ("POST", "/graphql", {"content": b'{"query": "{ __typename }"}'}),
    ("GET", "/graphql?query=%7B__typename%7D", {}),
    ("POST", "/graphql", {"content": b"x", "headers": {"Origin": "http://localhost:5173"}}),
    ("POST", "/graphql", {"content": b"x", "headers": {"Origin": "http://evil.example"}}),
    ("OPTIONS", "/graphql", {"headers": {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}}),
    ("PUT", "/graphql", {"content": b"x"}),
    ("DELETE", "/graphql", {}),
    ("POST", "/graphql/", {"content": b"x"}),
    ("POST", "/graphqlx", {"content": b"x"}),
    ("GET", "/other", {}),
    ("POST", "/graphql", {"content": b"boom"}),
])
def test_every_request_answers_as_through_starlettes_router(method, url, kwargs):
    fast, routed = send_both(method, url, **kwargs)
    assert (fast.status_code, drop_routed(fast.headers), fast.content) == (routed.status_code, drop_routed(routed.headers), routed.content), (method, url)


def drop_routed(headers: httpx.Headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.multi_items() if k != "x-routed"]


def test_only_http_get_and_post_of_graphql_skip_the_router():
    fast, routed = send_both("POST", "/graphql", content=b"q")
    assert fast.json() == {"method": "POST", "body": "q", "app": True} and fast.headers["x-routed"] == "no"
    assert routed.headers["x-routed"] == "yes"
    # the middleware ran, in the app's order (the inner one stamps the response first)
    assert fast.headers.get_list("x-tag") == routed.headers.get_list("x-tag") == ["inner", "outer"]
    # a view that raises: Starlette's plain 500, as through its own stack
    boom, _ = send_both("POST", "/graphql", content=b"boom")
    assert boom.status_code == 500 and boom.text == "Internal Server Error"
    # behind a proxy's root path the router decides, as before
    prefixed, _ = send_both("POST", "/api-root/graphql", root_path="/api-root", content=b"q")
    assert prefixed.status_code == 200 and prefixed.headers["x-routed"] == "yes"


def handled(request, exc):
    return PlainTextResponse(f"handled: {exc}", status_code=422)


@pytest.mark.parametrize(("body", "app_options", "status"), [
    (b"value-error", {"exception_handlers": {ValueError: handled}}, 422),  # the app's handler of what the view raises
    (b"boom", {"exception_handlers": {500: handled}}, 422),  # the app's 500 handler
    (b"boom", {"exception_handlers": {Exception: handled}}, 422),
    (b"0123456789", {"max_body_size": 4}, 413),  # Starlette's own body size limit
])
def test_the_apps_exception_handlers_and_body_limit_apply_on_both_paths(body, app_options, status):
    fast, routed = send_both("POST", "/graphql", app_options=app_options, content=body)
    assert fast.status_code == routed.status_code == status
    assert (drop_routed(fast.headers), fast.content) == (drop_routed(routed.headers), routed.content)


def test_middleware_added_before_the_first_request_runs_on_both_paths():
    fast, routed = send_both("POST", "/graphql", setup=lambda app: app.add_middleware(Tag, name="late"), content=b"q")
    assert fast.headers.get_list("x-tag") == routed.headers.get_list("x-tag") == ["inner", "outer", "late"]
