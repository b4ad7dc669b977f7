"""Each request's access line: JSON with its request id, from the API itself (uvicorn's own is off)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import anyio
import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from server.bench import Process, free_port
from server.keys import hash_key, new_key
from server.observability import JsonFormatter, Metrics, RequestIdMiddleware
from tests.server.conftest import copy_published
from tests.server.harness import CONFIG_DIR


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _app(log_access: bool):
    async def hello(request):
        return PlainTextResponse("hi", status_code=201)

    return RequestIdMiddleware(Starlette(routes=[Route("/hello", hello)]), Metrics(), log_access=log_access)


def _access_records(log_access: bool, url: str, headers: dict[str, str] | None = None):
    logger = logging.getLogger("c360.access")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        async def call():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(log_access)), base_url="http://test") as c:
                return await c.get(url, headers=headers or {})

        response = anyio.run(call)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return response, handler.records


def test_every_request_gets_one_access_line_with_its_request_id_and_no_query_string():
    response, records = _access_records(True, "/hello?q=what+a+user+typed", {"X-Request-ID": "trace-7"})
    assert response.status_code == 201 and response.headers["x-request-id"] == "trace-7"
    [record] = records
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == "c360.access" and line["message"].startswith("GET /hello 201 ") and line["message"].endswith(" ms trace-7")
    assert (line["request_id"], line["method"], line["path"], line["status"]) == ("trace-7", "GET", "/hello", 201)
    assert line["duration_ms"] >= 0 and line["level"] == "INFO" and line["ts"].endswith("Z")
    assert "typed" not in json.dumps(line)


def test_a_path_cannot_forge_a_plain_text_line():
    _, records = _access_records(True, "/hello%0A2026-01-01%20ERROR%20forged")
    [record] = records
    plain = logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)
    assert "\n" not in plain and "/hello%0A2026-01-01%20ERROR%20forged" in plain
    assert record.path == "/hello\n2026-01-01 ERROR forged"  # the field keeps the path itself (JSON escapes it)


def test_an_error_keeps_its_request_id_for_the_servers_own_log_line():
    from server.observability import request_id_var

    seen = {}

    async def boom(scope, receive, send):
        raise RuntimeError("view failed")

    async def call():
        middleware = RequestIdMiddleware(boom, Metrics())
        try:
            await middleware({"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"trace-9")]}, None, None)
        except RuntimeError:
            seen["rid"] = request_id_var.get()  # where uvicorn logs "Exception in ASGI application"

    anyio.run(call)
    assert seen["rid"] == "trace-9"


def test_the_access_line_can_be_switched_off():
    response, records = _access_records(False, "/hello")
    assert response.status_code == 201 and records == []


def test_json_lines_fall_back_for_what_orjson_refuses():
    record = logging.makeLogRecord({"name": "c360.x", "levelname": "INFO", "msg": "big", "args": (), "n": 2**70})
    assert json.loads(JsonFormatter().format(record))["n"] == 2**70


def test_c360_serve_writes_json_lines_only_with_the_request_id_on_each_access_line(published, tmp_path):
    """`c360 serve` as run: uvicorn's own lines are JSON too (it keeps the API's logging configuration),
    and its plain access line is replaced by the API's."""
    data = copy_published(published, tmp_path)
    key = new_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_SERVER__")} | {
        "C360_API_KEYS": json.dumps([{"name": "t", "role": "viewer", "sha256": hash_key(key)}]),
        "C360_SERVER__WRITE_BACK__ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    cmd = [sys.executable, "-m", "etl.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data),
           "--config-dir", str(CONFIG_DIR)]
    proc = Process(cmd, env, port, tmp_path / "serve.log")
    try:
        proc.wait_ready("/readyz", 120)
        r = httpx.post(f"http://127.0.0.1:{port}/graphql?trace=secret-term", headers={"X-API-Key": key},
                       json={"query": "{ __typename }"}, timeout=30)
        assert r.status_code == 200
        rid = r.headers["x-request-id"]
        deadline = time.monotonic() + 10
        while rid not in (tmp_path / "serve.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.stop()
    lines = [ln for ln in (tmp_path / "serve.log").read_text().splitlines() if ln.startswith("{")]
    records = [json.loads(ln) for ln in lines]
    # uvicorn's start-up lines, as JSON, without its terminal colours
    assert any(rec["logger"] == "uvicorn.error" for rec in records) and not any("color_message" in rec for rec in records)
    access = [rec for rec in records if rec["logger"] == "c360.access" and rec.get("request_id") == rid]
    assert len(access) == 1 and access[0]["path"] == "/graphql" and access[0]["status"] == 200
    text = (tmp_path / "serve.log").read_text()
    assert "secret-term" not in text and "HTTP/1.1" not in text  # no uvicorn access line
    assert key not in text and not any(ln.startswith("INFO:") for ln in text.splitlines())  # uvicorn's own format


def test_strawberrys_and_uvicorns_loggers_write_json_lines_too():
    from server.observability import configure_logging

    names = ("c360", "uvicorn", "uvicorn.error", "uvicorn.access", "strawberry")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names}
    try:
        configure_logging(True)
        for name in ("strawberry.execution", "uvicorn.error", "c360.server"):
            logger = logging.getLogger(name)
            while not logger.handlers:
                logger = logger.parent
            assert logger.name in names and isinstance(logger.handlers[0].formatter, JsonFormatter), name
    finally:
        for n, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
