"""Assertions shared by the extraction tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.contracts import BRONZE_SALESFORCE
from etl.extract.emulator import Emulator
from etl.storage import read_bronze


def bronze_snapshot(data_dir: Path) -> dict[str, bytes]:
    """Every file under bronze/ (watermarks included) with its bytes: proves a failed run changed nothing."""
    root = data_dir / "bronze"
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != "extract.lock"}


def hidden_paths(data_dir: Path) -> list[str]:
    """Dot-prefixed leftovers (staging directories) anywhere under bronze/."""
    root = data_dir / "bronze"
    return sorted(str(p) for p in root.rglob(".*")) if root.exists() else []


def latest_per_id(frame: pd.DataFrame) -> pd.DataFrame:
    """What silver does across batches: one row per Id, the latest SystemModstamp."""
    return frame.sort_values(["SystemModstamp", "_batch_id"], kind="stable").drop_duplicates("Id", keep="last")


def assert_bronze_matches_org(data_dir: Path, emu: Emulator, obj: str, *, batches: int | None = 1) -> pd.DataFrame:
    """Bronze (latest version of each Id) equals the org's records exactly, column by column.

    Columns the org lacks must be null in bronze.  Returns the bronze frame.
    """
    bronze = read_bronze(data_dir, obj)
    if batches is not None:
        assert bronze["_batch_id"].nunique() == batches, f"{obj}: expected {batches} batch(es)"
    expected = emu.org.frame(obj).sort_values("Id").reset_index(drop=True)
    got = latest_per_id(bronze).sort_values("Id").reset_index(drop=True)
    assert len(got) == len(expected), f"{obj}: {len(got)} rows in bronze, {len(expected)} in the org"
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_exact=True, obj=obj)
    for col in BRONZE_SALESFORCE[obj].names:
        if col not in expected.columns:
            assert got[col].isna().all(), f"{obj}.{col} is not in the org but has values in bronze"
    return bronze
