"""Fixtures shared by the silver tests."""

from __future__ import annotations

import pytest

from etl.silver import MappingConfig, load_mapping
from etl.silver.transforms import Context

from .builders import MAPPING_PATH


@pytest.fixture(scope="session")
def mapping() -> MappingConfig:
    return load_mapping(MAPPING_PATH)


@pytest.fixture
def ctx(mapping: MappingConfig) -> Context:
    return Context(default_term_months=12, qbr=mapping.qbr, currency=mapping.currency)
