"""config/account_linking.json is validated: a bad file names the file and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.linking import load_linking_config
from etl.linking.config import LINKING_FILE
from tests.linking.helpers import CONFIG_DIR

SHIPPED = json.loads((CONFIG_DIR / LINKING_FILE).read_text())


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / LINKING_FILE
    path.write_text(json.dumps(doc))
    return path


def _with(section: str, key: str, value) -> dict:
    doc = json.loads(json.dumps(SHIPPED))
    doc[section][key] = value
    return doc


def test_shipped_config_loads_with_the_documented_defaults():
    cfg = load_linking_config(CONFIG_DIR / LINKING_FILE, environ={})
    m = cfg.methods
    assert (m.exact.confidence, m.manual.confidence) == (100, 100)
    assert (m.fuzzy.min_similarity, m.fuzzy.max_base_confidence, m.fuzzy.same_parent_bonus, m.fuzzy.shared_contact_bonus) == (85, 95, 10, 10)
    assert (m.parent.confidence, m.parent.min_similarity) == (90, 70)
    assert (m.contact.confidence, m.contact.min_similarity) == (85, 70)
    assert (cfg.thresholds.accept_min_confidence, cfg.thresholds.review_min_confidence) == (85, 70)


def test_out_of_range_value_names_file_and_key(tmp_path):
    path = _write(tmp_path, _with("thresholds", "accept_min_confidence", 150))
    with pytest.raises(ConfigError) as err:
        load_linking_config(path, environ={})
    assert (err.value.file, err.value.key) == (str(path), "thresholds.accept_min_confidence")
    assert "less than or equal to 100" in err.value.problem


def test_unknown_key_is_rejected(tmp_path):
    path = _write(tmp_path, _with("blocking", "max_blok_size", 10))
    with pytest.raises(ConfigError) as err:
        load_linking_config(path, environ={})
    assert err.value.key == "blocking.max_blok_size"


def test_unknown_blocking_key_is_rejected(tmp_path):
    path = _write(tmp_path, _with("blocking", "keys", ["name", "zip_code"]))
    with pytest.raises(ConfigError) as err:
        load_linking_config(path, environ={})
    assert err.value.key == "blocking.keys.1"


def test_review_band_above_acceptance_is_rejected(tmp_path):
    path = _write(tmp_path, _with("thresholds", "review_min_confidence", 90))
    with pytest.raises(ConfigError) as err:
        load_linking_config(path, environ={})
    assert err.value.key == "thresholds"
    assert "review_min_confidence must be <= accept_min_confidence" in err.value.problem


def test_a_key_can_be_overridden_from_the_environment():
    cfg = load_linking_config(
        CONFIG_DIR / LINKING_FILE, environ={"C360_ACCOUNT_LINKING__METHODS__FUZZY__MIN_SIMILARITY": "88"}
    )
    assert cfg.methods.fuzzy.min_similarity == 88
