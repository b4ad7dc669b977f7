"""Request body limits: 413 past the size (before the body is read, whatever the framing), 408 when the
body does not arrive in time (a slow client holds a connection, not the event loop)."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TooLarge(Exception):
    pass


class TooSlow(Exception):
    """The request body did not arrive within the time allowed."""


def error_body(message: str, code: str) -> bytes:
    """A GraphQL-shaped error document, for the answers given before GraphQL runs."""
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


def too_large_body(limit: int) -> bytes:
    return error_body(f"request body larger than {limit} bytes", "PAYLOAD_TOO_LARGE")


async def reply_error(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def reply_413(send: Send, limit: int) -> None:
    await reply_error(send, 413, too_large_body(limit))


class BodyLimitMiddleware:
    """Refuses a declared Content-Length above the limit at once, and stops a chunked body once it passes it;
    answers 408 when the body is not complete `timeout_seconds` after the request started."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 10.0):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await reply_413(send, self.max_bytes)
                return
        seen = 0
        started = False
        complete = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds

        async def limited_receive() -> Message:
            nonlocal seen, complete
            if complete:  # the body is in: later calls wait for a disconnect, without a deadline
                return await receive()
            # A timer that cancels this task at the deadline (asyncio.timeout_at's way, at a third of its
            # cost: a request's body is nearly always in already, and this runs for every request).
            task = asyncio.current_task()
            expired = False
            pending = task.cancelling()  # cancels asked before ours are not ours to take back (as asyncio.timeout)

            def expire() -> None:
                nonlocal expired
                expired = True
                task.cancel()

            timer = loop.call_at(deadline, expire)
            try:
                message = await receive()
            except asyncio.CancelledError:
                if expired and task.uncancel() <= pending:
                    raise TooSlow from None
                raise
            finally:
                timer.cancel()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not started:
                await reply_413(send, self.max_bytes)
        except TooSlow:
            if not started:
                await reply_error(send, 408, error_body(f"the request body did not arrive within {self.timeout_seconds:g} s", "REQUEST_TIMEOUT"))
