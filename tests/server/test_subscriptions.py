"""Subscriptions over graphql-transport-ws: alertsChanged and customerUpdated, on mutations and new snapshots."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from etl import storage
from tests.server.conftest import copy_published
from tests.server.harness import ApiServer

PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def server(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path)) as api:
        yield api


@contextmanager
def _ws(api: ApiServer, key: str | None):
    with connect(f"ws://127.0.0.1:{api.port}/graphql", subprotocols=[PROTOCOL], open_timeout=5) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": key} if key else {}}))
        yield ws


def _next(ws, timeout: float = 5.0) -> dict:
    while True:
        msg = json.loads(ws.recv(timeout=timeout))
        if msg["type"] in ("next", "error", "complete"):
            return msg


def _wait_subscribers(api: ApiServer, n: int) -> None:
    deadline = time.monotonic() + 5
    while api.services.broker.subscribers < n:
        assert time.monotonic() < deadline, "subscriptions did not start"
        time.sleep(0.02)


def test_mutations_and_new_snapshots_reach_subscribers(server):
    api = server
    snap = storage.open_snapshot(api.data_dir)
    alerts = snap.read("gold", "gold_risk_alerts")
    alert = alerts[alerts["status"] == "OPEN"].iloc[0]
    account = alert["account_id"]
    with _ws(api, api.keys["viewer"]) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "c", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { customerUpdated(id: $id) { reason operation runId customer { id alerts { id status } } } }",
            "variables": {"id": account}}}))
        ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": {
            "query": "subscription { alertsChanged { reason operation alertIds customerIds runId } }"}}))
        _wait_subscribers(api, 2)
        ack = api.gql('mutation($id: ID!) { acknowledgeAlert(id: $id) { __typename } }', "operator", id=alert["alert_id"])
        assert ack["acknowledgeAlert"]["__typename"] == "AlertUpdated"
        got = {m["id"]: m for m in (_next(ws), _next(ws))}
        changed = got["a"]["payload"]["data"]["alertsChanged"]
        assert changed == {"reason": "MUTATION", "operation": "acknowledgeAlert", "alertIds": [alert["alert_id"]],
                           "customerIds": [account], "runId": "api-run"}
        updated = got["c"]["payload"]["data"]["customerUpdated"]
        assert updated["reason"] == "MUTATION" and updated["customer"]["id"] == account
        assert {a["id"]: a["status"] for a in updated["customer"]["alerts"]}[alert["alert_id"]] == "ACKNOWLEDGED"
        # a new snapshot published by the pipeline reaches both
        writer = storage.RunWriter(api.data_dir, "run-2")
        for name in snap.tables("gold"):
            writer.write("gold", name, snap.read("gold", name))
        writer.publish({"as_of": snap.manifest["as_of"]})
        got = {m["id"]: m for m in (_next(ws), _next(ws))}
        assert got["a"]["payload"]["data"]["alertsChanged"]["reason"] == "SNAPSHOT"
        assert got["a"]["payload"]["data"]["alertsChanged"]["runId"] == "run-2"
        assert got["c"]["payload"]["data"]["customerUpdated"]["reason"] == "SNAPSHOT"


def test_a_websocket_without_a_valid_key_is_refused(server):
    for key in (None, "c360_wrong"):
        with _ws(server, key) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd.code == 4403
