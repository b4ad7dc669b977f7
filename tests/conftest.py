"""Shared fixtures: one generated sample book per test session, copied per test when mutated."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

SAMPLE_AS_OF = date(2026, 10, 31)
SAMPLE_ACCOUNTS = 400


@pytest.fixture(scope="session")
def sample_bronze(tmp_path_factory) -> Path:
    """A data directory holding a generated bronze layer (read-only for tests)."""
    from etl.generate import generate

    data_dir = tmp_path_factory.mktemp("sample")
    generate(data_dir, accounts=SAMPLE_ACCOUNTS, seed=7, as_of=SAMPLE_AS_OF, dirty_rate=0.02)
    return data_dir


@pytest.fixture
def data_dir(sample_bronze: Path, tmp_path: Path) -> Path:
    """A private copy of the sample bronze layer that a test may run the pipeline on."""
    target = tmp_path / "data"
    shutil.copytree(sample_bronze, target)
    return target
