"""The GraphQL API served by a real uvicorn server on 127.0.0.1 over a published snapshot."""

from __future__ import annotations

import pytest

from etl import storage
from etl.settings import REPO_ROOT
from server.schema import export_sdl
from tests.conftest import SAMPLE_AS_OF


@pytest.fixture(scope="module")
def api(api):
    """(client with a viewer key, the published snapshot): the queries need no more than viewer."""
    api.client.headers["X-API-Key"] = api.keys["viewer"]
    yield api.client, storage.open_snapshot(api.data_dir)
    del api.client.headers["X-API-Key"]


def gql(client, query: str, **variables):
    resp = client.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_schema_file_is_current():
    """schema.graphql is exported from the code; regenerate with `c360 export-schema`."""
    assert (REPO_ROOT / "schema.graphql").read_text() == export_sdl()


def test_healthz_names_the_published_run(api):
    client, _ = api
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["run_id"] == "api-run"


def test_graphiql_is_served_to_browsers(api):
    client, _ = api
    resp = client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status_code == 200 and "graphiql" in resp.text.lower()


CUSTOMER = """
query Customer($id: ID!) {
  customer(id: $id) {
    id name region country owner
    asOf { date runId }
    mrrUsd arrUsd clvUsd activeServices winRate yoyGrowth
    healthScore healthCategory churnRisk churnLevel
    healthBreakdown { score components { name score weight effectiveWeight facts { name label value } } }
    churnBreakdown { score components { name score } }
    metricHistory { asOf healthScore churnRisk }
    timeline(first: 5) { totalCount pageInfo { hasNextPage endCursor } events { date type title amountUsd } }
  }
}
"""


def test_customer_360_matches_the_gold_row(api):
    client, snap = api
    metrics = snap.read("gold", "gold_customer_360_metrics")
    row = metrics.dropna(subset=["health_score", "churn_risk"]).sort_values("arr_usd", ascending=False).iloc[0]
    data = gql(client, CUSTOMER, id=row["account_id"])["data"]["customer"]
    assert data["name"] == row["account_name"]
    assert data["asOf"] == {"date": SAMPLE_AS_OF.isoformat(), "runId": "api-run"}
    assert data["arrUsd"] == pytest.approx(row["arr_usd"])
    assert data["healthScore"] == pytest.approx(row["health_score"])
    comps = {c["name"]: c for c in data["healthBreakdown"]["components"]}
    assert set(comps) == {"payment", "support", "usage", "engagement"}
    assert comps["payment"]["weight"] == pytest.approx(0.30)
    present = [c for c in comps.values() if c["score"] is not None]
    assert sum(c["effectiveWeight"] for c in present) == pytest.approx(1.0)
    # the score is the effective-weighted sum of its components, to the stored precision
    assert sum(c["score"] * c["effectiveWeight"] for c in present) == pytest.approx(row["health_score"], abs=0.1)
    assert len(data["metricHistory"]) == 3
    assert data["timeline"]["totalCount"] >= len(data["timeline"]["events"])
    dates = [e["date"] for e in data["timeline"]["events"]]
    assert dates == sorted(dates, reverse=True)


def test_unknown_customer_is_null(api):
    client, _ = api
    assert gql(client, "query($id: ID!){ customer(id: $id) { id } }", id="001NOPE")["data"]["customer"] is None


def test_customers_connection_pages_without_overlap(api):
    client, snap = api
    q = """query($after: String){ customers(first: 7, after: $after, sort: {field: ARR, descending: true}) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { id arrUsd } } } }"""
    first = gql(client, q, after=None)["data"]["customers"]
    second = gql(client, q, after=first["pageInfo"]["endCursor"])["data"]["customers"]
    ids1 = [e["node"]["id"] for e in first["edges"]]
    ids2 = [e["node"]["id"] for e in second["edges"]]
    assert len(ids1) == 7 and not set(ids1) & set(ids2)
    arr = [e["node"]["arrUsd"] or 0 for e in first["edges"] + second["edges"]]
    assert arr == sorted(arr, reverse=True)
    assert first["totalCount"] == len(snap.read("gold", "gold_customer_360_metrics"))


def test_customers_filter_by_churn_level(api):
    client, snap = api
    q = "{ customers(first: 200, filter: {churnLevel: HIGH}) { totalCount edges { node { churnLevel } } } }"
    data = gql(client, q)["data"]["customers"]
    expected = int((snap.read("gold", "gold_customer_360_metrics")["churn_level"] == "HIGH").sum())
    assert data["totalCount"] == expected
    assert {e["node"]["churnLevel"] for e in data["edges"]} <= {"HIGH"}


def test_search_finds_a_customer_by_two_letters(api):
    client, snap = api
    name = snap.read("gold", "gold_customer_360_metrics")["account_name"].dropna().iloc[0]
    q = "query($q: String!){ searchCustomers(query: $q, limit: 50) { score customer { id name } } }"
    hits = gql(client, q, q=name[:2])["data"]["searchCustomers"]
    from server.search import words

    prefix = words(name)[0][:2]
    assert hits
    assert all(any(w.startswith(prefix) for w in words(h["customer"]["name"])) for h in hits if h["score"] >= 100)
    full = gql(client, q, q=name)["data"]["searchCustomers"]
    assert name in [h["customer"]["name"] for h in full]


def test_dashboard_summary_adds_up(api):
    client, snap = api
    m = snap.read("gold", "gold_customer_360_metrics")
    q = "{ dashboardSummary { customers totalArrUsd averageHealth arrAtRiskUsd byChurnLevel { label count } topAtRisk { churnLevel } } }"
    d = gql(client, q)["data"]["dashboardSummary"]
    assert d["customers"] == len(m)
    assert d["totalArrUsd"] == pytest.approx(m["arr_usd"].fillna(0).sum())
    assert sum(c["count"] for c in d["byChurnLevel"]) == len(m)
    assert d["arrAtRiskUsd"] == pytest.approx(m.loc[m["churn_level"] == "HIGH", "arr_usd"].fillna(0).sum())
    assert {c["churnLevel"] for c in d["topAtRisk"]} <= {"HIGH", "MEDIUM"}


def test_bad_cursor_is_a_clear_client_error(api):
    client, _ = api
    body = gql(client, '{ customers(after: "not-a-cursor") { totalCount } }')
    assert "invalid cursor" in body["errors"][0]["message"]


# Every Customer field the column map knows (FIELD_COLUMNS): read alone it must show what the whole row shows.
CUSTOMER_FIELDS = ["id", "name", "region", "country", "industry", "owner", "ownerId", "parentId", "asOf { date runId }", "mrrUsd",
                   "arrUsd", "annualRevenueUsd", "yoyGrowth", "winRate", "clvUsd", "activeServices", "healthScore",
                   "healthCategory", "churnRisk", "churnLevel"]
CUSTOMER_LEAVES = " ".join(CUSTOMER_FIELDS)


def test_customer_column_map_names_real_fields():
    from server.schema import build_schema
    from server.schema.customers import FIELD_COLUMNS

    fields = build_schema().as_str().split("type Customer {", 1)[1].split("}", 1)[0]
    names = {line.strip().split("(")[0].split(":")[0] for line in fields.splitlines() if line.strip() and not line.strip().startswith('"')}
    assert set(FIELD_COLUMNS) - {"__typename"} <= names


def test_lists_that_read_only_the_selected_columns_show_the_same_values(api):
    """Search hits, list pages and linked accounts read only the metrics columns their selection shows
    (server.schema.customers.customer_columns): each field alone, in a fragment, equals the full selection."""
    client, snap = api
    m = snap.read("gold", "gold_customer_360_metrics")
    some = m["account_id"].tolist()[:30]
    full_one = {a: gql(client, f'query($id: ID!){{ customer(id: $id) {{ {CUSTOMER_LEAVES} }} }}', id=a)["data"]["customer"] for a in some}
    name = m["account_name"].dropna().iloc[0]
    for sel in CUSTOMER_FIELDS:
        key = sel.split(" ")[0]
        hits = gql(client, f"query($q: String!){{ searchCustomers(query: $q, limit: 20) {{ customer {{ id ...F }} }} }} "
                           f"fragment F on Customer {{ {sel} }}", q=name[:2])["data"]["searchCustomers"]
        assert hits
        for h in hits:
            c = h["customer"]
            want = full_one.get(c["id"]) or gql(client, f'query($id: ID!){{ customer(id: $id) {{ {CUSTOMER_LEAVES} }} }}', id=c["id"])["data"]["customer"]
            assert c[key] == want[key], (sel, c["id"])
        page = gql(client, f"{{ customers(first: 30, sort: {{field: NAME, descending: false}}) {{ edges {{ node {{ id {sel} }} }} }} }}")
        for e in page["data"]["customers"]["edges"]:
            node = e["node"]
            want = full_one.get(node["id"]) or gql(client, f'query($id: ID!){{ customer(id: $id) {{ {CUSTOMER_LEAVES} }} }}', id=node["id"])["data"]["customer"]
            assert node[key] == want[key], (sel, node["id"])
    # a breakdown needs the whole row: still right when asked for from a list
    node = gql(client, "{ customers(first: 1) { edges { node { id healthBreakdown { score components { name score } } } } } }")[
        "data"]["customers"]["edges"][0]["node"]
    one = gql(client, 'query($id: ID!){ customer(id: $id) { healthBreakdown { score components { name score } } } }', id=node["id"])
    assert node["healthBreakdown"] == one["data"]["customer"]["healthBreakdown"]


def test_fact_text_of_each_kind_of_value():
    import numpy as np
    from datetime import date, datetime

    from server.schema.types import Fact

    cases = [(None, None), (0, "0"), (12, "12"), (True, "yes"), (False, "no"), (np.bool_(True), "yes"), ("x", "x"),
             (0.25, "0.25"), (-0.123456, "-0.1235"), (1234.5, "1,234.5"), (1200.0, "1,200"), (np.int64(7), "7"),
             (date(2026, 3, 1), "2026-03-01"), (datetime(2026, 3, 1, 12, 5), "2026-03-01")]
    assert [Fact.text(v) for v, _ in cases] == [want for _, want in cases]


def test_breakdowns_read_alone_show_the_facts_of_the_whole_row(api):
    """customer(id) reads only the metrics columns its selection shows (the breakdowns' through
    explain.columns): a breakdown asked for alone equals explain.components over the whole gold row."""
    from etl.gold.params import load_metrics_config
    from server import explain
    from server.schema.types import Fact

    client, snap = api
    m = snap.read("gold", "gold_customer_360_metrics")
    weights = {"healthBreakdown": (explain.HEALTH_COMPONENTS, "health"), "churnBreakdown": (explain.CHURN_COMPONENTS, "churn")}
    config = load_metrics_config(REPO_ROOT / "config" / "silver_to_gold_metrics.json")
    for row in m.head(12).to_dict("records"):
        row = {k: (None if v is None or v != v else v) for k, v in row.items()}  # NaN/NaT: null
        for field, (spec, name) in weights.items():
            got = gql(client, f'query($id: ID!){{ customer(id: $id) {{ {field} {{ components {{ name score facts {{ name value }} }} }} }} }}',
                      id=row["account_id"])["data"]["customer"][field]["components"]
            want = explain.components(row, spec, getattr(config, name).weights.model_dump())
            assert [c["name"] for c in got] == [c.name for c in want]
            for g, w in zip(got, want, strict=True):
                assert g["score"] == w.score, (row["account_id"], field, g["name"])
                assert g["facts"] == [{"name": f.name, "value": Fact.text(f.value)} for f in w.facts], (row["account_id"], field, g["name"])


def test_timeline_events_read_alone_show_what_the_whole_row_shows(api):
    """The timeline reads only the columns its events' selection shows (EVENT_COLUMNS): each field
    alone, in a fragment, equals the full selection, page after page."""
    from server.schema.types import EVENT_COLUMNS

    client, snap = api
    tl = snap.read("gold", "gold_customer_timeline")
    busy = tl["account_id"].value_counts().index[:3].tolist()
    fields = [f for f in EVENT_COLUMNS if f != "__typename"]
    q = "query($id: ID!, $after: String){{ customer(id: $id) {{ timeline(first: 7, after: $after) {{ pageInfo {{ endCursor }} events {{ {} }} }} }} }}"
    for account in busy:
        after = None
        for _ in range(2):
            full = gql(client, q.format(" ".join(fields)), id=account, after=after)["data"]["customer"]["timeline"]
            assert full["events"]
            for f in fields:
                alone = gql(client, q.format("...E") + f" fragment E on TimelineEvent {{ {f} }}", id=account, after=after)
                assert alone["data"]["customer"]["timeline"]["events"] == [{f: e[f]} for e in full["events"]], (account, f)
            rows = tl.set_index("event_id").loc[[e["id"] for e in full["events"]]]  # against the whole gold rows
            assert [e["title"] for e in full["events"]] == rows["title"].tolist()
            assert [e["type"] for e in full["events"]] == rows["event_type"].tolist()
            assert [e["sourceTable"] for e in full["events"]] == rows["source_table"].tolist()
            assert [e["sourceId"] for e in full["events"]] == rows["source_id"].tolist()
            assert [e["status"] for e in full["events"]] == [None if v is None or v != v else v for v in rows["status"]]
            assert [e["amountUsd"] for e in full["events"]] == [None if v is None or v != v else v for v in rows["amount_usd"]]
            typename = gql(client, q.format("__typename"), id=account, after=after)["data"]["customer"]["timeline"]["events"]
            assert typename == [{"__typename": "TimelineEvent"}] * len(full["events"])
            after = full["pageInfo"]["endCursor"]


def _fields_alone_equal_the_full_selection(client, query: str, fragment_on: str, fields: list[str], path, **variables):
    """Each field alone (in a fragment, at SELECTION in `query`) shows what the full selection shows, object for object."""
    def objects(selection):
        data = gql(client, query.replace("SELECTION", selection), **variables)["data"]
        for step in path:
            data = data[step]
        return data

    full = objects(" ".join(fields))
    assert full
    for f in fields:
        key = f.split(" ")[0]
        alone = gql(client, query.replace("SELECTION", "...F") + f" fragment F on {fragment_on} {{ {f} }}", **variables)["data"]
        for step in path:
            alone = alone[step]
        assert alone == [{key: o[key]} for o in full], f
    return full


ALERT_FIELDS = ["id", "type", "name", "category", "severity", "status", "firstSeen", "lastSeen", "resolvedOn", "snoozedUntil",
                "message", "explanation { text conditions { field op threshold actual met } }", "impactUsd", "ruleVersion",
                "statusChangedAt", "statusChangedBy", "statusReason", "customerId", "asOf { date runId }",
                "statusHistory { status at by reason until source }", "customer { id name }"]
RECOMMENDATION_FIELDS = ["id", "ruleId", "title", "category", "priority", "status", "action", "expectedOutcome", "message",
                         "explanation { text conditions { field op threshold actual met } }", "impactUsd", "ruleVersion",
                         "firstSeen", "lastSeen", "executedOn", "statusChangedAt", "statusChangedBy", "statusReason",
                         "outcome { healthScoreAtLastSeen churnRiskAtLastSeen healthScoreChange30d churnRiskChange30d "
                         "healthScoreChange90d churnRiskChange90d }",
                         "customerId", "asOf { date runId }", "statusHistory { status at by reason until source }",
                         "executedAction { id }", "customer { id name }"]


def test_a_customers_alerts_and_recommendations_read_alone_show_what_the_whole_row_shows(api):
    """Customer.alerts and .recommendations read only the columns their selection shows (ALERT_COLUMNS,
    RECOMMENDATION_COLUMNS): each field alone equals the full selection, and both the gold rows."""
    from server.schema.alerts import ALERT_COLUMNS, RECOMMENDATION_COLUMNS

    assert {f.split(" ")[0] for f in ALERT_FIELDS} == set(ALERT_COLUMNS) - {"__typename"}
    assert {f.split(" ")[0] for f in RECOMMENDATION_FIELDS} == set(RECOMMENDATION_COLUMNS) - {"__typename"}
    client, snap = api
    for table, field, fields, kind, key in (("gold_risk_alerts", "alerts", ALERT_FIELDS, "Alert", "alert_id"),
                                            ("gold_recommendations", "recommendations", RECOMMENDATION_FIELDS, "Recommendation",
                                             "recommendation_id")):
        gold = snap.read("gold", table)
        # the busiest accounts, and for every column an account with a value in it (so no column goes unread unseen)
        accounts = [*gold["account_id"].value_counts().index[:2], *(gold.loc[gold[c].notna(), "account_id"].iloc[0]
                                                                   for c in gold.columns if gold[c].notna().any())]
        for account in dict.fromkeys(accounts):
            q = f"query($id: ID!){{ customer(id: $id) {{ {field} {{ SELECTION }} }} }}"
            full = _fields_alone_equal_the_full_selection(client, q, kind, fields, ("customer", field), id=account)
            assert sorted(o["id"] for o in full) == sorted(gold.loc[gold["account_id"] == account, key]), (field, account)
            one = field[:-1]  # alert(id) / recommendation(id) read whole rows
            for o in full:
                assert gql(client, f"query($id: ID!){{ {one}(id: $id) {{ {' '.join(fields)} }} }}", id=o["id"])["data"][one] == o
            # with the status filter, and two selections of the same list in one request
            both = gql(client, f"query($id: ID!){{ customer(id: $id) {{ a: {field}(statuses: [OPEN]) {{ id }} "
                               f"b: {field} {{ id message }} }} }}", id=account)["data"]["customer"]
            assert both["b"] == [{"id": o["id"], "message": o["message"]} for o in full]
            assert both["a"] == [{"id": o["id"]} for o in full if o["status"] == "OPEN"]


def test_a_bad_variable_is_named_not_masked(api):
    """Variable coercion errors are the client's: they say which variable and why (they were "Unexpected error.")."""
    client, _ = api
    q = "query($n: Int!){ customers(first: $n) { totalCount } }"
    cases = [({"n": "abc"}, "Variable '$n' has invalid value: Int cannot represent non-integer value: 'abc'"),
             ({}, "Variable '$n' has invalid value: Expected a value of non-null type 'Int!' to be provided."),
             ({"n": None}, None)]
    for variables, message in cases:
        body = client.post("/graphql", json={"query": q, "variables": variables}).json()
        assert body["data"] is None and len(body["errors"]) == 1, body
        assert body["errors"][0]["message"] == message if message else body["errors"][0]["message"].startswith("Variable '$n'"), body
    body = client.post("/graphql", json={"query": "query($id: ID!){ customer(id: $id) { id } }", "variables": {"id": {"a": 1}}}).json()
    assert body["errors"][0]["message"].startswith("Variable '$id' has invalid value: ID cannot represent value"), body


def test_timeline_filters_match_the_gold_table(api):
    """types / since / until / paging against the published timeline read with pandas."""
    client, snap = api
    tl = snap.read("gold", "gold_customer_timeline")
    tl["event_date"] = tl["event_date"].astype("datetime64[ns]").dt.date
    known = set(snap.read("gold", "gold_customer_360_metrics")["account_id"])
    busy = [a for a in tl["account_id"].value_counts().index if a in known][:4]
    q = """query($id: ID!, $types: [TimelineEventType!], $since: Date, $until: Date, $first: Int!, $after: String) {
      customer(id: $id) { timeline(types: $types, since: $since, until: $until, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } events { id date type } } } }"""
    from datetime import date

    for account in busy:
        rows = tl[tl["account_id"] == account]
        kinds = sorted(rows["event_type"].unique())[:2]
        dates = sorted(rows["event_date"])
        since, until = dates[len(dates) // 4], dates[3 * len(dates) // 4]
        for types, lo, hi in ((kinds, None, None), (None, since, until), (kinds, since, None), (None, None, until)):
            want = rows
            if types:
                want = want[want["event_type"].isin(types)]
            if lo:
                want = want[want["event_date"] >= lo]
            if hi:
                want = want[want["event_date"] <= hi]
            want = want.sort_values(["event_date", "event_id"], ascending=False)
            variables = {"id": account, "types": types, "since": lo and lo.isoformat(), "until": hi and hi.isoformat(), "first": 200}
            got = gql(client, q, **variables)["data"]["customer"]["timeline"]
            assert got["totalCount"] == len(want)
            assert [e["id"] for e in got["events"]] == want["event_id"].tolist()
            assert all(date.fromisoformat(e["date"]) >= lo for e in got["events"]) if lo else True
            # paging: two pages of 3 are the first six
            first = gql(client, q, **{**variables, "first": 3})["data"]["customer"]["timeline"]
            after = gql(client, q, **{**variables, "first": 3, "after": first["pageInfo"]["endCursor"]})["data"]["customer"]["timeline"]
            assert [e["id"] for e in first["events"] + after["events"]] == want["event_id"].tolist()[:6]
