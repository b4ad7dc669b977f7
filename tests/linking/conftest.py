"""The shipped linking config, loaded once: the tests check the real defaults."""

from __future__ import annotations

import pytest

from etl.linking import load_linking_config
from etl.linking.config import LINKING_FILE, LinkingConfig
from tests.linking.helpers import CONFIG_DIR


@pytest.fixture(scope="session")
def config() -> LinkingConfig:
    return load_linking_config(CONFIG_DIR / LINKING_FILE, environ={})
