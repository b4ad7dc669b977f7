"""The emulator's HTTP surface: a Starlette app speaking Salesforce's wire format.

Routes (``{v}`` is any API version, e.g. ``62.0``)::

    POST   /services/oauth2/token                    JWT bearer and client-credentials grants
    POST   /services/Soap/u/{v}                      SOAP login (username + password + security token)
    GET    /services/data/v{v}/sobjects/{obj}/describe
    GET    /services/data/v{v}/query?q=  | queryAll?q=       first page: totalSize, done, nextRecordsUrl
    GET    /services/data/v{v}/query/{cursor}-{offset} | queryAll/...   next pages
    POST   /services/data/v{v}/jobs/query            Bulk 2.0 query job
    GET    /services/data/v{v}/jobs/query/{id}       job state (UploadComplete -> InProgress -> JobComplete)
    GET    /services/data/v{v}/jobs/query/{id}/results?maxRecords=&locator=   CSV, Sforce-Locator
    DELETE /services/data/v{v}/jobs/query/{id}
    GET    /services/data/v{v}/limits
    POST   /services/data/v{v}/sobjects/{obj}/               create a record (the API's Salesforce write-back)

`Gateway`, an ASGI middleware, does what Salesforce does around every data
call (check the bearer token, count the call against the daily limit,
answer 403 REQUEST_LIMIT_EXCEEDED past it, add ``Sforce-Limit-Info`` and
``Date``) and injects the faults a test asks for (`Fault`).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qs

import jwt
import numpy as np
import pandas as pd
import pyarrow as pa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from etl.extract.emulator.org import Org, sf_datetime
from etl.extract.emulator.soql import SoqlError, parse

ORG_ID = "00D000000000001EAA"
USER_ID = "005000000000001AAA"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")


def sf_error(status: int, error_code: str, message: str) -> JSONResponse:
    """Salesforce's REST error body: a list of {message, errorCode}."""
    return JSONResponse([{"message": message, "errorCode": error_code}], status_code=status)


@dataclass
class Fault:
    """One injected fault, applied to the next `times` matching data calls after skipping `after`.

    kind: ``status`` (answer `status` with `error_code`), ``slow`` (wait
    `seconds` before answering), ``drop`` (send half the body, then close the
    connection), ``expire`` (expire every session, then answer 401).
    `match` is a regex searched in ``"METHOD /path?query"``.
    """

    kind: Literal["status", "slow", "drop", "expire"]
    match: str = ""
    times: int = 1
    after: int = 0
    status: int = 503
    error_code: str = "SERVER_UNAVAILABLE"
    message: str = "Service temporarily unavailable"
    seconds: float = 1.0
    hits: int = 0  # matching calls seen so far

    def applies(self, line: str) -> bool:
        if self.times <= 0 or not re.search(self.match, line):
            return False
        self.hits += 1
        if self.hits <= self.after:
            return False
        self.times -= 1
        return True


@dataclass
class Auth:
    """Who may log in, and how.  Secrets here are the test's own throwaway values."""

    username: str = "etl@example.com"
    password: str = ""
    security_token: str = ""
    consumer_key: str = ""  # JWT bearer: the connected app's consumer key
    jwt_public_key_pem: bytes = b""  # ... and the certificate's public key
    client_id: str = ""  # client credentials
    client_secret: str = ""
    my_domain: str = "acme.my.salesforce.com"


@dataclass
class _Cursor:
    obj: str
    fields: list[str]
    idx: np.ndarray


@dataclass
class _Job:
    id: str
    obj: str
    fields: list[str]
    idx: np.ndarray
    operation: str
    created: str
    polls: int = 0
    state: str = "UploadComplete"


@dataclass
class Emulator:
    """The emulated org: records, sessions, API budget, clock and faults.

    Build it from bronze-shaped frames (``{"Account": df, ...}``); serve it
    with `etl.extract.emulator.EmulatorServer`.  Tests change it between
    runs through `org`, `now`, `faults`, `api_used` / `api_limit`.
    """

    frames: Mapping[str, pd.DataFrame | pa.Table] = field(default_factory=dict)
    api_version: str = "62.0"
    auth: Auth = field(default_factory=Auth)
    api_limit: int = 1_000_000
    api_used: int = 0
    bulk_polls_to_complete: int = 2  # job polls answered InProgress before JobComplete
    instance_host: str = "acme.my.salesforce.com"
    fixed_now: datetime | None = None  # None: the real clock

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.org = Org(self.frames, clock=self.now)
        self.faults: list[Fault] = []
        self.tokens: set[str] = set()
        self.issued: list[str] = []  # every session id ever handed out (tests check none leaks)
        self.cursors: dict[str, _Cursor] = {}
        self.jobs: dict[str, _Job] = {}
        self.requests: list[str] = []  # "METHOD host path" of every request, for assertions
        self.logins: list[tuple[str, str]] = []  # (flow, host)
        self.created: list[dict[str, Any]] = []  # every record created over REST: {"object", "id", "fields"}

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    def issue_token(self) -> str:
        """A new session id, as login would give (also for the session-id auth method)."""
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(40)}"
        with self.lock:
            self.tokens.add(token)
            self.issued.append(token)
        return token

    def expire_sessions(self) -> None:
        with self.lock:
            self.tokens.clear()

    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, line: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.applies(line):
                    return f
        return None

    def reset_state(self) -> None:
        """Forget sessions, cursors, jobs, faults and counters (between tests sharing a server)."""
        with self.lock:
            self.faults.clear()
            self.tokens.clear()
            self.cursors.clear()
            self.jobs.clear()
            self.requests.clear()
            self.logins.clear()
            self.created.clear()
            self.api_used = 0


# ---------------------------------------------------------------------- middleware


class _Dropped(Exception):
    """Raised after half a body was sent: the server then closes the connection."""


class Gateway:
    """Auth, API accounting, limit headers, the clock and fault injection."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emu: Emulator = scope["app"].state.emulator  # looked up per request: a test may swap it
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        line = f"{scope['method']} {path}" + (f"?{query}" if query else "")
        with emu.lock:
            emu.requests.append(f"{scope['method']} {headers.get('host', '')} {path}")
        extra: list[tuple[bytes, bytes]] = [(b"date", format_datetime(emu.now(), usegmt=True).encode())]
        is_data = path.startswith("/services/data/")
        drop = False
        if is_data:
            fault = emu.take_fault(line)
            if fault is not None and fault.kind == "expire":
                emu.expire_sessions()
            token = headers.get("authorization", "")[len("Bearer "):]
            with emu.lock:
                valid = token in emu.tokens
            if not valid:
                await self._reply(sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid"), scope, receive, send, extra)
                return
            with emu.lock:
                emu.api_used += 1
                used, limit = emu.api_used, emu.api_limit
            extra.append((b"sforce-limit-info", f"api-usage={used}/{limit}".encode()))
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.seconds)
            elif fault is not None and fault.kind == "drop":
                drop = True
            elif fault is not None and fault.kind == "status":
                await self._reply(sf_error(fault.status, fault.error_code, fault.message), scope, receive, send, extra)
                return
            if used > limit:
                await self._reply(sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), scope, receive, send, extra)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            elif message["type"] == "http.response.body" and drop:
                body = message.get("body", b"")
                await send({"type": "http.response.body", "body": body[: max(1, len(body) // 2)], "more_body": True})
                raise _Dropped("connection dropped by an injected fault")
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _reply(response: Response, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        response.raw_headers.extend(extra)
        await response(scope, receive, send)


# ---------------------------------------------------------------------- auth endpoints


def _emu(request: Request) -> Emulator:
    return request.app.state.emulator


def _host(request: Request) -> str:
    return request.headers.get("host", "").split(":")[0].lower()


def _token_response(emu: Emulator) -> JSONResponse:
    return JSONResponse(
        {
            "access_token": emu.issue_token(),
            "instance_url": f"https://{emu.instance_host}",
            "id": f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": str(int(emu.now().timestamp() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


async def oauth_token(request: Request) -> Response:
    emu = _emu(request)
    # parsed by hand: Starlette's request.form() needs python-multipart even for urlencoded bodies
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    grant = form.get("grant_type", "")
    host = _host(request)
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        emu.logins.append(("jwt", host))
        if not emu.auth.jwt_public_key_pem:
            return _oauth_error("invalid_grant", "invalid assertion")
        audiences = [f"https://{h}" for h in (*LOGIN_HOSTS, emu.auth.my_domain)]
        try:
            claims = jwt.decode(form.get("assertion", ""), emu.auth.jwt_public_key_pem, algorithms=["RS256"], audience=audiences)
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != emu.auth.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if claims.get("sub") != emu.auth.username or claims.get("aud") != f"https://{host}":
            return _oauth_error("invalid_grant", "invalid assertion")
        return _token_response(emu)
    if grant == "client_credentials":
        emu.logins.append(("client_credentials", host))
        if host in LOGIN_HOSTS:
            return _oauth_error("invalid_grant", "request not supported on this domain")
        try:
            scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
            cid, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return _oauth_error("invalid_client", "invalid client credentials")
        if scheme.lower() != "basic" or not emu.auth.client_id or (cid, secret) != (emu.auth.client_id, emu.auth.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        return _token_response(emu)
    return _oauth_error("unsupported_grant_type", "grant type not supported")


_SOAP_OK = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>\
<metadataServerUrl>https://{host}/services/Soap/m/{v}/{org}</metadataServerUrl><passwordExpired>false</passwordExpired>\
<sandbox>{sandbox}</sandbox><serverUrl>https://{host}/services/Soap/u/{v}/{org}</serverUrl><sessionId>{token}</sessionId>\
<userId>{user}</userId></result></loginResponse></soapenv:Body></soapenv:Envelope>"""
_SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>\
<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.\
</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>\
<sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault>\
</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""


async def soap_login(request: Request) -> Response:
    emu = _emu(request)
    host = _host(request)
    emu.logins.append(("password", host))
    try:
        root = ET.fromstring(await request.body())
    except ET.ParseError:
        return Response(_SOAP_FAULT, status_code=500, media_type="text/xml")
    values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
    a = emu.auth
    ok = a.password and values.get("username") == a.username and values.get("password") == a.password + a.security_token
    if not ok:
        return Response(_SOAP_FAULT, status_code=500, media_type="text/xml")
    body = _SOAP_OK.format(host=emu.instance_host, v=request.path_params["version"], org=ORG_ID, user=USER_ID,
                           token=emu.issue_token(), sandbox="true" if host == "test.salesforce.com" else "false")
    return Response(body, media_type="text/xml")


# ---------------------------------------------------------------------- data endpoints


async def describe(request: Request) -> Response:
    doc = _emu(request).org.describe(request.path_params["obj"])
    if doc is None:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    return JSONResponse(doc)


def _batch_size(request: Request) -> int:
    m = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
    return min(2000, max(200, int(m.group(1)))) if m else 2000


def _page(emu: Emulator, kind: str, cursor_id: str, offset: int, size: int) -> JSONResponse:
    cur = emu.cursors[cursor_id]
    end = min(offset + size, len(cur.idx))
    body: dict[str, Any] = {"totalSize": int(len(cur.idx)), "done": end >= len(cur.idx)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/v{emu.api_version}/{kind}/{cursor_id}-{end}"
    else:
        with emu.lock:
            emu.cursors.pop(cursor_id, None)
    body["records"] = emu.org.records_json(cur.obj, cur.fields, cur.idx[offset:end], emu.api_version)
    return JSONResponse(body)


async def query(request: Request) -> Response:
    emu = _emu(request)
    kind = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    soql = request.query_params.get("q")
    if soql is None:
        return sf_error(400, "MALFORMED_QUERY", "A query string is required: q")
    try:
        obj, fields, idx = emu.org.run(parse(soql), include_deleted=(kind == "queryAll"))
    except SoqlError as exc:
        return sf_error(400, exc.error_code, str(exc))
    cursor_id = "01g" + secrets.token_hex(6).upper()
    with emu.lock:
        emu.cursors[cursor_id] = _Cursor(obj, fields, idx)
    return _page(emu, kind, cursor_id, 0, _batch_size(request))


async def query_more(request: Request) -> Response:
    emu = _emu(request)
    kind = "queryAll" if "/queryAll/" in request.url.path else "query"
    cursor_id, _, offset = request.path_params["locator"].rpartition("-")
    if cursor_id not in emu.cursors or not offset.isdigit():
        return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(emu, kind, cursor_id, int(offset), _batch_size(request))


def _job_info(emu: Emulator, job: _Job) -> dict[str, Any]:
    info = {
        "id": job.id,
        "operation": job.operation,
        "object": job.obj,
        "createdById": USER_ID,
        "createdDate": job.created,
        "systemModstamp": job.created,
        "state": job.state,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(emu.api_version),
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
    }
    if job.state == "JobComplete":
        info.update({"numberRecordsProcessed": int(len(job.idx)), "retries": 0, "totalProcessingTime": 5})
    return info


async def create_job(request: Request) -> Response:
    emu = _emu(request)
    try:
        spec = await request.json()
    except ValueError:
        return sf_error(400, "JSON_PARSER_ERROR", "request body is not JSON")
    op = spec.get("operation")
    if op not in ("query", "queryAll"):
        return sf_error(400, "INVALIDJOB", f"operation {op!r} is not a query operation")
    if spec.get("contentType", "CSV") != "CSV" or spec.get("columnDelimiter", "COMMA") != "COMMA" or spec.get("lineEnding", "LF") != "LF":
        return sf_error(400, "INVALIDJOB", "the emulator serves CSV, COMMA, LF only")
    try:
        obj, fields, idx = emu.org.run(parse(str(spec.get("query", ""))), include_deleted=(op == "queryAll"))
    except SoqlError as exc:
        return sf_error(400, exc.error_code, str(exc))
    job = _Job("750" + secrets.token_hex(6).upper(), obj, fields, idx, op, sf_datetime(emu.now()))
    with emu.lock:
        emu.jobs[job.id] = job
    return JSONResponse(_job_info(emu, job))


def _job(request: Request) -> _Job | None:
    return _emu(request).jobs.get(request.path_params["job_id"])


async def job_info(request: Request) -> Response:
    emu = _emu(request)
    job = _job(request)
    if job is None:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    if request.method == "DELETE":
        with emu.lock:
            emu.jobs.pop(job.id, None)
        return Response(status_code=204)
    with emu.lock:
        job.polls += 1
        if job.state != "JobComplete":
            job.state = "JobComplete" if job.polls >= emu.bulk_polls_to_complete else "InProgress"
    return JSONResponse(_job_info(emu, job))


async def job_results(request: Request) -> Response:
    emu = _emu(request)
    job = _job(request)
    if job is None:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    if job.state != "JobComplete":
        return sf_error(400, "INVALIDJOB", f"job {job.id} is not complete (state {job.state})")
    try:
        max_records = int(request.query_params.get("maxRecords", "50000"))
        locator = request.query_params.get("locator")
        offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()) if locator else 0
    except ValueError:
        return sf_error(400, "INVALIDLOCATOR", "invalid locator or maxRecords")
    end = min(offset + max(1, max_records), len(job.idx))
    body = emu.org.records_csv(job.obj, job.fields, job.idx[offset:end])
    nxt = base64.b64encode(str(end).encode()).decode().rstrip("=") if end < len(job.idx) else "null"
    return Response(body, media_type="text/csv", headers={"Sforce-Locator": nxt, "Sforce-NumberOfRecords": str(end - offset)})


# Real fields of objects the bronze contract does not keep, accepted on create (and then only in `Emulator.created`).
_WRITABLE_EXTRA = {"Task": {"WhatId", "OwnerId", "Description", "Priority"}}
_READ_ONLY = {"Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp"}
_ID_PREFIX = {"Task": "00T", "Event": "00U", "Account": "001", "Contact": "003", "Case": "500", "Opportunity": "006"}


async def create_record(request: Request) -> Response:
    """POST /sobjects/{obj}/: insert one record, answering 201 {id, success, errors} like Salesforce."""
    emu = _emu(request)
    name = request.path_params["obj"]
    so = next((o for o in emu.org.objects.values() if o.name.lower() == name.lower() and o.name not in emu.org.unavailable), None)
    if so is None:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    try:
        body = await request.json()
    except ValueError:
        return sf_error(400, "JSON_PARSER_ERROR", "request body is not JSON")
    if not isinstance(body, dict):
        return sf_error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object value")
    fields = {k: v for k, v in body.items() if k != "attributes"}
    columns = set(so.table.column_names)
    extra = _WRITABLE_EXTRA.get(so.name, set())
    unknown = sorted(k for k in fields if k not in columns and k not in extra)
    if unknown:
        return sf_error(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {so.name}")
    read_only = sorted(k for k in fields if k in _READ_ONLY or (so.name == "Task" and k == "AccountId"))
    if read_only:
        return sf_error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {', '.join(read_only)}. "
                        "Please check the security settings of this field and verify that it is read/write for your profile "
                        "or permission set.")
    record_id = _ID_PREFIX.get(so.name, "a00") + secrets.token_hex(8).upper()[:12] + "AAA"
    row: dict[str, Any] = {k: v for k, v in fields.items() if k in columns}
    row["Id"] = record_id
    what = fields.get("WhatId")
    if so.name == "Task" and isinstance(what, str) and what.startswith("001") and "AccountId" in columns:
        row["AccountId"] = what  # Salesforce derives a Task's AccountId from its WhatId
    emu.org.insert(so.name, pd.DataFrame([row]))
    with emu.lock:
        emu.created.append({"object": so.name, "id": record_id, "fields": fields})
    return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)


async def limits(request: Request) -> Response:
    emu = _emu(request)
    return JSONResponse({"DailyApiRequests": {"Max": emu.api_limit, "Remaining": max(0, emu.api_limit - emu.api_used)}})


def create_app(emulator: Emulator) -> Starlette:
    """The ASGI app serving `emulator`."""
    data = "/services/data/v{version}"
    routes = [
        Route("/services/oauth2/token", oauth_token, methods=["POST"]),
        Route("/services/Soap/u/{version}", soap_login, methods=["POST"]),
        Route(data + "/sobjects/{obj}/describe", describe, methods=["GET"]),
        Route(data + "/query", query, methods=["GET"]),
        Route(data + "/query/", query, methods=["GET"]),  # simple-salesforce adds the slash
        Route(data + "/queryAll", query, methods=["GET"]),
        Route(data + "/queryAll/", query, methods=["GET"]),
        Route(data + "/query/{locator}", query_more, methods=["GET"]),
        Route(data + "/queryAll/{locator}", query_more, methods=["GET"]),
        Route(data + "/jobs/query", create_job, methods=["POST"]),
        Route(data + "/jobs/query/{job_id}", job_info, methods=["GET", "DELETE"]),
        Route(data + "/jobs/query/{job_id}/results", job_results, methods=["GET"]),
        Route(data + "/sobjects/{obj}", create_record, methods=["POST"]),
        Route(data + "/sobjects/{obj}/", create_record, methods=["POST"]),
        Route(data + "/limits", limits, methods=["GET"]),
        Route(data + "/limits/", limits, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Gateway)])
    app.state.emulator = emulator
    return app
