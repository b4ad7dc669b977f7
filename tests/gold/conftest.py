from __future__ import annotations

import pytest

from etl.gold.params import MetricsConfig
from tests.gold.gold_builders import load_params


@pytest.fixture(scope="session")
def params() -> MetricsConfig:
    return load_params()
