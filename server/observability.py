"""Request ids, structured JSON logs and Prometheus metrics.

`RequestIdMiddleware` gives every HTTP request an id (the caller's
``X-Request-ID`` when it is sane, else a new one), echoes it in the
response, keeps it in a context variable for the log records, counts the
request and its latency by route, and writes its access line (logger
``c360.access``: method, path without the query string, status, duration,
client, request id).  `JsonFormatter` writes one JSON object per log line
with that id.  `Metrics.render` writes the Prometheus text format (version
0.0.4) without a client library.

uvicorn's own access log is off under `c360 serve`: its line has no request
id, and its query string may carry what a user typed into search.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import re
import threading
import time
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import quote

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Request ids: this process's random prefix and a counter - unique without a system call per request (uuid4
# reads os.urandom); 16 hex digits, as before.
_ID_PREFIX = uuid.uuid4().hex[:6]
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFF:010x}"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra`` fields."""

    # a record's own attributes, and uvicorn's copy of its message with terminal colours
    _RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # the last whole second formatted (one strftime a second)

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        reserved = self._RESERVED
        for k, v in record.__dict__.items():
            if k not in reserved and k not in out:
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(out, default=str).decode()  # a line in ~1 us; json takes ~4
        except TypeError:  # orjson.JSONEncodeError: what it refuses (an int past 64 bits, ...)
            return json.dumps(out, default=str)


def configure_logging(json_logs: bool, level: int = logging.INFO) -> None:
    """JSON (or plain) lines on stderr for the c360 loggers, uvicorn's and Strawberry's (run uvicorn with
    ``log_config=None``, or its own configuration replaces this for its loggers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("c360", "uvicorn", "uvicorn.error", "uvicorn.access", "strawberry"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(level)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds
        self.n += 1


class Metrics:
    """Counters and latency histograms by (route, method, status), plus gauges read at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
        self.counters: dict[str, int] = defaultdict(int)  # cache_hits, cache_misses, graphql_errors, ...
        self.gauges: dict[str, Callable[[], float | None]] = {}
        self.help: dict[str, str] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            self.latency[(route, method)].observe(seconds)

    def inc(self, name: str, by: int = 1) -> None:
        with self._lock:
            self.counters[name] += by

    def gauge(self, name: str, fn: Callable[[], float | None], help_text: str) -> None:
        self.gauges[name] = fn
        self.help[name] = help_text

    def render(self) -> str:
        lines = [
            "# HELP c360_http_requests_total HTTP requests by route, method and status.",
            "# TYPE c360_http_requests_total counter",
        ]
        with self._lock:
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(f'c360_http_requests_total{{route="{route}",method="{method}",status="{status}"}} {n}')
            lines += [
                "# HELP c360_http_request_duration_seconds HTTP request latency by route and method.",
                "# TYPE c360_http_request_duration_seconds histogram",
            ]
            for (route, method), h in sorted(self.latency.items()):
                cumulative = 0
                for bound, c in zip((*LATENCY_BUCKETS, float("inf")), h.counts):
                    cumulative += c
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'c360_http_request_duration_seconds_bucket{{route="{route}",method="{method}",le="{le}"}} {cumulative}')
                lines.append(f'c360_http_request_duration_seconds_sum{{route="{route}",method="{method}"}} {h.sum:.6f}')
                lines.append(f'c360_http_request_duration_seconds_count{{route="{route}",method="{method}"}} {h.n}')
            for name, n in sorted(self.counters.items()):
                lines += [f"# TYPE c360_{name}_total counter", f"c360_{name}_total {n}"]
        for name, fn in sorted(self.gauges.items()):
            value = fn()
            if value is None:
                continue
            lines += [f"# HELP c360_{name} {self.help[name]}", f"# TYPE c360_{name} gauge", f"c360_{name} {float(value):.6g}"]
        return "\n".join(lines) + "\n"


def route_label(path: str) -> str:
    """A bounded label: the API's route templates, never raw ids."""
    if path in ("/graphql", "/healthz", "/readyz", "/metrics"):
        return path
    if path.startswith("/api/"):
        parts = path.split("/")
        if len(parts) >= 4 and parts[2] in ("customer", "actions"):
            return "/".join(parts[:3] + ["{id}"] + parts[4:])
        return path if len(parts) <= 4 else "/api/other"
    return "/static"


access_log = logging.getLogger("c360.access")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, log_access: bool = True):
        self.app = app
        self.metrics = metrics
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _SANE_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            self._done(scope, status, start, rid)
            # the id stays set: the server's own log line of this error (uvicorn's, in this request's task,
            # which ends with it) carries it too
            raise
        self._done(scope, status, start, rid)
        request_id_var.reset(token)

    def _done(self, scope: Scope, status: int, start: float, rid: str) -> None:
        if scope["type"] == "http":
            seconds = time.perf_counter() - start
            self.metrics.observe(route_label(scope["path"]), scope["method"], status, seconds)
            if self.log_access and access_log.isEnabledFor(logging.INFO):
                self._access(scope, status, seconds, rid)

    @staticmethod
    def _access(scope: Scope, status: int, seconds: float, rid: str) -> None:
        client = scope.get("client")
        ms = round(seconds * 1000, 3)
        # The path without its query string: a search's `q=` is what a user typed.  In the message it is
        # percent-quoted (as uvicorn's line had it): a path with a line break cannot forge a plain-text line.
        # The record is made directly: `Logger.info` would first walk the stack for the caller's file and line.
        access_log.handle(access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "%s %s %d %.1f ms %s",
            (scope["method"], quote(scope["path"]), status, ms, rid), None,
            extra={"method": scope["method"], "path": scope["path"], "status": status, "duration_ms": ms,
                   "client": client[0] if client else None, "request_id": rid}))
