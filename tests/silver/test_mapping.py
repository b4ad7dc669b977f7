"""The mapping config is validated on load; every error names the file, the key path and the problem."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from etl.errors import ConfigError
from etl.silver import load_mapping
from etl.silver.mapping import MAPPED_TABLES, STEP_TYPES, live_columns, table_order
from etl.silver.transforms import TRANSFORMS

from .builders import MAPPING_PATH

SHIPPED: dict[str, Any] = json.loads(MAPPING_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: dict[str, Any] | str) -> Path:
    path = tmp_path / "bronze_to_silver_mapping.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def error_for(tmp_path: Path, edit: Any) -> ConfigError:
    doc = copy.deepcopy(SHIPPED)
    edit(doc)
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    assert info.value.file == str(path)
    return info.value


def step_index(table: str, **match: Any) -> int:
    steps = SHIPPED["tables"][table]["steps"]
    return next(i for i, s in enumerate(steps) if all(s.get(k) == v for k, v in match.items()))


def test_shipped_config_loads_and_covers_every_silver_table() -> None:
    mapping = load_mapping(MAPPING_PATH)
    assert sorted(mapping.tables) == sorted(MAPPED_TABLES)
    assert mapping.default_term_months == 12
    assert mapping.currency.reporting_currency == "USD"
    used = {step.type for tm in mapping.tables.values() for step in tm.steps}
    assert used <= set(STEP_TYPES)
    # users and products before accounts, accounts before every child, opportunities before line items
    order = table_order(mapping)
    assert order.index("users") < order.index("accounts") < order.index("opportunities") < order.index("opportunity_line_items")


def test_every_step_type_has_exactly_one_transform() -> None:
    assert sorted(STEP_TYPES) == sorted(TRANSFORMS)


def test_unknown_transformation_type(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["tables"]["users"]["steps"].insert(0, {"type": "frobnicate", "column": "Id"}))
    assert err.key == "tables.users.steps.0"
    assert "frobnicate" in err.problem and "parse_date" in err.problem


def test_unknown_column(tmp_path: Path) -> None:
    i = step_index("opportunities", type="parse_date")
    err = error_for(tmp_path, lambda d: d["tables"]["opportunities"]["steps"][i].update(column="CloseDat"))
    assert err.key == f"tables.opportunities.steps.{i}.column"
    assert "unknown column 'CloseDat'" in err.problem and "CloseDate" in err.problem


def test_column_used_after_it_was_renamed_away(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["tables"]["users"]["steps"].append({"type": "required", "columns": ["Name"]}))
    assert err.key == f"tables.users.steps.{len(SHIPPED['tables']['users']['steps'])}.columns.0"
    assert "'Name'" in err.problem


def test_missing_parameter(tmp_path: Path) -> None:
    i = step_index("cases", type="value_map")
    err = error_for(tmp_path, lambda d: d["tables"]["cases"]["steps"][i].pop("mapping"))
    assert err.key == f"tables.cases.steps.{i}.value_map.mapping"
    assert "Field required" in err.problem


def test_misspelt_parameter(tmp_path: Path) -> None:
    i = step_index("usage", type="non_negative")
    err = error_for(tmp_path, lambda d: d["tables"]["usage"]["steps"][i].update(on_eror="null"))
    assert err.key == f"tables.usage.steps.{i}.non_negative.on_eror"
    assert "Extra inputs are not permitted" in err.problem


def test_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"tables": {"users": ]}')
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    assert (info.value.file, info.value.key) == (str(path), "line 1 column 22")
    assert "invalid JSON" in info.value.problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_mapping(tmp_path / "nope.json")


def test_unknown_source_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["tables"]["users"].update(source="Users"))
    assert err.key == "tables.users.source"
    assert "unknown bronze table 'Users'" in err.problem


def test_unknown_union_source_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["tables"]["activities"]["source"][1].update(table="Tasks"))
    assert err.key == "tables.activities.source.1.table"


def test_silver_column_never_produced(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["tables"]["users"]["steps"][5]["columns"].pop("Name"))
    assert err.key == "tables.users.steps"
    assert "never produced" in err.problem and "user_name" in err.problem


def test_missing_and_unknown_tables(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["tables"].pop("usage"))
    assert (err.key, err.problem) == ("tables", "no mapping for silver table(s): usage")
    err = error_for(tmp_path, lambda d: d["tables"].update(fx_rates=d["tables"]["users"]))
    assert err.key == "tables.fx_rates" and "currency settings" in err.problem


def test_lookup_of_unknown_table_and_column(tmp_path: Path) -> None:
    i = step_index("accounts", type="lookup")
    err = error_for(tmp_path, lambda d: d["tables"]["accounts"]["steps"][i].update(table="people"))
    assert err.key == f"tables.accounts.steps.{i}.table"
    err = error_for(tmp_path, lambda d: d["tables"]["accounts"]["steps"][i].update(columns={"owner_name": "name"}))
    assert err.key == f"tables.accounts.steps.{i}.columns.owner_name"
    assert "users has no column 'name'" in err.problem


def test_lookup_cycle(tmp_path: Path) -> None:
    cyc = {"type": "lookup", "table": "contacts", "on": "Id", "key": "account_id", "on_missing": "keep"}
    err = error_for(tmp_path, lambda d: d["tables"]["accounts"]["steps"].insert(1, cyc))
    assert "cycle" in err.problem and "accounts -> contacts -> accounts" in err.problem


def test_currency_settings(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["currency"]["known_currencies"].append("XYZ"))
    assert err.key == "currency.known_currencies" and "XYZ" in err.problem
    err = error_for(tmp_path, lambda d: d["currency"]["fallback_rates"].update(EUR=0))
    assert err.key == "currency.fallback_rates" and "EUR=0" in err.problem
    err = error_for(tmp_path, lambda d: d["currency"].update(reporting_currency="CHF", known_currencies=["USD"]))
    assert err.key == "currency" and "CHF is not in known_currencies" in err.problem


def test_bad_qbr_pattern(tmp_path: Path) -> None:
    err = error_for(tmp_path, lambda d: d["qbr"].update(subject_pattern="(QBR"))
    assert err.key == "qbr.subject_pattern" and "invalid regular expression" in err.problem


def test_step_parameter_checks(tmp_path: Path) -> None:
    i = step_index("usage", type="parse_date")
    err = error_for(tmp_path, lambda d: d["tables"]["usage"]["steps"][i].update(formats=["YYYY-MM"]))
    assert err.key == f"tables.usage.steps.{i}.parse_date.formats" and "strftime" in err.problem
    j = step_index("contracts", type="range")
    err = error_for(tmp_path, lambda d: d["tables"]["contracts"]["steps"][j].update(min=10, max=1))
    assert err.key == f"tables.contracts.steps.{j}.range" and "greater than max" in err.problem
    k = step_index("activities", type="derived")
    err = error_for(tmp_path, lambda d: d["tables"]["activities"]["steps"][k].update(inputs=["activity_type", "subject", "status"]))
    assert "takes 1 to 2 input column(s), got 3" in err.problem


def test_environment_override_is_validated_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_BRONZE_TO_SILVER_MAPPING__DEFAULT_TERM_MONTHS", "0")
    with pytest.raises(ConfigError) as info:
        load_mapping(write(tmp_path, SHIPPED))
    assert info.value.key == "default_term_months"


def test_live_columns_drop_what_no_later_step_needs() -> None:
    mapping = load_mapping(MAPPING_PATH)
    steps = mapping.tables["users"].steps
    live = live_columns(steps, {"user_id", "user_name", "email", "is_active"})
    assert "UserRoleName" in live[0]  # trimmed by step 0 ...
    assert "UserRoleName" not in live[1]  # ... and never used again
    assert {"Id", "SystemModstamp", "IsDeleted"} <= live[3]
    assert "SystemModstamp" not in live[4]  # not needed after dedupe
