"""Small generated books shared by the generator tests (each takes well under a second)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from etl.generate import GenerationReport, generate

AS_OF = date(2024, 3, 15)


@pytest.fixture(scope="session")
def clean_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    """300 accounts with no injected dirt."""
    data_dir = tmp_path_factory.mktemp("clean")
    return data_dir, generate(data_dir, accounts=300, seed=7, as_of=AS_OF, dirty_rate=0.0)


@pytest.fixture(scope="session")
def dirty_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    """500 accounts with 5% of rows damaged."""
    data_dir = tmp_path_factory.mktemp("dirty")
    return data_dir, generate(data_dir, accounts=500, seed=11, as_of=AS_OF, dirty_rate=0.05)
