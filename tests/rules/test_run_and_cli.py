"""run_rules on the generated sample across two runs, and the `c360 rules` commands."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta

import pandas as pd
import pytest
from typer.testing import CliRunner

from etl import storage
from etl.errors import ConfigError, DataError
from rules.cli import rules_app
from rules.evaluate import evaluate_batch
from rules.model import DEFAULT_RULES_DIR
from rules.run import ALERTS, RECOMMENDATIONS, RULE_FACTS, run_rules
from rules.schemas import to_arrow

WIDE = {"COLUMNS": "250"}


def publish(data_dir, run_id: str, as_of, tables: dict[str, pd.DataFrame], base: storage.Snapshot) -> storage.Snapshot:
    """A run holding the sample's silver and gold plus the rules tables, published like the pipeline does."""
    writer = storage.RunWriter(data_dir, run_id)
    for layer in ("silver", "gold"):
        for name in base.tables(layer):
            if name not in tables:
                writer.write(layer, name, base.read(layer, name))
    for name, frame in tables.items():
        writer.write("gold", name, to_arrow(name, frame))
    return writer.publish({"as_of": as_of.isoformat()})


@pytest.fixture(scope="module")
def two_runs(rules_sample, shipped, tmp_path_factory):
    s = rules_sample
    data_dir = tmp_path_factory.mktemp("rules_runs") / "data"
    shutil.copytree(s["data_dir"], data_dir)
    base = storage.open_snapshot(data_dir)
    day1 = s["as_of"] - timedelta(days=1)
    first = run_rules(s["silver"], s["metrics"], s["history"], shipped, None, day1, "rules-1")
    snap1 = publish(data_dir, "rules-1", day1, first, base)
    some_alert = first[ALERTS].loc[first[ALERTS]["alert_type"] == "CHURN_RISK", "alert_id"].iloc[0]
    user = pd.DataFrame(
        {"id": [some_alert], "new_status": ["ACKNOWLEDGED"], "at": [pd.Timestamp(day1, tz="UTC") + timedelta(hours=30)], "reason": ["mine"], "until": [pd.NaT]}
    )
    second = run_rules(s["silver"], s["metrics"], s["history"], shipped, snap1, s["as_of"], "rules-2", status_changes=user)
    snap2 = publish(data_dir, "rules-2", s["as_of"], second, base)
    return {"first": first, "second": second, "snap1": snap1, "snap2": snap2, "data_dir": data_dir, "alert": some_alert}


def test_run_rules_tables_are_publishable_and_consistent(two_runs, rules_sample, shipped):
    second = two_runs["second"]
    assert set(second) == {ALERTS, RECOMMENDATIONS, RULE_FACTS}
    for name, frame in second.items():
        assert to_arrow(name, frame).num_rows == len(frame) > 0
    fired = evaluate_batch(rules_sample["facts"], shipped)
    alerts = second[ALERTS]
    live = alerts[alerts["last_seen"] == pd.Timestamp(rules_sample["as_of"])]
    assert len(live) == (fired["kind"] == "alert").sum()  # one live alert per alert firing
    assert (alerts["run_id"] == "rules-2").all()
    assert len(second[RULE_FACTS]) == len(rules_sample["metrics"])


def test_the_second_run_carries_the_lifecycle(two_runs, rules_sample):
    first, second = two_runs["first"][ALERTS].set_index("alert_id"), two_runs["second"][ALERTS].set_index("alert_id")
    row = second.loc[two_runs["alert"]]
    assert (row["status"], row["status_changed_by"], row["status_reason"]) == ("ACKNOWLEDGED", "user", "mine")
    # Churn risk comes from the metrics alone, the same on both days: every churn alert keeps its id and first day.
    churn = first.index[first["alert_type"] == "CHURN_RISK"]
    assert len(churn) > 0 and set(churn) == set(second.index[second["alert_type"] == "CHURN_RISK"])
    assert (second.loc[churn, "first_seen"] == first.loc[churn, "first_seen"]).all()
    assert (second.loc[churn, "last_seen"] == pd.Timestamp(rules_sample["as_of"])).all()
    # Likewise R001 (churn level and ARR): the same open instance on both days.
    recs1, recs2 = two_runs["first"][RECOMMENDATIONS], two_runs["second"][RECOMMENDATIONS]
    r001 = set(recs1.loc[recs1["rule_id"] == "R001", "recommendation_id"])
    assert r001 and r001 == set(recs2.loc[(recs2["rule_id"] == "R001") & (recs2["status"] == "OPEN"), "recommendation_id"])
    assert recs2["recommendation_id"].is_unique


def test_a_previous_snapshot_from_the_future_is_refused(two_runs, rules_sample, shipped):
    s = rules_sample
    with pytest.raises(DataError, match="only move forward"):
        run_rules(s["silver"], s["metrics"], s["history"], shipped, two_runs["snap2"], s["as_of"] - timedelta(days=5), "x")


def test_cli_rules_test_dry_runs_a_changed_file(two_runs, rules_sample, shipped, tmp_path):
    changed = tmp_path / "alerts.yaml"
    changed.write_text((DEFAULT_RULES_DIR / "alerts.yaml").read_text().replace("{churn_risk: {gte: 70}}", "{churn_risk: {gte: 90}}"))
    result = CliRunner().invoke(rules_app, ["test", str(changed), "--data-dir", str(two_runs["data_dir"]), "--sample", "1"], env=WIDE)
    assert result.exit_code == 0, result.output
    fired = evaluate_batch(rules_sample["facts"], shipped)
    churn = fired[fired["rule_id"] == "CHURN_RISK"]
    baseline = len(churn)
    high_after = int((rules_sample["facts"]["churn_risk"] >= 90).sum())
    line = next(ln for ln in result.output.splitlines() if "CHURN_RISK" in ln and "alert" in ln)
    cells = [c.strip() for c in line.strip("│┃ ").split("│")]
    assert cells[:4] == ["CHURN_RISK", "alert", "yes", f"{baseline:,}"]
    assert cells[4] == f"{high_after:,}" and cells[-1] == f"{baseline:,}"
    assert "why: CHURN_RISK" in result.output
    assert storage.current_run_id(two_runs["data_dir"]) == "rules-2"  # nothing was published


def test_cli_rules_test_on_a_past_date(two_runs):
    ok = CliRunner().invoke(rules_app, ["test", str(DEFAULT_RULES_DIR), "--data-dir", str(two_runs["data_dir"]), "--as-of", str(two_runs["snap1"].manifest["as_of"])])
    assert ok.exit_code == 0 and "rules-1" in ok.output
    missing = CliRunner().invoke(rules_app, ["test", str(DEFAULT_RULES_DIR), "--data-dir", str(two_runs["data_dir"]), "--as-of", "2001-01-01"])
    assert isinstance(missing.exception, DataError) and "no run under" in str(missing.exception)


def test_cli_rules_test_refuses_an_invalid_file(two_runs, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - {id: X, name: x, kind: alert, category: Usage, severity: LOW, message: m, condition: {nope: 1}}\n")
    result = CliRunner().invoke(rules_app, ["test", str(bad), "--data-dir", str(two_runs["data_dir"])])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == f"{bad}: rule X: condition.nope: unknown field 'nope'"


def test_cli_rules_report(two_runs):
    result = CliRunner().invoke(rules_app, ["report", "--data-dir", str(two_runs["data_dir"])], env=WIDE)
    assert result.exit_code == 0, result.output
    recs = two_runs["second"][RECOMMENDATIONS]
    line = next(ln for ln in result.output.splitlines() if "R006" in ln)
    cells = [c.strip() for c in line.strip("│┃ ").split("│")]
    assert cells[:4] == ["R006", "recommendation", f"{(recs['rule_id'] == 'R006').sum():,}", f"{(recs['rule_id'] == 'R006').sum():,}"]


def test_cli_rules_check(tmp_path):
    result = CliRunner().invoke(rules_app, ["check", str(DEFAULT_RULES_DIR)])
    assert result.exit_code == 0 and "11 rules, 11 enabled" in result.output


def test_dry_run_shows_disabled_rules_too(two_runs, shipped, rules_sample):
    from rules.cli import dry_run

    path = two_runs["data_dir"] / "disabled.yaml"
    path.write_text((DEFAULT_RULES_DIR / "alerts.yaml").read_text().replace("id: CHURN_RISK\n    name: Churn risk\n    kind: alert\n    category: Retention\n    enabled: true", "id: CHURN_RISK\n    name: Churn risk\n    kind: alert\n    category: Retention\n    enabled: false"))
    ruleset, firings, base = dry_run(path, two_runs["snap2"], None)
    assert ruleset.rule("CHURN_RISK").enabled is False and base is None
    assert (firings["rule_id"] == "CHURN_RISK").sum() == int((rules_sample["facts"]["churn_risk"] >= 40).sum())
    assert dataclasses.replace(shipped) == shipped  # the shipped set is untouched
