"""Each auth method against the emulator's login endpoints, and where credentials come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from etl.extract.credentials import load_credentials, normalise_domain
from etl.extract.emulator import Auth, Emulator, Fault
from etl.extract.errors import AuthError, CredentialsError
from tests.extract.conftest import CLIENT_SECRET, PASSWORD, TOKEN
from tests.extract.helpers import assert_bronze_matches_org

CONSUMER_KEY = "3MVG9-test-consumer-key"


def _rsa_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[bytes, bytes]:
    return _rsa_pair()


@pytest.mark.parametrize(
    ("domain", "host"),
    [(None, "login.salesforce.com"), ("test", "test.salesforce.com"), ("https://acme.my.salesforce.com/", "acme.my.salesforce.com")],
)
def test_password_and_security_token(extract, emu: Emulator, domain: str | None, host: str):
    env = {"C360_SF_USERNAME": "etl@example.com", "C360_SF_PASSWORD": PASSWORD, "C360_SF_SECURITY_TOKEN": TOKEN}
    if domain:
        env["C360_SF_DOMAIN"] = domain
    creds = load_credentials(env)
    assert creds.method == "password"
    report = extract(["Account"], creds=creds)
    assert emu.logins == [("password", host)]
    assert report.results[0].status == "published"


def test_wrong_password_is_an_auth_error_without_retries(extract, emu: Emulator):
    creds = load_credentials({"C360_SF_USERNAME": "etl@example.com", "C360_SF_PASSWORD": "wrong", "C360_SF_SECURITY_TOKEN": TOKEN})
    with pytest.raises(AuthError, match="INVALID_LOGIN"):
        extract(["Account"], creds=creds)
    assert len(emu.logins) == 1


def test_jwt_bearer_with_a_key_file(extract, emu: Emulator, tmp_path: Path, rsa_pair):
    private, public = rsa_pair
    emu.auth = Auth(consumer_key=CONSUMER_KEY, jwt_public_key_pem=public)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(private)
    creds = load_credentials({"C360_SF_USERNAME": "etl@example.com", "C360_SF_CONSUMER_KEY": CONSUMER_KEY,
                              "C360_SF_PRIVATE_KEY_FILE": str(key_file)})
    assert creds.method == "jwt" and creds.refreshable
    emu.add_fault(Fault("expire", r"queryAll", times=1))  # and it logs in again by itself
    report = extract(["Account"], creds=creds)
    assert [flow for flow, _ in emu.logins] == ["jwt", "jwt"]
    assert report.results[0].status == "published"
    assert_bronze_matches_org(extract.data_dir, emu, "Account")


def test_jwt_signed_with_the_wrong_key_is_refused(extract, emu: Emulator, rsa_pair):
    _, public = rsa_pair
    other_private, _ = _rsa_pair()
    emu.auth = Auth(consumer_key=CONSUMER_KEY, jwt_public_key_pem=public)
    creds = load_credentials({"C360_SF_USERNAME": "etl@example.com", "C360_SF_CONSUMER_KEY": CONSUMER_KEY,
                              "C360_SF_PRIVATE_KEY": other_private.decode()})
    with pytest.raises(AuthError, match="invalid_grant"):
        extract(["Account"], creds=creds)


def test_client_credentials_on_my_domain(extract, emu: Emulator):
    creds = load_credentials({"C360_SF_CLIENT_ID": "c360-client", "C360_SF_CLIENT_SECRET": CLIENT_SECRET, "C360_SF_DOMAIN": "acme.my"})
    assert creds.method == "client_credentials"
    report = extract(["Contact"], creds=creds)
    assert emu.logins == [("client_credentials", "acme.my.salesforce.com")]
    assert report.results[0].status == "published"


def test_client_credentials_with_a_wrong_secret_is_refused(extract, emu: Emulator):
    creds = load_credentials({"C360_SF_CLIENT_ID": "c360-client", "C360_SF_CLIENT_SECRET": "nope", "C360_SF_DOMAIN": "acme.my"})
    with pytest.raises(AuthError, match="invalid_client"):
        extract(["Contact"], creds=creds)


def test_client_credentials_need_a_my_domain():
    with pytest.raises(CredentialsError, match="My Domain"):
        load_credentials({"C360_SF_CLIENT_ID": "c", "C360_SF_CLIENT_SECRET": "s"})


def test_existing_session_id_and_instance_url(extract, emu: Emulator, server):
    creds = load_credentials({"C360_SF_SESSION_ID": emu.issue_token(), "C360_SF_INSTANCE_URL": server.instance_url})
    assert creds.method == "session" and not creds.refreshable
    report = extract(["Account"], creds=creds)
    assert emu.logins == [] and report.results[0].status == "published"


def test_secrets_file_json_and_dotenv_with_environment_winning(tmp_path: Path):
    js = tmp_path / "sf.json"
    js.write_text(json.dumps({"C360_SF_USERNAME": "file@example.com", "password": "from-file", "security_token": "t"}))
    js.chmod(0o600)
    creds = load_credentials({"C360_SF_SECRETS_FILE": str(js), "C360_SF_USERNAME": "env@example.com"})
    assert (creds.method, creds.username, creds.password.get_secret_value()) == ("password", "env@example.com", "from-file")
    env_file = tmp_path / "sf.env"
    env_file.write_text(
        "# Salesforce\nC360_SF_AUTH=client_credentials\nC360_SF_CLIENT_ID=abc\n"
        "C360_SF_CLIENT_SECRET='s e c'\nC360_SF_DOMAIN=acme--uat.sandbox.my\n"
    )
    env_file.chmod(0o600)
    creds = load_credentials({"C360_SF_SECRETS_FILE": str(env_file)})
    assert (creds.method, creds.domain, creds.client_secret.get_secret_value()) == ("client_credentials", "acme--uat.sandbox.my", "s e c")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no Salesforce credentials"),
        ({"C360_SF_AUTH": "jwt", "C360_SF_USERNAME": "u", "C360_SF_CONSUMER_KEY": "k"}, "C360_SF_PRIVATE_KEY_FILE"),
        ({"C360_SF_AUTH": "session", "C360_SF_SESSION_ID": "x"}, "C360_SF_INSTANCE_URL"),
        ({"C360_SF_AUTH": "magic"}, "C360_SF_AUTH must be one of"),
        ({"C360_SF_SECRETS_FILE": "/nonexistent/sf.json"}, "cannot read"),
    ],
)
def test_missing_or_bad_credentials_name_the_variable(env: dict[str, str], message: str):
    with pytest.raises(CredentialsError, match=message):
        load_credentials(env)


def test_domains_are_normalised():
    assert normalise_domain("login") == "login"
    assert normalise_domain("TEST") == "test"
    assert normalise_domain("https://acme.my.salesforce.com/") == "acme.my"
    assert normalise_domain("acme--uat.sandbox.my.salesforce.com") == "acme--uat.sandbox.my"
    with pytest.raises(CredentialsError):
        normalise_domain("   ")
