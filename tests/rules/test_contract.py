"""The field catalogue matches what gold publishes, and docs/rules.md documents every field and rule."""

from __future__ import annotations

import pyarrow as pa
import pytest

from etl.settings import REPO_ROOT
from rules.fields import FIELDS, GOLD_FIELDS, RULE_FIELDS
from rules.schemas import RULE_FACTS_SCHEMA

KINDS = {"number": (pa.types.is_floating, pa.types.is_integer), "string": (pa.types.is_string,), "boolean": (pa.types.is_boolean,), "date": (pa.types.is_date,)}


def test_gold_fields_are_the_metrics_columns():
    schemas = pytest.importorskip("etl.gold.schemas", reason="etl.gold is concurrent work; its schema is the contract checked here")
    metrics = schemas.GOLD_SCHEMAS["gold_customer_360_metrics"]
    assert sorted(GOLD_FIELDS) == sorted(metrics.names)
    for field in metrics:
        assert any(check(field.type) for check in KINDS[GOLD_FIELDS[field.name].type]), (field.name, field.type)


def test_rule_fields_do_not_shadow_gold_and_are_published():
    assert not set(RULE_FIELDS) & set(GOLD_FIELDS)
    assert RULE_FACTS_SCHEMA.names == ["account_id", "as_of", *RULE_FIELDS]


def test_docs_describe_every_field_and_rule(shipped):
    docs = (REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for name in FIELDS:
        assert f"`{name}`" in docs, f"field {name} missing from docs/rules.md"
    for rule in shipped.rules:
        assert f"`{rule.id}`" in docs, f"rule {rule.id} missing from docs/rules.md"
    for table in ("gold_risk_alerts", "gold_recommendations", "gold_rule_facts"):
        assert f"`{table}`" in docs


def test_public_api_is_exported():
    import subprocess
    import sys

    import rules

    for name in rules.__all__:
        assert getattr(rules, name) is not None, name
    # Only the per-customer path needs durable-rules: the batch pipeline does not import it.
    probe = "import sys, rules; rules.evaluate_batch; print('durable' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"
