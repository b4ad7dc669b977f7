"""Mutations: typed results, idempotency under concurrency, status overlays, audit, manual links."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta

import httpx
import pandas as pd
import pytest

from etl import storage
from etl.linking.config import load_manual_linkages
from server.store import STATE_FILE

EXECUTE = """
mutation($id: ID!, $key: String!, $note: String) {
  executeAction(recommendationId: $id, idempotencyKey: $key, note: $note) {
    __typename
    ... on ActionExecuted { action { id recommendationId customerId note executedBy writeBack { status } }
                            recommendation { id status statusHistory { status by source reason } } }
    ... on AlreadyExecuted { recommendationId action { id } }
    ... on MutationError { message }
    ... on NotAllowed { currentStatus }
    ... on InvalidInput { field }
    ... on NotFound { what id }
  }
}
"""
DISMISS = """mutation($id: ID!, $reason: String!) { dismissRecommendation(id: $id, reason: $reason) {
  __typename ... on RecommendationUpdated { recommendation { status statusReason } } ... on MutationError { message }
  ... on NotAllowed { currentStatus } ... on InvalidInput { field } } }"""
ACK = """mutation($id: ID!, $note: String) { acknowledgeAlert(id: $id, note: $note) {
  __typename ... on AlertUpdated { alert { id status statusChangedBy statusReason } } ... on MutationError { message }
  ... on NotAllowed { currentStatus } } }"""
SNOOZE = """mutation($id: ID!, $until: Date!) { snoozeAlert(id: $id, until: $until) {
  __typename ... on AlertUpdated { alert { id status snoozedUntil } } ... on MutationError { message } ... on InvalidInput { field } } }"""


@pytest.fixture(scope="module")
def gold(api):
    snap = storage.open_snapshot(api.data_dir)
    return {"alerts": snap.read("gold", "gold_risk_alerts"), "recs": snap.read("gold", "gold_recommendations")}


def _open_recs(gold, n: int, skip: int = 0) -> list[pd.Series]:
    recs = gold["recs"]
    return [r for _, r in recs[recs["status"] == "OPEN"].iloc[skip : skip + n].iterrows()]


def _open_alert(gold, i: int) -> pd.Series:
    alerts = gold["alerts"]
    return alerts[alerts["status"] == "OPEN"].iloc[i]


def _db(api) -> sqlite3.Connection:
    return sqlite3.connect(api.data_dir / "state" / STATE_FILE)


def test_execute_action_changes_the_status_everywhere_at_once(api, gold):
    rec = _open_recs(gold, 1)[0]
    account = rec["account_id"]
    before = api.gql("{ dashboardSummary { openRecommendationsByPriority { label count } } }", "viewer")["dashboardSummary"]
    r = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="exec-1", note="called the CFO")["executeAction"]
    assert r["__typename"] == "ActionExecuted"
    assert r["action"]["recommendationId"] == rec["recommendation_id"] and r["action"]["customerId"] == account
    assert r["action"]["executedBy"] == "test-operator" and r["action"]["note"] == "called the CFO"
    assert r["action"]["writeBack"]["status"] == "NOT_CONFIGURED"  # no Salesforce credentials in this server
    assert r["recommendation"]["status"] == "EXECUTED"
    assert r["recommendation"]["statusHistory"][-1] == {"status": "EXECUTED", "by": "test-operator", "source": "API", "reason": "called the CFO"}
    # every read path shows the store's status over the snapshot's
    c = api.gql("query($id: ID!){ customer(id: $id) { recommendations { id status } } }", "viewer", id=account)["customer"]
    assert {x["id"]: x["status"] for x in c["recommendations"]}[rec["recommendation_id"]] == "EXECUTED"
    listed = api.gql("query($f: RecommendationFilter){ recommendations(filter: $f, first: 200) { edges { node { id } } } }",
                     "viewer", f={"statuses": ["EXECUTED"]})["recommendations"]["edges"]
    assert rec["recommendation_id"] in {e["node"]["id"] for e in listed}
    after = api.gql("{ dashboardSummary { openRecommendationsByPriority { label count } } }", "viewer")["dashboardSummary"]
    delta = {b["label"]: b["count"] - a["count"] for a, b in zip(before["openRecommendationsByPriority"], after["openRecommendationsByPriority"])}
    assert delta == {p: (-1 if p == rec["priority"] else 0) for p in ("HIGH", "MEDIUM", "LOW")}
    rest = api.get(f"/api/customer/{account}/recommendations", "viewer").json()["items"]
    assert {x["id"]: x["status"] for x in rest}[rec["recommendation_id"]] == "EXECUTED"


def test_same_key_returns_the_first_result_and_another_key_is_already_executed(api, gold):
    rec = _open_recs(gold, 1, skip=1)[0]
    first = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="exec-2")["executeAction"]
    again = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="exec-2")["executeAction"]
    assert first["__typename"] == again["__typename"] == "ActionExecuted"
    assert again["action"]["id"] == first["action"]["id"]
    other = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="exec-2b")["executeAction"]
    assert other["__typename"] == "AlreadyExecuted" and other["action"]["id"] == first["action"]["id"]
    # the same key with other arguments is refused, not replayed
    reused = api.gql(EXECUTE, "operator", id=_open_recs(gold, 1, skip=2)[0]["recommendation_id"], key="exec-2")["executeAction"]
    assert reused["__typename"] == "IdempotencyKeyReused"
    with _db(api) as db:
        assert db.execute("SELECT count(*) FROM actions WHERE recommendation_id = ?", (rec["recommendation_id"],)).fetchone()[0] == 1


def test_fifty_concurrent_identical_calls_execute_once(api, gold):
    rec = _open_recs(gold, 1, skip=3)[0]
    body = {"query": EXECUTE, "variables": {"id": rec["recommendation_id"], "key": "burst-1", "note": "burst"}}

    async def burst() -> list[dict]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=api.base_url, headers=api.headers("operator"), timeout=60, limits=limits) as client:
            responses = await asyncio.gather(*[client.post("/graphql", json=body) for _ in range(50)])
        assert {r.status_code for r in responses} == {200}
        return [r.json()["data"]["executeAction"] for r in responses]

    results = asyncio.run(burst())
    assert {r["__typename"] for r in results} == {"ActionExecuted"}
    assert len({r["action"]["id"] for r in results}) == 1
    with _db(api) as db:
        assert db.execute("SELECT count(*) FROM actions WHERE recommendation_id = ?", (rec["recommendation_id"],)).fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM status_changes WHERE id = ?", (rec["recommendation_id"],)).fetchone()[0] == 1
        outcomes = dict(db.execute("SELECT outcome, count(*) FROM audit_log WHERE idempotency_key = 'burst-1' GROUP BY outcome").fetchall())
    assert outcomes == {"ActionExecuted": 1, "replayed:ActionExecuted": 49}


def test_expected_failures_are_typed(api, gold):
    rec = _open_recs(gold, 1, skip=4)[0]
    nf = api.gql(EXECUTE, "operator", id="R001:nope:20260101", key="nf-1")["executeAction"]
    assert nf == {"__typename": "NotFound", "message": nf["message"], "what": "recommendation", "id": "R001:nope:20260101"}
    viewer = api.gql(EXECUTE, "viewer", id=rec["recommendation_id"], key="v-1")["executeAction"]
    assert viewer["__typename"] == "NotAllowed" and "operator" in viewer["message"]
    no_key = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="")["executeAction"]
    assert no_key["__typename"] == "InvalidInput" and no_key["field"] == "idempotencyKey"
    # a dismissed recommendation cannot be executed; dismissing needs a reason
    assert api.gql(DISMISS, "operator", id=rec["recommendation_id"], reason=" ")["dismissRecommendation"]["field"] == "reason"
    d = api.gql(DISMISS, "operator", id=rec["recommendation_id"], reason="customer already renewed")["dismissRecommendation"]
    assert d["recommendation"] == {"status": "DISMISSED", "statusReason": "customer already renewed"}
    late = api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="late-1")["executeAction"]
    assert late["__typename"] == "NotAllowed" and late["currentStatus"] == "DISMISSED"
    with _db(api) as db:
        assert db.execute("SELECT count(*) FROM actions WHERE recommendation_id = ?", (rec["recommendation_id"],)).fetchone()[0] == 0


def test_acknowledge_and_snooze_alerts(api, gold):
    alert = _open_alert(gold, 0)
    a = api.gql(ACK, "operator", id=alert["alert_id"], note="on it")["acknowledgeAlert"]
    assert a["alert"] == {"id": alert["alert_id"], "status": "ACKNOWLEDGED", "statusChangedBy": "user", "statusReason": "on it"}
    again = api.gql(ACK, "operator", id=alert["alert_id"])["acknowledgeAlert"]
    assert again["__typename"] == "NotAllowed" and again["currentStatus"] == "ACKNOWLEDGED"
    today = datetime.now(UTC).date()  # the server's "today" is UTC
    until = (today + timedelta(days=14)).isoformat()
    s = api.gql(SNOOZE, "operator", id=alert["alert_id"], until=until)["snoozeAlert"]
    assert s["alert"] == {"id": alert["alert_id"], "status": "SNOOZED", "snoozedUntil": until}
    past = api.gql(SNOOZE, "operator", id=alert["alert_id"], until=today.isoformat())["snoozeAlert"]
    assert past["__typename"] == "InvalidInput" and past["field"] == "until"
    listed = api.gql("query($f: AlertFilter){ alerts(filter: $f) { edges { node { id status } } } }", "viewer",
                     f={"customerId": alert["account_id"], "statuses": ["SNOOZED"]})["alerts"]["edges"]
    assert [e["node"]["id"] for e in listed] == [alert["alert_id"]]
    history = api.gql("query($id: ID!){ alert(id: $id) { statusHistory { status source by until } } }", "viewer", id=alert["alert_id"])
    assert [(h["status"], h["source"]) for h in history["alert"]["statusHistory"]] == [("OPEN", "SNAPSHOT"), ("ACKNOWLEDGED", "API"), ("SNOOZED", "API")]
    assert history["alert"]["statusHistory"][-1]["until"] == until


def test_audit_log_records_who_what_and_which_key(api, gold):
    alert = _open_alert(gold, 1)
    api.gql(ACK, "operator", id=alert["alert_id"])
    q = "query($t: String){ auditLog(first: 5, targetId: $t) { operation outcome actor apiKeyId role requestId customerId } }"
    entries = api.gql(q, "admin", t=alert["alert_id"])["auditLog"]
    assert entries[0]["operation"] == "acknowledgeAlert" and entries[0]["outcome"] == "AlertUpdated"
    assert entries[0]["actor"] == "test-operator" and entries[0]["role"] == "operator" and entries[0]["customerId"] == alert["account_id"]
    assert len(entries[0]["apiKeyId"]) == 12 and entries[0]["requestId"]
    denied = api.post(q, "operator", t=alert["alert_id"]).json()
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_store_changes_feed_the_rules_lifecycle_and_are_not_applied_twice(fresh_api, gold):
    """The state store's `lifecycle_status_changes` view is the frame rules.lifecycle takes on the next run."""
    api = fresh_api
    alert = _open_alert(gold, 2)
    assert api.gql(ACK, "operator", id=alert["alert_id"], note="handled")["acknowledgeAlert"]["__typename"] == "AlertUpdated"
    with _db(api) as db:
        changes = pd.read_sql("SELECT * FROM lifecycle_status_changes", db)
    assert list(changes.columns) == ["id", "new_status", "at", "reason", "until"]
    # the next nightly pipeline run, one day later, reads these changes from the store itself
    from etl.pipeline import RunOptions, run_pipeline
    from tests.server.harness import CONFIG_DIR

    snap = storage.open_snapshot(api.data_dir)
    as_of = date.fromisoformat(snap.manifest["as_of"]) + timedelta(days=1)
    published = run_pipeline(RunOptions(data_dir=api.data_dir, config_dir=CONFIG_DIR, as_of=as_of, run_id="next-run")).snapshot
    row = published.read("gold", "gold_risk_alerts").set_index("alert_id").loc[alert["alert_id"]]
    assert (row["status"], row["status_changed_by"], row["status_reason"]) == ("ACKNOWLEDGED", "user", "handled")
    # the server swaps to the new snapshot; the status comes from the snapshot now, and the API change is not shown twice
    q = "query($id: ID!){ snapshot { asOf { runId } } alert(id: $id) { status statusHistory { status source } } }"
    for _ in range(100):
        d = api.gql(q, "viewer", id=alert["alert_id"])
        if d["snapshot"]["asOf"]["runId"] == "next-run":
            break
        import time

        time.sleep(0.05)
    assert d["snapshot"]["asOf"]["runId"] == "next-run"
    assert d["alert"] == {"status": "ACKNOWLEDGED", "statusHistory": [{"status": "ACKNOWLEDGED", "source": "SNAPSHOT"}]}


def test_manual_link_decisions_are_admin_only_and_export_as_the_linker_config(fresh_api, gold, tmp_path):
    from server.links import export_manual_linkages
    from server.store import Store

    api = fresh_api
    accounts = sorted(gold["recs"]["account_id"].unique())[:3]
    q = """mutation($a: ID!, $b: ID!, $r: String!) { linkAccounts(accountIdA: $a, accountIdB: $b, reason: $r) {
             __typename ... on LinkDecisionRecorded { decision { id accountIdA accountIdB decision author active } }
             ... on MutationError { message } ... on InvalidInput { field } ... on NotFound { id } } }"""
    un = q.replace("linkAccounts", "unlinkAccounts")
    assert api.gql(q, "operator", a=accounts[0], b=accounts[1], r="same VAT number")["linkAccounts"]["__typename"] == "NotAllowed"
    assert api.gql(q, "admin", a=accounts[0], b=accounts[0], r="same VAT number")["linkAccounts"]["__typename"] == "InvalidInput"
    assert api.gql(q, "admin", a=accounts[0], b="001NOPE", r="same VAT number")["linkAccounts"] == {"__typename": "NotFound", "message": "no account '001NOPE' in the published snapshot", "id": "001NOPE"}
    ok = api.gql(q, "admin", a=accounts[1], b=accounts[0], r="same VAT number")["linkAccounts"]
    assert ok["decision"] == {"id": ok["decision"]["id"], "accountIdA": accounts[0], "accountIdB": accounts[1], "decision": "MUST_LINK",
                              "author": "test-admin", "active": True}
    api.gql(un, "admin", a=accounts[0], b=accounts[2], r="different companies")
    # a later decision on the same pair replaces the earlier one
    api.gql(un, "admin", a=accounts[0], b=accounts[1], r="they split in 2025")
    active = api.gql("{ linkDecisions { accountIdA accountIdB decision } }", "admin")["linkDecisions"]
    assert sorted((d["accountIdA"], d["accountIdB"], d["decision"]) for d in active) == [
        (accounts[0], accounts[1], "MUST_NOT_LINK"), (accounts[0], accounts[2], "MUST_NOT_LINK")]
    existing = tmp_path / "config"
    existing.mkdir()
    (existing / "manual_account_linkages.json").write_text(json.dumps({
        "must_link": [{"account_a": accounts[0], "account_b": accounts[1], "reason": "old belief", "author": "x", "date": "2025-01-01"},
                      {"account_a": "001A", "account_b": "001B", "reason": "kept as is", "author": "x", "date": "2025-01-01"}],
        "must_not_link": []}))
    store = Store.open(api.data_dir)
    try:
        target, _ = export_manual_linkages(store, existing)
    finally:
        store.close()
    reread = load_manual_linkages(target)
    assert [(p.account_a, p.account_b) for p in reread.must_link] == [("001A", "001B")]
    assert sorted((p.account_a, p.account_b, p.reason) for p in reread.must_not_link) == [
        (accounts[0], accounts[1], "they split in 2025"), (accounts[0], accounts[2], "different companies")]


def test_a_mutation_re_evaluates_the_customers_rules_on_the_per_customer_path(api, gold):
    rec = _open_recs(gold, 1, skip=6)[0]
    account = rec["account_id"]
    q = "query($id: ID!){ customer(id: $id) { ruleEvaluation { trigger rulesFingerprint firings { ruleId kind severity explanation { text } } } } }"
    assert api.gql(q, "viewer", id=account)["customer"]["ruleEvaluation"] is None
    api.gql(EXECUTE, "operator", id=rec["recommendation_id"], key="reeval-1")
    ev = api.gql(q, "viewer", id=account)["customer"]["ruleEvaluation"]
    assert ev["trigger"] == "executeAction" and ev["rulesFingerprint"]
    # durable-rules on this one customer agrees with the nightly batch that produced the snapshot
    alerts, recs = gold["alerts"], gold["recs"]
    as_of = alerts["as_of"].max()
    expected = {(r.alert_type, r.severity) for r in alerts[(alerts.account_id == account) & (alerts.last_seen == as_of)].itertuples()}
    expected |= {(r.rule_id, r.priority) for r in recs[(recs.account_id == account) & (recs.last_seen == as_of)].itertuples()}
    assert {(f["ruleId"], f["severity"]) for f in ev["firings"]} == expected
    texts = {(r.alert_type, r.explanation) for r in alerts[alerts.account_id == account].itertuples()}
    assert {(f["ruleId"], f["explanation"]["text"]) for f in ev["firings"] if f["kind"] == "alert"} == texts


def test_link_decisions_made_through_the_api_drive_the_next_pipeline_run(fresh_api):
    """linkAccounts / unlinkAccounts reach the linker on the next run without editing any file."""
    from etl.pipeline import RunOptions, run_pipeline
    from tests.server.harness import CONFIG_DIR

    api = fresh_api
    masters = storage.open_snapshot(api.data_dir).read("gold", "gold_master_accounts")
    singles = masters.groupby("master_id")["account_id"].transform("size") == 1
    a, b = sorted(masters.loc[singles, "account_id"])[:2]  # two unrelated single-account companies
    q = """mutation($a: ID!, $b: ID!, $r: String!) { linkAccounts(accountIdA: $a, accountIdB: $b, reason: $r) { __typename } }"""
    assert api.gql(q, "admin", a=a, b=b, r="same VAT number")["linkAccounts"]["__typename"] == "LinkDecisionRecorded"
    snap = storage.open_snapshot(api.data_dir)
    as_of = date.fromisoformat(snap.manifest["as_of"]) + timedelta(days=1)
    published = run_pipeline(RunOptions(data_dir=api.data_dir, config_dir=CONFIG_DIR, as_of=as_of, run_id="linked")).snapshot
    after = published.read("gold", "gold_master_accounts").set_index("account_id")
    assert after.loc[a, "master_id"] == after.loc[b, "master_id"]
    assert {after.loc[a, "method"], after.loc[b, "method"]} & {"manual", "MANUAL"}


DASHBOARD = """{ dashboardSummary(top: 100) { customers totalMrrUsd totalArrUsd averageHealth arrAtRiskUsd
  byHealthCategory { label count } byChurnLevel { label count } topAtRisk { id }
  alertsAvailable openAlertsBySeverity { label count } recommendationsAvailable openRecommendationsByPriority { label count } } }"""


def _whole_book(api, alert_status: dict[str, str], rec_status: dict[str, str]) -> dict:
    """The summary computed over the whole published book, with the given statuses put over the snapshot's."""
    snap = storage.open_snapshot(api.data_dir)
    m = snap.read("gold", "gold_customer_360_metrics")
    alerts, recs = snap.read("gold", "gold_risk_alerts"), snap.read("gold", "gold_recommendations")
    risky = m[m["churn_level"].isin(["HIGH", "MEDIUM"])].sort_values(["churn_level", "arr_usd", "account_id"], ascending=[True, False, True])

    def by(col, labels):
        return [{"label": lbl, "count": int((m[col] == lbl).sum())} for lbl in labels] + [{"label": "none", "count": int(m[col].isna().sum())}]

    def open_by(frame, key, level, overrides):
        status = pd.Series([overrides.get(i, s) for i, s in zip(frame[key], frame["status"], strict=True)], index=frame.index)
        return [{"label": lbl, "count": int(((status == "OPEN") & (frame[level] == lbl)).sum())} for lbl in ("HIGH", "MEDIUM", "LOW")]

    return {
        "customers": len(m),
        "totalMrrUsd": pytest.approx(m["mrr_usd"].fillna(0).sum()),
        "totalArrUsd": pytest.approx(m["arr_usd"].fillna(0).sum()),
        "averageHealth": round(m["health_score"].mean(), 1),
        "arrAtRiskUsd": pytest.approx(m.loc[m["churn_level"] == "HIGH", "arr_usd"].fillna(0).sum()),
        "byHealthCategory": by("health_category", ["Healthy", "At-Risk", "Critical"]),
        "byChurnLevel": by("churn_level", ["HIGH", "MEDIUM", "LOW"]),
        "topAtRisk": [{"id": i} for i in risky["account_id"].head(100)],
        "alertsAvailable": True,
        "openAlertsBySeverity": open_by(alerts, "alert_id", "severity", alert_status),
        "recommendationsAvailable": True,
        "openRecommendationsByPriority": open_by(recs, "recommendation_id", "priority", rec_status),
    }


def test_the_dashboard_shows_each_status_change_in_the_next_query(fresh_api, gold):
    """The book-level figures are computed once per snapshot; open counts follow every change at once."""
    api = fresh_api
    alerts, recs = {}, {}
    assert api.gql(DASHBOARD, "viewer")["dashboardSummary"] == _whole_book(api, alerts, recs)
    open_alerts = gold["alerts"][gold["alerts"]["status"] == "OPEN"]
    high = open_alerts[open_alerts["severity"] == "HIGH"].iloc[0]
    other = open_alerts[open_alerts["severity"] != "HIGH"].iloc[0]
    rec_a, rec_b = _open_recs(gold, 2)
    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    steps = [
        (ACK, {"id": high["alert_id"]}, alerts, high["alert_id"], "ACKNOWLEDGED"),
        (SNOOZE, {"id": other["alert_id"], "until": until}, alerts, other["alert_id"], "SNOOZED"),
        (SNOOZE, {"id": high["alert_id"], "until": until}, alerts, high["alert_id"], "SNOOZED"),  # still not OPEN: no change
        (EXECUTE, {"id": rec_a["recommendation_id"], "key": "dash-1"}, recs, rec_a["recommendation_id"], "EXECUTED"),
        (DISMISS, {"id": rec_b["recommendation_id"], "reason": "duplicate"}, recs, rec_b["recommendation_id"], "DISMISSED"),
    ]
    for mutation, variables, statuses, item, status in steps:
        before = api.gql(DASHBOARD, "viewer")["dashboardSummary"]
        result = next(iter(api.gql(mutation, "operator", **variables).values()))
        assert result["__typename"] in ("AlertUpdated", "ActionExecuted", "RecommendationUpdated"), result
        statuses[item] = status
        after = api.gql(DASHBOARD, "viewer")["dashboardSummary"]
        assert after == _whole_book(api, alerts, recs)
        moved = [b["count"] - a["count"] for key in ("openAlertsBySeverity", "openRecommendationsByPriority")
                 for a, b in zip(before[key], after[key], strict=True)]
        assert sorted(moved) == ([0] * 6 if status == "SNOOZED" and item == high["alert_id"] else [-1] + [0] * 5)


def test_a_customers_lists_show_the_stores_changes_field_by_field(fresh_api, gold):
    """Customer.alerts / .recommendations read only the selected columns and put the store's changes
    on top: after acknowledge, snooze, execute and dismiss, each field alone equals the same field of
    alert(id) / recommendation(id), which read whole rows."""
    from tests.server.test_api import ALERT_FIELDS, RECOMMENDATION_FIELDS

    api = fresh_api
    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    acked, snoozed = _open_alert(gold, 0), _open_alert(gold, 1)
    assert api.gql(ACK, "operator", id=acked["alert_id"], note="seen")["acknowledgeAlert"]["__typename"] == "AlertUpdated"
    assert api.gql(SNOOZE, "operator", id=snoozed["alert_id"], until=until)["snoozeAlert"]["__typename"] == "AlertUpdated"
    executed, dismissed = _open_recs(gold, 2)
    assert api.gql(EXECUTE, "operator", id=executed["recommendation_id"], key="k-fields", note=None)["executeAction"]["__typename"] == "ActionExecuted"
    assert api.gql(DISMISS, "operator", id=dismissed["recommendation_id"], reason="not now")["dismissRecommendation"]["__typename"] == "RecommendationUpdated"
    for field, one, fields, changed in (("alerts", "alert", ALERT_FIELDS, (acked, snoozed)),
                                        ("recommendations", "recommendation", RECOMMENDATION_FIELDS, (executed, dismissed))):
        for row in changed:
            q = f"query($id: ID!){{ customer(id: $id) {{ {field} {{ SELECTION }} }} }}"
            full = api.gql(q.replace("SELECTION", " ".join(fields)), "viewer", id=row["account_id"])["customer"][field]
            for o in full:
                assert api.gql(f"query($id: ID!){{ {one}(id: $id) {{ {' '.join(fields)} }} }}", "viewer", id=o["id"])[one] == o
            for f in fields:
                key = f.split(" ")[0]
                alone = api.gql(q.replace("SELECTION", "...F") + f" fragment F on {one.title()} {{ {f} }}", "viewer",
                                id=row["account_id"])["customer"][field]
                assert alone == [{key: o[key]} for o in full], (field, f)
            mine = next(o for o in full if o["id"] == row.get("alert_id", row.get("recommendation_id")))
            assert mine["statusHistory"][-1]["source"] == "API"

