"""Alerts, recommendations, master accounts and the review queue, checked against the published tables."""

from __future__ import annotations

import shutil

import pytest

from etl import storage
from tests.server.harness import ApiServer

ALERT = """
fragment A on Alert {
  id type name category severity status firstSeen lastSeen snoozedUntil message impactUsd ruleVersion customerId
  explanation { text conditions { field op threshold actual met } }
  statusHistory { status by source }
  asOf { date runId }
}
"""


@pytest.fixture(scope="module")
def gold(api):
    snap = storage.open_snapshot(api.data_dir)
    return {t: snap.read("gold", t) for t in snap.tables("gold")}


def test_snapshot_says_which_tables_it_has(api):
    d = api.gql("{ snapshot { asOf { runId } customers alertsAvailable recommendationsAvailable linkingAvailable } }", "viewer")["snapshot"]
    assert d["asOf"]["runId"] == "api-run"
    assert d["alertsAvailable"] and d["recommendationsAvailable"] and d["linkingAvailable"]


def test_alerts_page_through_the_whole_table_in_order(api, gold):
    alerts = gold["gold_risk_alerts"]
    q = ALERT + "query($after: String){ alerts(first: 100, after: $after) { available totalCount pageInfo { hasNextPage endCursor } edges { node { ...A } } } }"
    seen, after = [], None
    while True:
        page = api.gql(q, "viewer", after=after)["alerts"]
        assert page["available"] and page["totalCount"] == len(alerts)
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(a["id"] for a in seen) == sorted(alerts["alert_id"])
    rank = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
    assert [rank[a["severity"]] for a in seen] == sorted(rank[a["severity"]] for a in seen)
    row = alerts.set_index("alert_id").loc[seen[0]["id"]]
    first = seen[0]
    assert (first["type"], first["status"], first["message"]) == (row["alert_type"], row["status"], row["message"])
    assert first["impactUsd"] == pytest.approx(row["impact_usd"])
    assert first["explanation"]["text"] == row["explanation"]
    assert [(c["field"], c["actual"], c["met"]) for c in first["explanation"]["conditions"]] == [
        (c["field"], c["actual"], c["met"]) for c in row["conditions"]
    ]
    assert first["statusHistory"] == [{"status": row["status"], "by": row["status_changed_by"], "source": "SNAPSHOT"}]


def test_alert_filters(api, gold):
    alerts = gold["gold_risk_alerts"]
    q = "query($f: AlertFilter){ alerts(first: 200, filter: $f) { totalCount edges { node { type severity customerId } } } }"
    d = api.gql(q, "viewer", f={"severities": ["HIGH"], "types": ["CHURN_RISK"]})["alerts"]
    assert d["totalCount"] == int(((alerts["severity"] == "HIGH") & (alerts["alert_type"] == "CHURN_RISK")).sum()) > 0
    assert {(e["node"]["type"], e["node"]["severity"]) for e in d["edges"]} == {("CHURN_RISK", "HIGH")}
    account = alerts["account_id"].iloc[0]
    d = api.gql(q, "viewer", f={"customerId": account})["alerts"]
    assert d["totalCount"] == int((alerts["account_id"] == account).sum())


def test_recommendations_carry_rule_title_action_and_outcome(api, gold):
    recs = gold["gold_recommendations"]
    q = """query($f: RecommendationFilter){ recommendations(first: 5, filter: $f) { totalCount edges { node {
            id ruleId title category priority status action expectedOutcome message impactUsd
            explanation { text conditions { field } } outcome { healthScoreAtLastSeen } statusHistory { status source }
            customer { id name } } } } }"""
    d = api.gql(q, "viewer", f={"priorities": ["HIGH"]})["recommendations"]
    assert d["totalCount"] == int((recs["priority"] == "HIGH").sum())
    node = d["edges"][0]["node"]
    row = recs.set_index("recommendation_id").loc[node["id"]]
    assert (node["ruleId"], node["title"], node["action"], node["expectedOutcome"]) == (
        row["rule_id"], row["rule_name"], row["action"], row["expected_outcome"])
    assert node["customer"]["id"] == row["account_id"]
    assert node["outcome"]["healthScoreAtLastSeen"] == pytest.approx(row["health_score_at_last_seen"])
    impacts = [e["node"]["impactUsd"] or 0 for e in d["edges"]]
    assert impacts == sorted(impacts, reverse=True)


def test_customer_alerts_and_recommendations(api, gold):
    alerts, recs = gold["gold_risk_alerts"], gold["gold_recommendations"]
    account = alerts["account_id"].value_counts().index[0]
    q = """query($id: ID!){ customer(id: $id) { alerts { id severity } recommendations { id priority }
            open: alerts(statuses: [OPEN]) { id } } }"""
    c = api.gql(q, "viewer", id=account)["customer"]
    assert sorted(a["id"] for a in c["alerts"]) == sorted(alerts.loc[alerts["account_id"] == account, "alert_id"])
    assert sorted(r["id"] for r in c["recommendations"]) == sorted(recs.loc[recs["account_id"] == account, "recommendation_id"])
    assert len(c["open"]) == int(((alerts["account_id"] == account) & (alerts["status"] == "OPEN")).sum())


def test_dashboard_counts_open_alerts_and_recommendations(api, gold):
    alerts, recs = gold["gold_risk_alerts"], gold["gold_recommendations"]
    d = api.gql("""{ dashboardSummary { alertsAvailable openAlertsBySeverity { label count }
                     recommendationsAvailable openRecommendationsByPriority { label count } } }""", "viewer")["dashboardSummary"]
    assert d["alertsAvailable"] and d["recommendationsAvailable"]
    open_alerts = alerts[alerts["status"] == "OPEN"]["severity"].value_counts()
    assert {c["label"]: c["count"] for c in d["openAlertsBySeverity"]} == {s: int(open_alerts.get(s, 0)) for s in ("HIGH", "MEDIUM", "LOW")}
    open_recs = recs[recs["status"] == "OPEN"]["priority"].value_counts()
    assert {c["label"]: c["count"] for c in d["openRecommendationsByPriority"]} == {s: int(open_recs.get(s, 0)) for s in ("HIGH", "MEDIUM", "LOW")}


def test_master_account_members_links_and_rollup(api, gold):
    links = gold["gold_account_links"]
    masters = gold["gold_master_accounts"]
    rollups = gold["gold_master_account_rollups"].set_index("master_id")
    master_id = links["master_id"].value_counts().index[0]
    q = """query($id: ID!){ masterAccount(id: $id) { id size needsReview members { id }
            links { accountIdA accountIdB method confidence methods evidence nameSimilarity }
            rollup { memberAccounts totalArrUsd worstChurnLevel } } }"""
    m = api.gql(q, "viewer", id=master_id)["masterAccount"]
    members = masters.loc[masters["master_id"] == master_id, "account_id"]
    assert sorted(x["id"] for x in m["members"]) == sorted(members) and m["size"] == len(members)
    mine = links[links["master_id"] == master_id]
    assert len(m["links"]) == len(mine)
    assert all(link["evidence"] and link["methods"] for link in m["links"])
    assert m["rollup"]["totalArrUsd"] == pytest.approx(rollups.loc[master_id, "total_arr_usd"])
    assert api.gql(q, "viewer", id="M9-nope")["masterAccount"] is None


ROLLUP_FIELDS = ["memberAccounts", "accountsWithMetrics", "totalArrUsd", "totalMrrUsd", "arrWeightedHealthScore",
                 "worstChurnLevel", "highRiskAccounts", "earliestContractEndDate"]


def test_a_rollup_read_by_its_selection_shows_what_the_whole_row_shows(api, gold):
    """MasterAccount.rollup reads only the columns its selection shows (ROLLUP_COLUMNS): every field alone,
    from a customer's master too, equals the full selection, which equals the gold row."""
    from server.schema.accounts import ROLLUP_COLUMNS

    assert set(ROLLUP_FIELDS) == set(ROLLUP_COLUMNS) - {"__typename"}
    rollups = gold["gold_master_account_rollups"]
    masters = gold["gold_master_accounts"]
    # for every column a master with a value in it, and the largest
    picks = [rollups.sort_values("member_accounts").iloc[-1]["master_id"],
             *(rollups.loc[rollups[c].notna(), "master_id"].iloc[0] for c in rollups.columns if rollups[c].notna().any())]
    for master_id in dict.fromkeys(picks):
        full = api.gql(f"query($id: ID!){{ masterAccount(id: $id) {{ rollup {{ {' '.join(ROLLUP_FIELDS)} }} }} }}", "viewer",
                       id=master_id)["masterAccount"]["rollup"]
        row = rollups.set_index("master_id").loc[master_id]
        assert full["memberAccounts"] == int(row["member_accounts"]) and full["highRiskAccounts"] == int(row["high_risk_accounts"])
        assert full["totalArrUsd"] == pytest.approx(row["total_arr_usd"]) and full["worstChurnLevel"] == row["worst_churn_level"]
        account = masters.loc[masters["master_id"] == master_id, "account_id"].iloc[0]
        for f in ROLLUP_FIELDS:
            alone = api.gql(f"query($id: ID!){{ masterAccount(id: $id) {{ rollup {{ {f} }} }} }}", "viewer", id=master_id)
            assert alone["masterAccount"]["rollup"] == {f: full[f]}, (master_id, f)
            via = api.gql(f"query($id: ID!){{ customer(id: $id) {{ masterAccount {{ id rollup {{ {f} }} }} }} }}", "viewer", id=account)
            assert via["customer"]["masterAccount"] == {"id": master_id, "rollup": {f: full[f]}}, (account, f)


def test_customer_master_and_linked_accounts_with_evidence(api, gold):
    links = gold["gold_account_links"]
    link = links.iloc[0]
    q = """query($id: ID!){ customer(id: $id) { masterAccount { id }
            linkedAccounts { customer { id } link { accountIdA accountIdB method evidence } } } }"""
    c = api.gql(q, "viewer", id=link["account_id_a"])["customer"]
    assert c["masterAccount"]["id"] == link["master_id"]
    direct = {x["customer"]["id"]: x["link"] for x in c["linkedAccounts"]}
    assert direct[link["account_id_b"]]["evidence"] == link["evidence"]
    assert direct[link["account_id_b"]]["method"] == link["method"]


def test_link_review_queue_is_for_admins(api, gold):
    q = "{ linkReviewQueue(first: 10) { available totalCount items { reviewType memberAccountIds reason } } }"
    resp = api.post(q, "operator")
    assert resp.status_code == 200
    err = resp.json()["errors"][0]
    assert err["extensions"]["code"] == "FORBIDDEN" and "admin" in err["message"]
    d = api.gql(q, "admin")["linkReviewQueue"]
    assert d["available"] and d["totalCount"] == len(gold["gold_link_review_queue"])


def test_a_snapshot_without_rules_or_linker_tables_says_so(published, tmp_path):
    """An older snapshot (metrics only): empty lists and `available: false`, never invented rows."""
    data_dir = tmp_path / "data"
    shutil.copytree(published, data_dir)
    base = storage.open_snapshot(data_dir)
    writer = storage.RunWriter(data_dir, "metrics-only")
    for name in ("gold_customer_360_metrics", "gold_customer_timeline", "gold_customer_metric_history"):
        writer.write("gold", name, base.read("gold", name))
    writer.publish({"as_of": base.manifest["as_of"]})
    account = base.read("gold", "gold_customer_360_metrics")["account_id"].iloc[0]
    with ApiServer(data_dir) as api:
        d = api.gql("""query($id: ID!){ snapshot { alertsAvailable linkingAvailable asOf { runId } }
                       alerts { available totalCount asOf { runId } edges { node { id } } }
                       recommendations { available totalCount edges { node { id } } }
                       customer(id: $id) { alerts { id } recommendations { id } masterAccount { id } linkedAccounts { link { method } } }
                       dashboardSummary { alertsAvailable openAlertsBySeverity { count } } }""", "viewer", id=account)
    assert d["snapshot"] == {"alertsAvailable": False, "linkingAvailable": False, "asOf": {"runId": "metrics-only"}}
    assert d["alerts"] == {"available": False, "totalCount": 0, "asOf": {"runId": "metrics-only"}, "edges": []}
    assert d["recommendations"]["available"] is False and d["recommendations"]["edges"] == []
    assert d["customer"] == {"alerts": [], "recommendations": [], "masterAccount": None, "linkedAccounts": []}
    assert d["dashboardSummary"]["alertsAvailable"] is False
    assert {c["count"] for c in d["dashboardSummary"]["openAlertsBySeverity"]} == {0}


