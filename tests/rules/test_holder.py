"""A running server keeps its last good rules when an edited file is invalid."""

from __future__ import annotations

import shutil

import pytest

from etl.errors import ConfigError
from rules.evaluate import evaluate_customer
from rules.holder import RuleSetHolder
from rules.model import DEFAULT_RULES_DIR
from tests.rules.factories import facts_frame


@pytest.fixture
def rules_dir(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    return target


def test_reload_keeps_the_last_good_rules(rules_dir):
    holder = RuleSetHolder(rules_dir)
    good = holder.ruleset
    alerts = rules_dir / "alerts.yaml"
    text = alerts.read_text()

    alerts.write_text(text.replace("{churn_risk: {gte: 70}}", "{churn_risk: {gte: seventy}}"))
    assert holder.reload() is False
    assert holder.ruleset is good
    assert isinstance(holder.last_error, ConfigError)
    assert str(holder.last_error).startswith(f"{alerts}: rule CHURN_RISK: levels[0].when.churn_risk.gte: wrong type")

    alerts.write_text(text.replace("version: 1", "version: 2").replace("{churn_risk: {gte: 70}}", "{churn_risk: {gte: 90}}"))
    assert holder.reload() is True
    assert holder.last_error is None
    assert holder.ruleset.version == "alerts.yaml@2+recommendations.yaml@1"
    record = facts_frame([{"churn_risk": 80}]).to_dict("records")[0]
    assert [f.severity for f in evaluate_customer(record, holder.ruleset) if f.rule_id == "CHURN_RISK"] == ["MEDIUM"]
    assert [f.severity for f in evaluate_customer(record, good) if f.rule_id == "CHURN_RISK"] == ["HIGH"]


def test_reload_without_changes_keeps_the_same_set(rules_dir):
    holder = RuleSetHolder(rules_dir)
    before = holder.ruleset
    assert holder.reload() is False and holder.ruleset is before and holder.last_error is None


def test_invalid_rules_at_start_up_are_fatal(rules_dir):
    (rules_dir / "recommendations.yaml").write_text("version: 1\nrules: [\n")
    with pytest.raises(ConfigError, match="unparseable YAML"):
        RuleSetHolder(rules_dir)
