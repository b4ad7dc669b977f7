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


def test_snapshots_swap_under_load_without_a_failed_request(published, tmp_path):
    """Two new runs are published while eight clients keep asking (profiles, search, the dashboard, REST):
    every answer is a 200 without errors, and the server ends on the last run."""
    import threading

    import httpx

    from server.bench import PROFILE_QUERY, SEARCH_QUERY

    with ApiServer(copy_published(published, tmp_path), config=server_config(cache={"enabled": False})) as api:
        snap = storage.open_snapshot(api.data_dir)
        metrics = snap.read("gold", "gold_customer_360_metrics")
        ids, names = metrics["account_id"].tolist(), metrics["account_name"].dropna().tolist()
        stop = threading.Event()
        failures: list[str] = []
        runs_seen: set[str] = set()
        counts = [0] * 8

        def client(n: int) -> None:
            with httpx.Client(base_url=api.base_url, timeout=30, headers=api.headers("viewer")) as c:
                i = n
                while not stop.is_set():
                    i += 8
                    kind = i % 4
                    if kind == 0:
                        r = c.post("/graphql", json={"query": PROFILE_QUERY, "variables": {"id": ids[i % len(ids)]}})
                    elif kind == 1:
                        r = c.post("/graphql", json={"query": SEARCH_QUERY, "variables": {"query": names[i % len(names)][:3]}})
                    elif kind == 2:
                        r = c.post("/graphql", json={"query": "{ snapshot { asOf { runId } } dashboardSummary { customers } }"})
                    else:
                        r = c.get(f"/api/customer/{ids[i % len(ids)]}")
                    counts[n] += 1
                    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
                    if r.status_code != 200 or body is None or (isinstance(body, dict) and body.get("errors")):
                        failures.append(f"{r.status_code} {r.text[:300]}")
                    elif kind == 2:
                        runs_seen.add(body["data"]["snapshot"]["asOf"]["runId"])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        try:
            for run_id in ("run-2", "run-3"):
                time.sleep(0.5)
                writer = storage.RunWriter(api.data_dir, run_id)
                for name in snap.tables("gold"):
                    writer.write("gold", name, snap.read("gold", name))
                writer.publish({"as_of": snap.manifest["as_of"]})
                deadline = time.monotonic() + 10
                while api.services.holder.get().run_id != run_id:
                    assert time.monotonic() < deadline, f"{run_id} was not swapped in"
                    time.sleep(0.05)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not failures, failures[:5]
        assert min(counts) > 0 and {"api-run", "run-2", "run-3"} <= runs_seen, (counts, runs_seen)
