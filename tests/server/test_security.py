"""API keys and roles, limits, CORS, introspection and GraphiQL switches, readiness, metrics, request ids."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import time

from typer.testing import CliRunner

from server.cli import cli
from server.config import CorsConfig, GraphQLConfig, LimitsConfig, load_server_config
from server.keys import hash_key
from server.store import STATE_FILE
from tests.server.conftest import copy_published
from tests.server.harness import CONFIG_DIR, ApiServer, server_config

Q = "{ snapshot { asOf { runId } } }"


def test_no_key_or_a_wrong_key_is_401(api):
    for headers in ({}, {"X-API-Key": "c360_not-a-key"}):
        resp = api.client.post("/graphql", json={"query": Q}, headers=headers)
        assert resp.status_code == 401
        assert resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert api.client.get("/api/dashboard/summary", headers=headers).status_code == 401
    assert api.post(Q, "viewer").status_code == 200


def test_keys_from_the_environment_are_hashes(published, tmp_path):
    key = "c360_env-key-for-the-test-0123456789"
    environ = {"C360_API_KEYS": json.dumps([{"name": "ci", "role": "viewer", "sha256": hash_key(key)}])}
    with ApiServer(copy_published(published, tmp_path), environ=environ) as api:
        assert api.client.post("/graphql", json={"query": Q}, headers={"X-API-Key": key}).status_code == 200
        assert api.client.post("/graphql", json={"query": Q}, headers={"X-API-Key": key + "x"}).status_code == 401


def test_anonymous_role_when_configured(published, tmp_path):
    config = server_config(auth={"anonymous_role": "viewer"})
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        assert api.post(Q, None).status_code == 200
        r = api.post('mutation { acknowledgeAlert(id: "X") { __typename ... on MutationError { message } } }', None).json()
        assert r["data"]["acknowledgeAlert"]["__typename"] == "NotAllowed"


def test_cli_creates_a_key_printed_once_and_stores_only_its_hash(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["api-key", "create", "--role", "operator", "--name", "crm", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("c360_") and len(key) > 40
    db = sqlite3.connect(tmp_path / "state" / STATE_FILE)
    rows = db.execute("SELECT name, role, sha256 FROM api_keys").fetchall()
    dump = "\n".join(db.iterdump())
    db.close()
    assert rows == [("crm", "operator", hash_key(key))] and key not in dump
    bad = runner.invoke(cli, ["api-key", "create", "--role", "root", "--data-dir", str(tmp_path)])
    assert bad.exit_code != 0


def test_depth_aliases_and_page_size_are_limited(published, tmp_path):
    config = server_config(limits=LimitsConfig(max_query_depth=4, max_aliases=3, max_page_size=20))
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        deep = "{ alerts { edges { node { customer { masterAccount { members { id } } } } } } }"
        body = api.post(deep, "viewer").json()
        assert "exceeds maximum operation depth of 4" in body["errors"][0]["message"]
        aliases = "{ a: snapshot { customers } b: snapshot { customers } c: snapshot { customers } d: snapshot { customers } }"
        assert "aliases" in api.post(aliases, "viewer").json()["errors"][0]["message"]
        body = api.post("{ customers(first: 21) { totalCount } }", "viewer").json()
        assert body["errors"][0]["message"] == "first must be between 0 and 20"
        assert api.gql("{ customers(first: 20) { edges { node { id } } } }", "viewer")["customers"]["edges"]


def test_request_body_size_is_limited(published, tmp_path):
    config = server_config(limits=LimitsConfig(max_body_bytes=2048))
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        big = {"query": Q, "variables": {"pad": "x" * 4000}}
        resp = api.client.post("/graphql", json=big, headers=api.headers("viewer"))
        assert resp.status_code == 413
        # a chunked body without a length is cut off too
        chunks = iter([json.dumps(big).encode()[i : i + 1000] for i in range(0, 5000, 1000)])
        resp = api.client.post("/graphql", content=chunks, headers={**api.headers("viewer"), "Content-Type": "application/json"})
        assert resp.status_code == 413
        assert api.post(Q, "viewer").status_code == 200
        # a body under the limit that arrives in parts is read whole (server.view.read_body), both by Strawberry
        # (a query's first request) and by the fast lane (after it)
        fresh = "query Parts($n: Int!) { customers(first: $n) { totalCount edges { node { id } } } }"
        body = json.dumps({"query": fresh, "variables": {"n": 2}}).encode()
        head = (b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"X-API-Key: {api.keys['viewer']}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        replies = []
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
                sock.sendall(head + body[:20])
                time.sleep(0.05)
                sock.sendall(body[20:])
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            replies.append(reply)
        want = api.post(fresh, "viewer", n=2).json()
        assert want["data"]["customers"]["edges"]
        for reply in replies:
            assert reply.startswith(b"HTTP/1.1 200") and json.loads(reply.split(b"\r\n\r\n", 1)[1]) == want, reply


def test_a_slow_body_gets_408_and_a_slow_query_504(published, tmp_path, monkeypatch):
    import asyncio
    import socket

    from server.loaders import Loaders

    config = server_config(limits=LimitsConfig(body_timeout_seconds=0.3, query_timeout_seconds=0.5))
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        # a client that sends half its body and stalls holds a connection, not the server
        body = json.dumps({"query": Q}).encode()
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + f"X-API-Key: {api.keys['viewer']}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:5])
            reply = b""
            while b"REQUEST_TIMEOUT" not in reply and (chunk := sock.recv(65536)):  # head and body may come apart
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 408") and b"REQUEST_TIMEOUT" in reply, reply

        # a query still waiting at its deadline is cancelled: here its customer lookups hang.  Both ways a
        # query runs: the fast lane's plan (a document it has admitted: answered once before) and Strawberry.
        async def stuck(self, ids):
            await asyncio.sleep(5)

        admitted = "query Admitted($n: Int!) { alerts(first: $n) { edges { node { id customer { id } } } } }"
        assert api.post(admitted, "viewer", n=1).status_code == 200
        monkeypatch.setattr(Loaders, "_customers", stuck)
        for q, variables in ((admitted, {"n": 2}), ("{ alerts(first: 3) { edges { node { id customer { id } } } } }", {})):
            started = time.monotonic()
            resp = api.post(q, "viewer", **variables)  # other variables: not the response cache's hit
            assert resp.status_code == 504 and resp.json()["errors"][0]["extensions"]["code"] == "TIMEOUT", resp.text
            assert time.monotonic() - started < 3, q  # at the 0.5 s deadline, not when the lookups give up (5 s)
        assert api.get("/api/dashboard/summary", "viewer").status_code == 200  # the server goes on
        assert api.post(Q, "viewer").status_code == 200


def test_introspection_and_graphiql_can_be_switched_off(published, tmp_path):
    intro = "{ __schema { queryType { name } } }"
    config = server_config(graphql=GraphQLConfig(graphiql=False, introspection=False))
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        assert "introspection" in api.post(intro, "viewer").json()["errors"][0]["message"].lower()
        assert api.client.get("/graphql", headers={"Accept": "text/html"}).status_code == 404
    with ApiServer(copy_published(published, tmp_path / "on"), config=server_config()) as api:
        assert api.gql(intro, "viewer")["__schema"]["queryType"]["name"] == "Query"
        assert "graphiql" in api.client.get("/graphql", headers={"Accept": "text/html"}).text.lower()


def test_cors_allows_only_the_listed_origins(published, tmp_path):
    config = server_config(cors=CorsConfig(allow_origins=["http://localhost:5173"]))
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"}
        ok = api.client.options("/graphql", headers={"Origin": "http://localhost:5173", **pre})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "x-api-key" in ok.headers["access-control-allow-headers"].lower()
        bad = api.client.options("/graphql", headers={"Origin": "http://evil.example", **pre})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers


def test_readyz_and_metrics(api):
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True and "gold_risk_alerts" in ready.json()["tables"]
    api.post(Q, "viewer")
    api.post(Q, "viewer")
    text = api.client.get("/metrics").text
    assert 'c360_http_requests_total{route="/graphql",method="POST",status="200"}' in text
    assert 'c360_http_request_duration_seconds_bucket{route="/graphql",method="POST",le="+Inf"}' in text
    assert "c360_cache_hits_total" in text and "c360_snapshot_age_seconds" in text and "c360_outbox_pending 0" in text


def test_request_ids_are_echoed_and_unexpected_errors_are_masked_and_logged(api, caplog, monkeypatch):
    resp = api.post(Q, "viewer")
    assert len(resp.headers["x-request-id"]) == 16
    assert len({api.post(Q, "viewer").headers["x-request-id"] for _ in range(20)} | {resp.headers["x-request-id"]}) == 21
    mine = api.client.post("/graphql", json={"query": Q}, headers={**api.headers("viewer"), "X-Request-ID": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"

    def boom(*a, **k):
        raise RuntimeError("database exploded: secret detail")

    monkeypatch.setattr(api.services.store, "audit_entries", boom)
    with caplog.at_level(logging.ERROR, logger="c360.server.graphql"):
        r = api.client.post("/graphql", json={"query": "{ auditLog { operation } }"}, headers={**api.headers("admin"), "X-Request-ID": "trace-43"})
    assert r.json()["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in r.text
    logged = [rec for rec in caplog.records if "database exploded" in rec.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_json_log_lines_carry_the_request_id():
    from server.observability import JsonFormatter, request_id_var

    token = request_id_var.set("rid-1")
    try:
        record = logging.makeLogRecord({"name": "c360.server", "levelname": "INFO", "msg": "hello %s", "args": ("x",), "account_id": "001"})
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello x" and line["request_id"] == "rid-1" and line["account_id"] == "001"


def test_shipped_server_config_is_valid():
    config = load_server_config(CONFIG_DIR)
    assert config.auth.anonymous_role is None and config.limits.max_page_size >= 100
    overridden = load_server_config(CONFIG_DIR, environ={"C360_SERVER__CACHE__TTL_SECONDS": "5"})
    assert overridden.cache.ttl_seconds == 5


