"""The metrics config: the shipped file validates, and bad files fail naming the key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.gold import load_metrics_config

from tests.gold.gold_builders import CONFIG


def _write(tmp_path: Path, edit: Callable[[dict], None]) -> Path:
    doc = json.loads(CONFIG.read_text(encoding="utf-8"))
    edit(doc)
    path = tmp_path / "silver_to_gold_metrics.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_shipped_config_carries_the_documented_values() -> None:
    cfg = load_metrics_config(CONFIG)
    assert cfg.health.weights.payment == 0.30
    assert cfg.churn.weights.usage_decline == 0.30
    assert cfg.clv.gross_margin == 0.6
    assert [b.name for b in cfg.health.categories] == ["Healthy", "At-Risk", "Critical"]
    assert [b.min for b in cfg.churn.levels] == [70, 40, 0]


def test_weights_must_sum_to_one(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["health"]["weights"].update(payment=0.5))
    with pytest.raises(ConfigError) as err:
        load_metrics_config(path)
    assert err.value.key == "health"
    assert "sum to 1" in err.value.problem
    assert str(path) in str(err.value)


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["clv"].pop("gross_margin"))
    with pytest.raises(ConfigError) as err:
        load_metrics_config(path)
    assert err.value.key == "clv.gross_margin"


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["windows"].update(suport_days=90))
    with pytest.raises(ConfigError) as err:
        load_metrics_config(path)
    assert err.value.key == "windows.suport_days"


def test_bands_must_descend(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["churn"]["levels"].reverse())
    with pytest.raises(ConfigError) as err:
        load_metrics_config(path)
    assert err.value.key == "churn"
    assert "decreasing" in err.value.problem


def test_negative_penalty_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["health"]["support"].update(penalty_per_case=-5))
    with pytest.raises(ConfigError) as err:
        load_metrics_config(path)
    assert err.value.key == "health.support.penalty_per_case"


def test_environment_override_reaches_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, lambda d: None)
    monkeypatch.setenv("C360_SILVER_TO_GOLD_METRICS__CLV__GROSS_MARGIN", "0.55")
    assert load_metrics_config(path).clv.gross_margin == 0.55


def _leaf_keys(doc: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in doc.items():
        if isinstance(value, dict):
            keys += _leaf_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def test_every_parameter_is_documented() -> None:
    doc = (CONFIG.parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    undocumented = [k for k in _leaf_keys(config) if k.rsplit(".", 1)[-1] not in doc or k.split(".")[0] not in doc]
    assert not undocumented, f"parameters missing from docs/metrics.md: {undocumented}"
