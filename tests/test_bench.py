"""`make bench` at a tiny size, so the benchmark suite cannot rot (figures are not asserted)."""

import json

from etl import bench


def test_bench_smoke(tmp_path):
    out = bench.bench("tiny", seed=3, workdir=tmp_path, write_docs=False, backfill_months=1)
    stages = [r["stage"] for r in out["results"]]
    assert stages[0] == "generate" and "pipeline (bronze -> published gold)" in stages
    assert any(s.startswith("extract") and "REST" in s for s in stages)
    assert any(s.startswith("extract") and "Bulk" in s for s in stages)
    assert "rules: evaluate (evaluate_batch)" in stages
    assert all(r["seconds"] > 0 for r in out["results"])
    assert json.loads((tmp_path / "results-tiny.json").read_text())["accounts"] == 200
    doc = bench.render(out)
    assert "| pipeline (bronze -> published gold) |" in doc


def test_docs_section_is_replaced_in_place(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\n<!-- bench:tiny:begin -->\nold\n<!-- bench:tiny:end -->\n\ntail\n")
    out = {"scale": "tiny", "accounts": 200, "seed": 1, "as_of": "2026-10-31", "measured_at": "t", "command": "c",
           "machine": {"cpu": "x", "cores": "2", "memory": "24 GiB", "python": "3.11", "commit": "abc"}, "results": []}
    bench.update_docs(path, out)
    text = path.read_text()
    assert "old" not in text and "tail" in text and text.count("bench:tiny:begin") == 1
