"""The built client served at / with SPA fallback; the response cache and what invalidates it."""

from __future__ import annotations

import time

from etl import storage
from server.rest import DOCUMENTS
from tests.server.conftest import copy_published
from tests.server.harness import ApiServer, server_config

INDEX = "<!doctype html><html><body><div id=root></div><script src=/assets/app-1a2b.js></script></body></html>"


def test_the_client_is_served_with_spa_fallback(published, tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-1a2b.js").write_text("console.log('c360')")
    (dist / "favicon.svg").write_text("<svg/>")
    with ApiServer(copy_published(published, tmp_path), config=server_config(client_dist=str(dist))) as api:
        root = api.client.get("/")
        assert root.status_code == 200 and root.text == INDEX and root.headers["cache-control"] == "no-cache"
        deep = api.client.get("/customers/00132000000H0NIAA0/timeline")
        assert deep.status_code == 200 and deep.text == INDEX
        asset = api.client.get("/assets/app-1a2b.js")
        assert asset.text == "console.log('c360')" and "immutable" in asset.headers["cache-control"]
        assert api.client.get("/favicon.svg").text == "<svg/>"
        assert api.client.get("/../../etc/passwd").text == INDEX  # never a file outside dist
        unknown_api = api.client.get("/api/nothing-here")
        assert unknown_api.status_code == 404 and unknown_api.headers["content-type"].startswith("application/json")
        assert api.post("{ snapshot { customers } }", "viewer").status_code == 200
        assert api.client.get("/healthz").json()["status"] == "ok"


def test_without_a_built_client_there_is_no_root(published, tmp_path):
    config = server_config(client_dist=str(tmp_path / "not-built"))
    with ApiServer(copy_published(published, tmp_path), config=config) as api:
        assert api.client.get("/").status_code == 404
        assert api.client.get("/customers/1").status_code == 404


def test_cache_hits_until_a_mutation_touches_the_customer(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path)) as api:
        recs = storage.open_snapshot(api.data_dir).read("gold", "gold_recommendations")
        rec = recs[recs["status"] == "OPEN"].iloc[0]
        other = recs.loc[recs["account_id"] != rec["account_id"], "account_id"].iloc[0]
        q = "query($id: ID!){ customer(id: $id) { id recommendations { id status } } }"

        def ask(account: str, role: str = "viewer"):
            r = api.post(q, role, id=account)
            return r.headers.get("x-cache"), {x["id"]: x["status"] for x in r.json()["data"]["customer"]["recommendations"]}

        assert ask(rec["account_id"])[0] == "MISS"
        assert ask(rec["account_id"])[0] == "HIT"
        assert ask(rec["account_id"], "operator")[0] == "MISS"  # the role is part of the key
        assert ask(other)[0] == "MISS" and ask(other)[0] == "HIT"
        dash = lambda: api.client.get("/api/dashboard/summary", headers=api.headers("viewer"))
        assert dash().headers["x-cache"] == "MISS" and dash().headers["x-cache"] == "HIT"
        key = {"id": rec["recommendation_id"], "key": "cache-1", "note": None}
        assert api.gql(DOCUMENTS["execute"], "operator", **key)["executeAction"]["__typename"] == "ActionExecuted"
        hit, statuses = ask(rec["account_id"])
        assert hit == "MISS" and statuses[rec["recommendation_id"]] == "EXECUTED"
        assert ask(other)[0] == "HIT"  # another customer's entry survives
        assert dash().headers["x-cache"] == "MISS"  # book-wide answers are dropped
        text = api.client.get("/metrics").text
        assert "c360_cache_hits_total" in text and "c360_cache_invalidations_total" in text


def test_a_new_snapshot_is_never_answered_from_the_cache(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path)) as api:
        q = "{ snapshot { asOf { runId } } }"
        assert api.post(q, "viewer").json()["data"]["snapshot"]["asOf"]["runId"] == "api-run"
        assert api.post(q, "viewer").headers["x-cache"] == "HIT"
        snap = storage.open_snapshot(api.data_dir)
        writer = storage.RunWriter(api.data_dir, "run-2")
        for name in snap.tables("gold"):
            writer.write("gold", name, snap.read("gold", name))
        writer.publish({"as_of": snap.manifest["as_of"]})
        deadline = time.monotonic() + 5
        while api.post(q, "viewer").json()["data"]["snapshot"]["asOf"]["runId"] != "run-2":
            assert time.monotonic() < deadline, "the new snapshot was not served"
            time.sleep(0.05)


def test_cache_can_be_switched_off(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path), config=server_config(cache={"enabled": False})) as api:
        for _ in range(2):
            assert "x-cache" not in api.post("{ snapshot { customers } }", "viewer").headers
