"""The shipped Salesforce config and the package's public surface."""

from __future__ import annotations

import json

import pytest

import etl.extract
from etl.contracts import BRONZE_SALESFORCE
from etl.errors import ConfigError
from etl.extract.config import SYSTEM_FIELDS, load_salesforce_config
from etl.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "salesforce_config.json"


def test_shipped_config_covers_every_bronze_object():
    cfg = load_salesforce_config(SHIPPED)
    assert set(cfg.objects) == set(BRONZE_SALESFORCE)
    for obj in cfg.objects:
        fields = cfg.fields_for(obj)
        assert fields[:5] == list(SYSTEM_FIELDS) and len(fields) == len(set(fields))
    assert cfg.rest_batch_size == 2000 and 0 < cfg.api_budget_share <= 1


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"api_budget_share": 0}, "api_budget_share"),
        ({"rest_batch_size": 5000}, "rest_batch_size"),
        ({"retry": {"base_seconds": 10, "max_seconds": 1}}, "retry"),
        ({"bulk2": {"page_records": 0}}, "bulk2.page_records"),
        ({"timeouts": {"read_seconds": -1}}, "timeouts.read_seconds"),
    ],
)
def test_bad_tuning_values_name_the_key(tmp_path, patch, key):
    doc = json.loads(SHIPPED.read_text()) | patch
    path = tmp_path / "salesforce_config.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as err:
        load_salesforce_config(path)
    assert err.value.key.startswith(key)


def test_exported_names_exist():
    for name in etl.extract.__all__:
        assert hasattr(etl.extract, name), name
