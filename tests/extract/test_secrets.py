"""No secret ever reaches a log record, an exception message or the command's output.

Every logger is captured at DEBUG (urllib3 and simple-salesforce included)
while runs succeed, retry, re-login and fail, with known secret values.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from etl.extract.command import make_extract_command
from etl.extract.credentials import load_credentials
from etl.extract.emulator import Auth, Emulator, Fault
from etl.extract.errors import ExtractError
from tests.extract.conftest import CLIENT_SECRET, PASSWORD, TOKEN

WRONG_PASSWORD = "wrong-Secret-6630"


def _assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret ({secret[:4]}...) leaked"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "simple_salesforce", "requests", "etl"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _pem_lines(pem: bytes) -> list[str]:
    return [ln for ln in pem.decode().splitlines() if "-----" not in ln]


def test_password_flow_through_retries_and_relogin(extract, emu: Emulator, password_creds, debug_logs):
    emu.add_fault(Fault("status", r"queryAll", times=1, status=503))
    emu.add_fault(Fault("expire", r"describe", times=1, after=1))
    report = extract(["Account", "Contact"], creds=password_creds)
    assert len(emu.logins) == 2 and report.results[0].status == "published"
    secrets = [PASSWORD, TOKEN, PASSWORD + TOKEN, *emu.issued]
    _assert_no_secret([debug_logs.text, repr(password_creds), str(password_creds), repr(report)], secrets)


def test_failed_login_message_has_no_password(extract, emu: Emulator, debug_logs):
    creds = load_credentials({"C360_SF_USERNAME": "etl@example.com", "C360_SF_PASSWORD": WRONG_PASSWORD, "C360_SF_SECURITY_TOKEN": TOKEN})
    with pytest.raises(ExtractError) as err:
        extract(["Account"], creds=creds)
    _assert_no_secret([debug_logs.text, str(err.value), repr(err.value)], [WRONG_PASSWORD, TOKEN])


def test_expired_session_id_message_has_no_session_id(extract, emu: Emulator, server, debug_logs):
    session_id = emu.issue_token()
    creds = load_credentials({"C360_SF_SESSION_ID": session_id, "C360_SF_INSTANCE_URL": server.instance_url})
    emu.add_fault(Fault("expire", r"queryAll", times=1))
    with pytest.raises(ExtractError) as err:
        extract(["Account"], creds=creds)
    _assert_no_secret([debug_logs.text, str(err.value), repr(creds)], [session_id])


def test_jwt_key_and_client_secret_stay_out_of_logs(extract, emu: Emulator, tmp_path: Path, debug_logs):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    emu.auth = Auth(consumer_key="ck", jwt_public_key_pem=public, client_id="c360-client", client_secret=CLIENT_SECRET)
    jwt_creds = load_credentials({"C360_SF_USERNAME": "etl@example.com", "C360_SF_CONSUMER_KEY": "ck", "C360_SF_PRIVATE_KEY": private.decode()})
    extract(["Account"], creds=jwt_creds)
    bad = load_credentials({"C360_SF_CLIENT_ID": "c360-client", "C360_SF_CLIENT_SECRET": CLIENT_SECRET + "x", "C360_SF_DOMAIN": "acme.my"})
    with pytest.raises(ExtractError) as err:
        extract(["Account"], creds=bad)
    secrets = [*_pem_lines(private), CLIENT_SECRET, *emu.issued]
    _assert_no_secret([debug_logs.text, str(err.value), repr(jwt_creds), repr(bad)], secrets)


def test_command_output_has_no_secrets(server, emu: Emulator, tmp_path: Path, config_dir: Path, debug_logs):
    env = {"C360_SF_USERNAME": "etl@example.com", "C360_SF_PASSWORD": PASSWORD, "C360_SF_SECURITY_TOKEN": TOKEN}
    app = typer.Typer()
    app.command("extract")(make_extract_command(server.session, environ=env))
    app.command("noop")(lambda: None)
    emu.add_fault(Fault("status", r"queryAll", times=99, status=503))
    result = CliRunner().invoke(app, ["extract", "--objects", "Account", "--data-dir", str(tmp_path / "d"), "--config-dir", str(config_dir)])
    assert isinstance(result.exception, ExtractError)
    _assert_no_secret([result.output, str(result.exception), debug_logs.text], [PASSWORD, TOKEN, *emu.issued])
