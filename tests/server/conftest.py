"""Server fixtures: one published sample snapshot per session, copied for every server that mutates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_AS_OF
from tests.server.harness import ApiServer, publish_sample


@pytest.fixture(scope="session")
def published(tmp_path_factory, sample_bronze) -> Path:
    """A data directory whose published snapshot has the metrics, linker and rules tables (read-only)."""
    return publish_sample(sample_bronze, tmp_path_factory.mktemp("published") / "data", SAMPLE_AS_OF)


def copy_published(published: Path, tmp: Path) -> Path:
    target = tmp / "data"
    shutil.copytree(published, target)
    return target


@pytest.fixture(scope="module")
def api(published, tmp_path_factory):
    """A server over a private copy of the published sample (its state store is its own)."""
    with ApiServer(copy_published(published, tmp_path_factory.mktemp("api"))) as server:
        yield server


@pytest.fixture
def fresh_api(published, tmp_path):
    """A server with an empty state store, for tests that must start from the snapshot's statuses."""
    with ApiServer(copy_published(published, tmp_path)) as server:
        yield server
