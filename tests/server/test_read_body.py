"""server.view.read_body: the whole body however it arrives, and a request that gives it again."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import ClientDisconnect, Request

from server.view import read_body

BODY = b'{"query": "{ snapshot { customers } }"}'


def request_of(messages: list[dict]) -> Request:
    queue = list(messages)

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return Request({"type": "http", "method": "POST", "path": "/graphql", "headers": []}, receive)


@pytest.mark.parametrize("sizes", [[len(BODY)], [5, len(BODY) - 5], [1] * len(BODY), [0, len(BODY)]])
def test_the_whole_body_once_and_again(sizes):
    messages, at = [], 0
    for i, n in enumerate(sizes):
        messages.append({"type": "http.request", "body": BODY[at : at + n], "more_body": i < len(sizes) - 1})
        at += n

    async def go():
        body, again = await read_body(request_of(messages))
        return body, await again.body(), await again.json()

    body, twice, parsed = asyncio.run(go())
    assert body == twice == BODY and parsed == {"query": "{ snapshot { customers } }"}


def test_a_client_gone_before_its_body_is_starlettes_disconnect():
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(request_of([{"type": "http.request", "body": b"{", "more_body": True}])))
