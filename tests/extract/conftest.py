"""Fixtures for the extraction tests: one emulator server per session, a fresh
emulated org per test, credentials made up per test, and a guard that fails
any attempt to open a connection beyond 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from etl.extract.config import SalesforceConfig, load_salesforce_config
from etl.extract.credentials import SalesforceCredentials, load_credentials
from etl.extract.emulator import Auth, Emulator, EmulatorServer
from etl.extract.extractor import ExtractOptions, ExtractReport, run_extract
from etl.settings import REPO_ROOT
from tests.extract.sf_book import NOW, make_book

PASSWORD = "pw-Secret-4471"
TOKEN = "tok-Secret-9083"
CLIENT_SECRET = "cs-Secret-5512"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any TCP connection to a non-loopback address fails the test."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not (str(host).startswith("127.") or host in ("::1", "localhost")):
                raise AssertionError(f"test tried to connect to {address}: only 127.0.0.1 is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator()) as srv:
        yield srv


@pytest.fixture
def book() -> dict[str, pd.DataFrame]:
    return make_book()


def new_emulator(server: EmulatorServer, frames: dict[str, pd.DataFrame], **kwargs: Any) -> Emulator:
    kwargs.setdefault("auth", Auth(password=PASSWORD, security_token=TOKEN, client_id="c360-client", client_secret=CLIENT_SECRET))
    kwargs.setdefault("fixed_now", NOW)
    return server.swap(Emulator(frames=frames, **kwargs))


@pytest.fixture
def emu(server: EmulatorServer, book: dict[str, pd.DataFrame]) -> Emulator:
    """A fresh org holding the hand-made book, clock at `NOW`."""
    return new_emulator(server, book)


@pytest.fixture
def config() -> SalesforceConfig:
    """The shipped config, tuned for tests: instant backoff, short timeouts, small parts."""
    cfg = load_salesforce_config(REPO_ROOT / "config" / "salesforce_config.json")
    return cfg.model_copy(
        update={
            "retry": cfg.retry.model_copy(update={"max_attempts": 4, "base_seconds": 0.01, "max_seconds": 0.05}),
            "timeouts": cfg.timeouts.model_copy(update={"connect_seconds": 2.0, "read_seconds": 2.0}),
            "bulk2": cfg.bulk2.model_copy(update={"poll_seconds": 0.01, "poll_max_seconds": 0.02, "page_records": 7}),
            "rest_batch_size": 200,
        }
    )


@pytest.fixture
def config_dir(config: SalesforceConfig, tmp_path: Path) -> Path:
    """A config directory holding the test-tuned salesforce_config.json, for the command."""
    d = tmp_path / "config"
    d.mkdir()
    (d / "salesforce_config.json").write_text(config.model_dump_json(indent=2))
    return d


@pytest.fixture
def password_creds() -> SalesforceCredentials:
    return load_credentials({"C360_SF_USERNAME": "etl@example.com", "C360_SF_PASSWORD": PASSWORD, "C360_SF_SECURITY_TOKEN": TOKEN})


@dataclass
class Extractor:
    """Runs `run_extract` against the emulator; sleeps are recorded, not slept."""

    server: EmulatorServer
    data_dir: Path
    config: SalesforceConfig
    creds: SalesforceCredentials
    sleeps: list[float]

    def __call__(self, objects: list[str] | None = None, *, creds: SalesforceCredentials | None = None,
                 config: SalesforceConfig | None = None, **options: Any) -> ExtractReport:
        return run_extract(
            ExtractOptions(data_dir=self.data_dir, config=config or self.config, objects=objects, **options),
            creds or self.creds,
            session=self.server.session(),
            sleep=self.sleeps.append,
        )


@pytest.fixture
def extract(server: EmulatorServer, emu: Emulator, tmp_path: Path, config: SalesforceConfig,
            password_creds: SalesforceCredentials) -> Extractor:
    return Extractor(server, tmp_path / "data", config, password_creds, [])
