"""executeAction's Salesforce write-back against the local Salesforce emulator: a Task on the account,
assigned to its owner, sent through a durable outbox - retried while Salesforce fails, never sent twice."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from etl import storage
from etl.extract.config import load_salesforce_config
from etl.extract.credentials import SalesforceCredentials
from etl.extract.emulator import Auth, Emulator, EmulatorServer, Fault, loopback_session
from server.config import WriteBackConfig
from server.writeback import SalesforceTasks
from tests.server.conftest import copy_published
from tests.server.harness import CONFIG_DIR, ApiServer, free_port, server_config

PASSWORD, TOKEN = "pw-Writeback-1", "tok-Writeback-2"
FAST = WriteBackConfig(retry_base_seconds=0.05, retry_max_seconds=0.2, poll_seconds=0.1, attempt_timeout_seconds=5)
EXECUTE = """mutation($id: ID!, $key: String!, $note: String) { executeAction(recommendationId: $id, idempotencyKey: $key, note: $note) {
  __typename ... on ActionExecuted { action { id writeBack { status } } } ... on MutationError { message } } }"""
WRITE_BACK = """query($id: ID!) { recommendation(id: $id) { status executedAction { id
  writeBack { status attempts lastError salesforceTaskId sentAt } } } }"""


@pytest.fixture(scope="module")
def sf_server():
    with EmulatorServer(Emulator()) as srv:
        yield srv


@pytest.fixture
def org(sf_server, published):
    """A fresh emulated org holding the sample's accounts and tasks."""
    frames = {t: storage.read_bronze(published, t) for t in ("Account", "Task", "User")}
    return sf_server.swap(Emulator(frames=frames, auth=Auth(password=PASSWORD, security_token=TOKEN)))


def _tasks(session_factory) -> SalesforceTasks:
    creds = SalesforceCredentials(method="password", username="etl@example.com", password=SecretStr(PASSWORD),
                                  security_token=SecretStr(TOKEN), domain="login")
    return SalesforceTasks(creds, load_salesforce_config(CONFIG_DIR / "salesforce_config.json"), FAST, session_factory)


def _server(data_dir, tasks) -> ApiServer:
    return ApiServer(data_dir, config=server_config(write_back=FAST), salesforce=tasks)


def _open_rec(data_dir, i: int = 0):
    recs = storage.open_snapshot(data_dir).read("gold", "gold_recommendations")
    return recs[recs["status"] == "OPEN"].iloc[i]


def _wait_sent(api: ApiServer, rec_id: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        wb = api.gql(WRITE_BACK, "viewer", id=rec_id)["recommendation"]["executedAction"]["writeBack"]
        if wb["status"] == "SENT" or time.monotonic() > deadline:
            return wb
        time.sleep(0.05)


def _created_tasks(org: Emulator, outbox_tag: str | None = None) -> list[dict]:
    return [c for c in org.created if c["object"] == "Task" and (outbox_tag is None or outbox_tag in c["fields"]["Subject"])]


def test_executed_action_becomes_a_task_for_the_account_owner(org, sf_server, published, tmp_path):
    data_dir = copy_published(published, tmp_path)
    rec = _open_rec(data_dir)
    owner = storage.open_snapshot(data_dir).read("gold", "gold_customer_360_metrics").set_index("account_id").loc[rec["account_id"], "owner_id"]
    with _server(data_dir, _tasks(sf_server.session)) as api:
        r = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="wb-1", note="booked for Tuesday")["executeAction"]
        assert r["__typename"] == "ActionExecuted" and r["action"]["writeBack"]["status"] in ("PENDING", "SENT")
        wb = _wait_sent(api, rec["recommendation_id"])
    assert wb["status"] == "SENT" and wb["attempts"] == 1 and wb["lastError"] is None, wb
    created = _created_tasks(org)
    assert len(created) == 1 and created[0]["id"] == wb["salesforceTaskId"]
    fields = created[0]["fields"]
    assert fields["WhatId"] == rec["account_id"] and fields["OwnerId"] == owner
    assert fields["Subject"].startswith(rec["rule_name"]) and "[C360 ob_" in fields["Subject"]
    assert rec["action"] in fields["Description"] and "booked for Tuesday" in fields["Description"]
    # the org now has it as a Task on the account, as the extractor would read it back
    tasks = org.org.frame("Task")
    assert tasks.set_index("Id").loc[wb["salesforceTaskId"], "AccountId"] == rec["account_id"]


def test_salesforce_errors_are_retried_until_the_task_is_written_once(org, sf_server, published, tmp_path):
    org.add_fault(Fault(kind="status", match=r"POST .*/sobjects/Task", times=3, status=503, error_code="SERVER_UNAVAILABLE"))
    data_dir = copy_published(published, tmp_path)
    rec = _open_rec(data_dir, 1)
    with _server(data_dir, _tasks(sf_server.session)) as api:
        api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="wb-2")
        wb = _wait_sent(api, rec["recommendation_id"])
    assert wb["status"] == "SENT" and wb["attempts"] == 4
    assert len(_created_tasks(org)) == 1


def test_a_lost_response_does_not_create_a_second_task(org, sf_server, published, tmp_path):
    """Salesforce creates the Task but the answer never arrives: the next attempt finds it by its outbox marker."""
    org.add_fault(Fault(kind="drop", match=r"POST .*/sobjects/Task", times=1))
    data_dir = copy_published(published, tmp_path)
    rec = _open_rec(data_dir, 2)
    with _server(data_dir, _tasks(sf_server.session)) as api:
        api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="wb-3")
        wb = _wait_sent(api, rec["recommendation_id"])
    created = _created_tasks(org)
    assert wb["status"] == "SENT" and wb["attempts"] == 2
    assert len(created) == 1 and created[0]["id"] == wb["salesforceTaskId"]


def test_the_outbox_survives_a_restart_while_salesforce_is_unreachable(org, sf_server, published, tmp_path):
    data_dir = copy_published(published, tmp_path)
    rec = _open_rec(data_dir, 3)
    closed = free_port()  # nothing listens there: every connection is refused
    with _server(data_dir, _tasks(lambda: loopback_session(closed, sf_server.ca_path))) as api:
        api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="wb-4")
        deadline = time.monotonic() + 10
        while True:
            wb = api.gql(WRITE_BACK, "viewer", id=rec["recommendation_id"])["recommendation"]["executedAction"]["writeBack"]
            if wb["attempts"] >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert wb["status"] == "PENDING" and wb["attempts"] >= 2 and "Error" in wb["lastError"]
    assert _created_tasks(org) == []
    # a new process over the same state directory, with Salesforce back
    with _server(data_dir, _tasks(sf_server.session)) as api:
        wb = _wait_sent(api, rec["recommendation_id"])
        replay = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="wb-4")["executeAction"]
    assert wb["status"] == "SENT"
    assert replay["__typename"] == "ActionExecuted"
    assert len(_created_tasks(org)) == 1


def test_the_emulator_creates_tasks_like_salesforce(org, sf_server):
    """POST /sobjects/Task/: 201 with the new id; unknown and read-only fields refused with Salesforce's codes."""
    s = sf_server.session()
    token = org.issue_token()
    url = f"{sf_server.instance_url}/services/data/v{org.api_version}/sobjects/Task/"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    account = org.org.frame("Account")["Id"].iloc[0]
    ok = s.post(url, json={"WhatId": account, "Subject": "Call", "Status": "Not Started"}, headers=headers)
    assert ok.status_code == 201 and ok.json()["success"] is True and ok.json()["id"].startswith("00T")
    assert org.org.frame("Task").set_index("Id").loc[ok.json()["id"], "AccountId"] == account
    unknown = s.post(url, json={"Subject": "x", "Colour__c": "red"}, headers=headers)
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    read_only = s.post(url, json={"Subject": "x", "AccountId": account}, headers=headers)
    assert read_only.status_code == 400 and read_only.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert s.post(url, json={"Subject": "x"}).status_code == 401
    assert len(org.created) == 1
