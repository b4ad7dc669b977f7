"""The REST routes return what GraphQL returns for the same question, under the same auth."""

from __future__ import annotations

import pytest

from etl import storage


@pytest.fixture(scope="module")
def sample(api):
    snap = storage.open_snapshot(api.data_dir)
    alerts = snap.read("gold", "gold_risk_alerts")
    recs = snap.read("gold", "gold_recommendations")
    account = recs.loc[recs["status"] == "OPEN", "account_id"].value_counts().index[0]
    return {"account": account, "alerts": alerts, "recs": recs, "metrics": snap.read("gold", "gold_customer_360_metrics")}


def test_customer_360_is_the_same_over_rest_and_graphql(api, sample):
    from server.rest import DOCUMENTS

    a = sample["account"]
    rest = api.get(f"/api/customer/{a}", "viewer")
    assert rest.status_code == 200
    graphql = api.gql(DOCUMENTS["customer"], "viewer", id=a)["customer"]
    assert rest.json() == graphql
    assert rest.json()["name"] == sample["metrics"].set_index("account_id").loc[a, "account_name"]
    assert api.get("/api/customer/001NOPE", "viewer").status_code == 404


def test_alerts_recommendations_and_timeline(api, sample):
    a = sample["account"]
    q = """query($id: ID!) { customer(id: $id) { alerts { id status severity message }
            recommendations { id status priority title action } timeline(first: 5) { totalCount events { id date type } } } }"""
    g = api.gql(q, "viewer", id=a)["customer"]
    alerts = api.get(f"/api/customer/{a}/alerts", "viewer").json()["items"]
    recs = api.get(f"/api/customer/{a}/recommendations", "viewer").json()["items"]
    timeline = api.get(f"/api/customer/{a}/timeline", "viewer", first=5).json()
    assert [(x["id"], x["status"], x["severity"], x["message"]) for x in alerts] == [tuple(x.values()) for x in g["alerts"]]
    assert [(x["id"], x["status"], x["priority"], x["title"], x["action"]) for x in recs] == [tuple(x.values()) for x in g["recommendations"]]
    assert sorted(x["id"] for x in alerts) == sorted(sample["alerts"].loc[sample["alerts"]["account_id"] == a, "alert_id"])
    assert timeline["totalCount"] == g["timeline"]["totalCount"]
    assert [(e["id"], e["date"], e["type"]) for e in timeline["events"]] == [tuple(e.values()) for e in g["timeline"]["events"]]
    assert api.get(f"/api/customer/{a}/timeline", "viewer", first="many").status_code == 400


def test_search_list_and_dashboard(api, sample):
    name = sample["metrics"]["account_name"].dropna().iloc[3]
    rest = api.get("/api/customers", "viewer", q=name[:4]).json()["items"]
    g = api.gql("query($q: String!){ searchCustomers(query: $q, limit: 10) { score customer { id name } } }", "viewer", q=name[:4])["searchCustomers"]
    assert [(h["score"], h["customer"]["id"]) for h in rest] == [(h["score"], h["customer"]["id"]) for h in g]
    page = api.get("/api/customers", "viewer", first=3).json()
    assert page["totalCount"] == len(sample["metrics"]) and len(page["edges"]) == 3
    dash = api.get("/api/dashboard/summary", "viewer").json()
    g = api.gql("{ dashboardSummary { customers totalArrUsd openAlertsBySeverity { label count } } }", "viewer")["dashboardSummary"]
    assert (dash["customers"], dash["totalArrUsd"], dash["openAlertsBySeverity"]) == (g["customers"], g["totalArrUsd"], g["openAlertsBySeverity"])


def test_execute_action_over_rest(api, sample):
    recs = sample["recs"]
    rec = recs[(recs["status"] == "OPEN") & (recs["account_id"] != sample["account"])].iloc[-1]
    path = f"/api/actions/{rec['recommendation_id']}/execute"
    assert api.client.post(path, json={"idempotencyKey": "rest-1"}).status_code == 401
    viewer = api.client.post(path, json={"idempotencyKey": "rest-1"}, headers=api.headers("viewer"))
    assert viewer.status_code == 403 and viewer.json()["__typename"] == "NotAllowed"
    missing = api.client.post(path, json={}, headers=api.headers("operator"))
    assert missing.status_code == 400 and missing.json()["field"] == "idempotencyKey"
    first = api.client.post(path, json={"note": "via REST"}, headers={**api.headers("operator"), "Idempotency-Key": "rest-2"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["__typename"] == "ActionExecuted" and body["recommendation"]["status"] == "EXECUTED" and body["action"]["note"] == "via REST"
    again = api.client.post(path, json={"note": "via REST"}, headers={**api.headers("operator"), "Idempotency-Key": "rest-2"})
    assert again.status_code == 200 and again.json()["action"]["id"] == body["action"]["id"]
    other = api.client.post(path, json={"idempotencyKey": "rest-3"}, headers=api.headers("operator"))
    assert other.status_code == 409 and other.json()["action"]["id"] == body["action"]["id"]
    nf = api.client.post("/api/actions/R001:nope:20260101/execute", json={"idempotencyKey": "rest-4"}, headers=api.headers("operator"))
    assert nf.status_code == 404
    g = api.gql("query($id: ID!){ recommendation(id: $id) { status } }", "viewer", id=rec["recommendation_id"])
    assert g["recommendation"]["status"] == "EXECUTED"
