"""Config files: validation errors name the file and key; env vars override keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from etl.errors import ConfigError
from etl.extract.config import load_salesforce_config
from etl.settings import REPO_ROOT, Settings, load_config


class Inner(BaseModel):
    gross_margin: float = Field(gt=0, le=1)


class Doc(BaseModel):
    clv: Inner
    name: str


def _write(tmp_path: Path, text: str, stem: str = "metrics") -> Path:
    path = tmp_path / f"{stem}.json"
    path.write_text(text)
    return path


def test_valid_file_loads(tmp_path):
    doc = load_config(_write(tmp_path, '{"clv": {"gross_margin": 0.6}, "name": "x"}'), Doc, environ={})
    assert doc.clv.gross_margin == 0.6


def test_out_of_range_value_names_file_and_key(tmp_path):
    path = _write(tmp_path, '{"clv": {"gross_margin": 1.6}, "name": "x"}')
    with pytest.raises(ConfigError) as err:
        load_config(path, Doc, environ={})
    assert err.value.file == str(path)
    assert err.value.key == "clv.gross_margin"
    assert "less than or equal to 1" in err.value.problem


def test_missing_key_and_bad_json(tmp_path):
    with pytest.raises(ConfigError, match=r"metrics.json: name: Field required"):
        load_config(_write(tmp_path, '{"clv": {"gross_margin": 0.6}}'), Doc, environ={})
    with pytest.raises(ConfigError, match=r"line 1 column \d+: invalid JSON"):
        load_config(_write(tmp_path, '{"clv": '), Doc, environ={})
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.json", Doc, environ={})


def test_environment_overrides_a_nested_key(tmp_path):
    path = _write(tmp_path, '{"clv": {"gross_margin": 0.6}, "name": "x"}')
    doc = load_config(path, Doc, environ={"C360_METRICS__CLV__GROSS_MARGIN": "0.55", "C360_OTHER__NAME": "y"})
    assert doc.clv.gross_margin == 0.55
    assert doc.name == "x"
    with pytest.raises(ConfigError, match="clv.gross_margin"):
        load_config(path, Doc, environ={"C360_METRICS__CLV__GROSS_MARGIN": "7"})


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path))
    assert Settings().data_dir == tmp_path


def test_shipped_salesforce_config_is_valid():
    cfg = load_salesforce_config(REPO_ROOT / "config" / "salesforce_config.json")
    assert "OpportunityLineItem" in cfg.objects
    assert "SystemModstamp" in cfg.objects["Account"].fields


def test_salesforce_config_rejects_unknown_field(tmp_path):
    path = _write(
        tmp_path,
        '{"api_version": "62.0", "bulk_threshold_records": 1, "lookback_minutes": 5,'
        ' "objects": {"Account": {"fields": ["Id", "Nmae"]}}}',
        stem="salesforce_config",
    )
    with pytest.raises(ConfigError, match=r"objects: .*Account: field\(s\) \['Nmae'\]"):
        load_salesforce_config(path)


def test_command_line_options_win_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path / "from-env"))
    assert Settings.from_options().data_dir == tmp_path / "from-env"
    assert Settings.from_options(data_dir=tmp_path / "given").data_dir == tmp_path / "given"
    assert Settings.from_options(config_dir=tmp_path).config_dir == tmp_path
