"""server.cors: the same answers as Starlette's CORS middleware, whatever the request's Origin and the response's Vary."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.routing import Route

from server.cors import AllowListCORS

OPTIONS = {"allow_origins": ["http://localhost:5173"], "allow_methods": ["GET", "POST", "OPTIONS"],
           "allow_headers": ["Content-Type", "X-API-Key"], "expose_headers": ["X-Request-ID"], "max_age": 600}


def app(cors) -> Starlette:
    async def plain(request):
        return Response(b"{}", media_type="application/json")

    async def varied(request):  # a response that already varies by something
        return Response(b"{}", media_type="application/json", headers={"Vary": "Accept-Encoding"})

    reused = Response(b"{}", media_type="application/json", headers={"Vary": "Accept-Encoding"})

    async def same(request):  # one Response object sent again and again: its own headers must not grow
        return reused

    return Starlette(routes=[Route("/plain", plain, methods=["GET", "POST"]), Route("/varied", varied), Route("/same", same)],
                     middleware=[Middleware(cors, **OPTIONS)])


REQUESTS = [
    ("GET", "/plain", {}),  # no Origin: the cheap path
    ("POST", "/plain", {}),
    ("GET", "/varied", {}),
    ("GET", "/same", {}),
    ("GET", "/plain", {"Origin": "http://localhost:5173"}),  # allowed
    ("GET", "/varied", {"Origin": "http://localhost:5173"}),
    ("GET", "/plain", {"Origin": "http://evil.example"}),  # not allowed
    ("OPTIONS", "/plain", {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}),  # preflight
    ("OPTIONS", "/plain", {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_the_answers_are_starlettes(method, path, headers):
    async def ask(cors) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app(cors)), base_url="http://api") as client:
            for _ in range(2):  # the second answer: after the first has been through the middleware
                response = await client.request(method, path, headers=headers)
            return response

    a, b = asyncio.run(ask(AllowListCORS)), asyncio.run(ask(CORSMiddleware))
    assert a.status_code == b.status_code
    assert sorted(a.headers.multi_items()) == sorted(b.headers.multi_items())
    if not headers:
        assert a.headers.get_list("vary") in (["Origin"], ["Accept-Encoding, Origin"])
        assert "access-control-allow-origin" not in a.headers
