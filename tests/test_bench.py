"""`make bench` at a tiny size, so the benchmark suite cannot rot (figures are not asserted)."""

import json
import shutil

import pytest

from etl import bench


def test_bench_smoke(tmp_path):
    # The API stages use the Python load generator here; wrk, when installed, is exercised below.
    out = bench.bench("tiny", seed=3, workdir=tmp_path, write_docs=False, backfill_months=1, api_engine="python")
    stages = [r["stage"] for r in out["results"]]
    assert stages[0] == "generate" and "pipeline (bronze -> published gold)" in stages
    assert any(s.startswith("extract") and "REST" in s for s in stages)
    assert any(s.startswith("extract") and "Bulk" in s for s in stages)
    assert "rules: evaluate (evaluate_batch)" in stages
    assert "API server startup (c360 serve)" in stages
    assert all(r["seconds"] > 0 for r in out["results"])
    assert json.loads((tmp_path / "results-tiny.json").read_text())["accounts"] == 200
    api = out["api"]
    assert api["engine"] == "python"
    names = [s["name"] for s in api["scenarios"]]
    assert names == ["profile-cache-off", "search-prefix", "search-typo", "dashboard-cache-off", "profile-cache-on", "dashboard-cache-on"]
    for s in api["scenarios"]:
        assert s["requests"] > 0 and s["ref_requests"] > 0 and s["errors"] == 0, s
        assert s["rps"] > 0 and s["ref_rps"] > 0 and s["p99_ms"] >= s["p50_ms"] > 0
    assert api["scenarios"][-1]["cache_hits"] > 0  # the dashboard is one request: hits once cached
    st = api["startup"]  # resident memory split into anonymous and mapped file pages, both seen under load
    assert 0 < st["peak_rss_anon_mib"] <= st["peak_rss_mib"] and 0 <= st["peak_rss_file_mib"] <= st["peak_rss_mib"]
    doc = bench.render(out)
    assert "| pipeline (bronze -> published gold) |" in doc
    assert "| profile-cache-off |" in doc and "reference req/s" in doc

    if shutil.which("wrk") is None:
        pytest.skip("wrk not installed: the wrk load generator was not exercised")
    from server.bench import bench_api

    res = bench_api(tmp_path / "seed3-tiny", tmp_path / "api-wrk", duration=1, max_requests=200, engine="wrk",
                    scenarios=["profile-cache-off", "dashboard-cache-on"])
    assert [s.name for s in res.scenarios] == ["profile-cache-off", "dashboard-cache-on"]
    assert all(s.requests > 0 and s.ref_requests > 0 and s.errors == 0 for s in res.scenarios)
    assert res.scenarios[1].cache_hits > 0


def test_a_repeated_scenario_reports_its_median_run_and_the_spread():
    from server.bench import median_run

    runs = [({"rps": r, "p99_ms": p}, {"rps": 100.0 * r}) for r, p in ((30.0, 9.0), (10.0, 40.0), (20.0, 15.0))]
    assert median_run(runs)[0] == {"rps": 20.0, "p99_ms": 15.0}  # one real run, with its own reference
    assert median_run(runs[:2])[0]["rps"] == 10.0 and median_run(runs[:1]) == runs[0]
    out = {"engine": "wrk", "connections": 32, "duration": 10.0, "max_requests": 100, "scenarios": [
        {"name": "search-typo", "note": "typo", "requests": 9, "rps": 20.0, "p50_ms": 5.0, "p99_ms": 15.0, "errors": 0,
         "ref_requests": 9, "ref_rps": 100.0, "ref_p50_ms": 1.0, "ref_p99_ms": 2.0, "ratio": 0.2, "cache_hits": None,
         "runs": 3, "ratio_range": [0.1, 0.3], "p99_range": [9.0, 40.0], "p99_median_ms": 15.0}]}
    row = bench.render_api(out)[-1]
    assert row.startswith("| search-typo | 20 | 5.0 | 15.0 | 100 |") and "median of 3 runs: ratio 0.100-0.300, p99 9.0-40.0 ms" in row
    assert "(median of the runs' p99s 15.0 ms)" in row


def test_docs_section_is_replaced_in_place(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\n<!-- bench:tiny:begin -->\nold\n<!-- bench:tiny:end -->\n\ntail\n")
    out = {"scale": "tiny", "accounts": 200, "seed": 1, "as_of": "2026-10-31", "measured_at": "t", "command": "c",
           "machine": {"cpu": "x", "cores": "2", "memory": "24 GiB", "python": "3.11", "commit": "abc"}, "results": []}
    bench.update_docs(path, out)
    text = path.read_text()
    assert "old" not in text and "tail" in text and text.count("bench:tiny:begin") == 1


def test_search_bench_reports_build_and_every_query_kind(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from server.bench import bench_search

    names = [f"{w} {d} {f}" for w in ("Acme", "Nordwind", "Teritis", "Zürich") for d in ("Telecom", "Energie", "Clinics")
             for f in ("GmbH", "Ltd", "K.K.")]
    path = tmp_path / "metrics.parquet"
    pq.write_table(pa.table({"account_id": [f"A{i}" for i in range(len(names))], "account_name": names,
                             "arr_usd": [float(i) for i in range(len(names))]}), path)
    out = bench_search(path, queries=20, passes=1)
    assert out["names"] == len(names) and out["build_seconds"] > 0 and out["index_mib"] > 0
    assert list(out["queries"]) == ["prefix", "typo", "one letter", "two words", "full name"]
    assert all(q["count"] > 0 and q["p99_ms"] >= q["p50_ms"] > 0 and q["cpu_p50_ms"] >= 0 for q in out["queries"].values())
