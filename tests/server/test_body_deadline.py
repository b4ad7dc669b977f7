"""server.limits.BodyLimitMiddleware's body deadline: 408 for a body that does not come, and a cancellation
from outside stays a cancellation - whatever cancels the task already carries."""

from __future__ import annotations

import asyncio

import pytest

from server.limits import BodyLimitMiddleware


async def served(scenario: str):
    async def app(scope, receive, send):
        if scenario == "already cancelled":  # earlier code in the task swallowed a cancel without uncancel()
            asyncio.current_task().cancel()
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                pass
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []
    never = asyncio.Event()

    async def receive():
        await never.wait()

    async def send(message):
        sent.append(message)

    task = asyncio.create_task(BodyLimitMiddleware(app, 1000, timeout_seconds=0.05)({"type": "http", "headers": []}, receive, send))
    if scenario == "cancelled from outside":
        await asyncio.sleep(0.01)
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return "cancelled"
    return [m["status"] for m in sent if m["type"] == "http.response.start"]


@pytest.mark.parametrize(("scenario", "want"), [("slow body", [408]), ("already cancelled", [408]),
                                                ("cancelled from outside", "cancelled")])
def test_the_deadline_answers_408_and_leaves_other_cancels_alone(scenario, want):
    assert asyncio.run(served(scenario)) == want
