"""Rule files are validated on load: each problem names the file, the rule id and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.errors import ConfigError
from rules.conditions import All, Any, Between, Compare, FieldRef, In, IsNull, Not
from rules.model import DEFAULT_RULES_DIR, RuleError, load_rules
from tests.rules.conftest import write

GOOD_RULE = """
  - id: {id}
    name: Churn risk
    kind: alert
    category: Retention
    levels:
      - severity: HIGH
        when: {{churn_risk: {{gte: 70}}}}
    message: "Churn {{churn_risk:.0f}}"
"""


def rule_file(tmp_path: Path, body: str, name: str = "alerts.yaml", version: int = 1) -> Path:
    return write(tmp_path, name, f"version: {version}\nrules:\n{body}")


def error(path: Path) -> RuleError:
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert isinstance(info.value, ConfigError)  # the CLI and pipeline treat it like any config error
    return info.value


def test_shipped_rules_load(shipped):
    assert len(shipped.rules) == 11 and all(r.enabled for r in shipped.rules)
    assert shipped.version == "alerts.yaml@1+recommendations.yaml@1"
    assert shipped.parameters.sla_hours.CRITICAL == 4 and shipped.parameters.sla_hours.LOW == 120
    assert shipped.parameters.segment_by == ("industry", "region")
    assert shipped.rule("R001").cooldown_days == 60


def test_a_condition_parses_into_the_expected_tree(tmp_path):
    body = """
  - id: TREE
    name: Tree
    kind: alert
    category: Usage
    condition:
      all:
        - {days_to_contract_end: {between: [0, 90]}, region: {in: [EMEA, APAC]}}
        - not: {churn_level: HIGH}
        - any:
            - {last_qbr_date: {is_null: true}}
            - {active_services: {lt: {field: segment_median_active_services}, gte: 1}}
    severity: LOW
    message: "x"
"""
    rule = load_rules(rule_file(tmp_path, body)).rule("TREE")
    assert rule.condition == All(
        (
            All((Between("days_to_contract_end", 0.0, 90.0), In("region", ("EMEA", "APAC")))),
            Not(Compare("churn_level", "eq", "HIGH")),
            Any(
                (
                    IsNull("last_qbr_date", True),
                    All((Compare("active_services", "lt", FieldRef("segment_median_active_services")), Compare("active_services", "gte", 1.0))),
                )
            ),
        )
    )


def test_unknown_field(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="CHURN_RISK").replace("churn_risk: {gte", "churn_rsk: {gte"))
    err = error(path)
    assert err.file == str(path) and err.rule_id == "CHURN_RISK"
    assert str(err) == f"{path}: rule CHURN_RISK: levels[0].when.churn_rsk: unknown field 'churn_rsk' (did you mean 'churn_risk'?)"


def test_wrong_type_of_value(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="CHURN_RISK").replace("{gte: 70}", "{gte: high}"))
    err = error(path)
    assert err.rule_id == "CHURN_RISK"
    assert "levels[0].when.churn_risk.gte: wrong type: 'churn_risk' is a number field, got string 'high'" in str(err)


def test_wrong_type_of_operator_for_the_field(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="X1").replace("churn_risk: {gte: 70}", "churn_level: {gt: HIGH}"))
    assert "wrong type: operator 'gt' does not apply to string field 'churn_level'" in str(error(path))


def test_wrong_type_of_rule_key(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="X2").replace("kind: alert", "kind: alert\n    enabled: maybe"))
    err = error(path)
    assert err.rule_id == "X2" and "enabled: wrong type or value" in str(err)


def test_yaml_number_written_as_text_gets_a_hint(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="X3").replace("{gte: 70}", "{gte: 1e5}"))
    assert "(YAML reads 1e5 as text: write 100000 or 1.0e+5)" in str(error(path))


def test_unknown_operator(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="CHURN_RISK").replace("gte: 70", "gtee: 70"))
    err = error(path)
    assert err.rule_id == "CHURN_RISK"
    assert "levels[0].when.churn_risk.gtee: unknown operator 'gtee' (did you mean 'gte'?)" in str(err)


def test_duplicate_id_across_files(tmp_path):
    first = rule_file(tmp_path, GOOD_RULE.format(id="CHURN_RISK"), name="a.yaml")
    second = rule_file(tmp_path, GOOD_RULE.format(id="CHURN_RISK"), name="b.yaml")
    err = error(tmp_path)
    assert err.file == str(second) and err.rule_id == "CHURN_RISK"
    assert str(err).endswith(f"duplicate id: also defined in {first}")


def test_duplicate_id_in_one_file(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="DUP") + GOOD_RULE.format(id="DUP"))
    assert str(error(path)) == f"{path}: rule DUP: id: duplicate id: also defined in {path}"


def test_bad_template_placeholder(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="CHURN_RISK").replace("{churn_risk:.0f}", "{churn_riskk}"))
    err = error(path)
    assert err.rule_id == "CHURN_RISK"
    assert str(err).endswith("message: bad template placeholder {churn_riskk}: unknown field 'churn_riskk'")


@pytest.mark.parametrize(
    "message, problem",
    [
        ("Churn {churn_risk:,.2e}", "unsupported number format ',.2e'"),
        ("Churn {churn_level:.0f}", "format specs apply to number fields only"),
        ("Churn {}", "bad template placeholder '{}'"),
        ("Churn {churn_risk!r}", "conversions are not supported"),
        ("Churn {churn_risk", "bad template placeholder: expected '}' before end of string"),
    ],
)
def test_bad_template_placeholders(tmp_path, message, problem):
    body = GOOD_RULE.format(id="T1").replace('"Churn {churn_risk:.0f}"', repr(message).replace("'", '"'))
    assert problem in str(error(rule_file(tmp_path, body)))


def test_unparseable_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "alerts.yaml", "version: 1\nrules:\n  - id: X\n    name: [unclosed\n")
    err = error(path)
    assert err.file == str(path) and err.rule_id is None
    assert str(err).startswith(f"{path}: (file): unparseable YAML at line ")


def test_unparseable_json(tmp_path):
    path = write(tmp_path, "alerts.json", '{"version": 1, "rules": [}')
    assert str(error(path)) == f"{path}: (file): unparseable JSON at line 1 column 26: Expecting value"


def test_json_rule_files_are_read_too(tmp_path):
    path = write(
        tmp_path,
        "alerts.json",
        '{"version": 2, "rules": [{"id": "J1", "name": "n", "kind": "alert", "category": "Billing",'
        ' "condition": {"max_days_overdue": {"gt": 15}}, "severity": "LOW", "message": "late"}]}',
    )
    ruleset = load_rules(path)
    assert ruleset.rule("J1").condition == Compare("max_days_overdue", "gt", 15.0) and ruleset.version == "alerts.json@2"


def test_duplicate_yaml_key_is_refused(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="X4").replace("kind: alert", "kind: alert\n    kind: recommendation"))
    assert "duplicate key 'kind'" in str(error(path))


def test_unknown_rule_key(tmp_path):
    path = rule_file(tmp_path, GOOD_RULE.format(id="X5").replace("kind: alert", "kind: alert\n    severty: HIGH"))
    assert str(error(path)).endswith("rule X5: severty: unknown key 'severty' (did you mean 'severity'?)")


def test_missing_version(tmp_path):
    path = write(tmp_path, "alerts.yaml", "rules: []\n")
    assert str(error(path)) == f"{path}: (file): version: required key is missing"


def test_recommendation_needs_action_outcome_and_impact(tmp_path):
    body = GOOD_RULE.format(id="R9").replace("kind: alert", "kind: recommendation").replace("severity: HIGH", "priority: HIGH")
    assert "rule R9: action: required key is missing" in str(error(rule_file(tmp_path, body)))


def test_alert_levels_take_severity_not_priority(tmp_path):
    body = GOOD_RULE.format(id="A9").replace("severity: HIGH", "priority: HIGH")
    assert "rule A9: levels[0].priority: alert levels take 'severity', not 'priority'" in str(error(rule_file(tmp_path, body)))


def test_a_level_without_when_must_be_last(tmp_path):
    body = GOOD_RULE.format(id="A8").replace(
        "      - severity: HIGH\n", "      - severity: LOW\n      - severity: HIGH\n"
    )
    assert "levels[0]: a level without 'when' always matches" in str(error(rule_file(tmp_path, body)))


def test_a_rule_needs_some_condition(tmp_path):
    body = """
  - id: ALWAYS
    name: n
    kind: alert
    category: Usage
    severity: LOW
    message: m
"""
    assert "rule ALWAYS: condition: the rule has no condition at all" in str(error(rule_file(tmp_path, body)))


@pytest.mark.parametrize(
    "impact, problem",
    [
        ("arr_usd * churn_rsk", "unknown field 'churn_rsk'"),
        ("arr_usd * churn_level", "wrong type: 'churn_level' is a string field, not a number"),
        ("__import__('os')", "unknown function"),
        ("arr_usd ** 2", "unsupported syntax BinOp"),
        ("arr_usd *", "unparseable expression"),
    ],
)
def test_bad_impact_expressions(tmp_path, impact, problem):
    body = GOOD_RULE.format(id="I1") + f'    impact: "{impact}"\n'
    err = error(rule_file(tmp_path, body))
    assert err.rule_id == "I1" and "impact: " in str(err) and problem in str(err)


def test_parameters_set_differently_in_two_files_are_refused(tmp_path):
    write(tmp_path, "a.yaml", "version: 1\nparameters: {usage_trailing_months: 6}\nrules: []\n")
    b = write(tmp_path, "b.yaml", "version: 1\nparameters: {usage_trailing_months: 3}\nrules: []\n")
    assert str(error(tmp_path)).startswith(f"{b}: (file): parameters.usage_trailing_months: parameter 'usage_trailing_months' is also set")


def test_bad_parameter_value(tmp_path):
    path = write(tmp_path, "a.yaml", "version: 1\nparameters: {sla_hours: {CRITICAL: -4}}\nrules: []\n")
    assert "parameters.sla_hours.CRITICAL" in str(error(path))


def test_empty_directory_and_missing_file(tmp_path):
    assert "no rule files" in str(error(tmp_path))
    assert str(error(tmp_path / "nope.yaml")).endswith("(file): file not found")


def test_shipped_rules_dir_is_the_package_definitions():
    assert DEFAULT_RULES_DIR.name == "definitions" and {p.name for p in DEFAULT_RULES_DIR.iterdir()} >= {
        "alerts.yaml",
        "recommendations.yaml",
    }


def test_retention_must_cover_cooldown_and_outcomes(tmp_path):
    path = write(tmp_path, "a.yaml", "version: 1\nparameters: {closed_recommendation_retention_days: 60}\nrules: []\n")
    assert str(error(path)).startswith(f"{path}: (file): parameters: closed_recommendation_retention_days (60) must be at least 90")
    body = (
        GOOD_RULE.format(id="R7").replace("kind: alert", "kind: recommendation").replace("severity: HIGH", "priority: HIGH")
        + '    action: a\n    expected_outcome: o\n    impact: arr_usd\n    cooldown_days: 500\n'
    )
    err = error(rule_file(tmp_path, body, name="r.yaml"))
    assert err.rule_id == "R7" and "cooldown_days (500) exceeds closed_recommendation_retention_days (400)" in str(err)
