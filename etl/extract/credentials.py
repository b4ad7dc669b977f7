"""Salesforce credentials: read from the environment or a secrets file, held
as `SecretStr`, and turned into a logged-in `simple_salesforce.Salesforce`.

Four ways to log in, chosen by ``C360_SF_AUTH`` or, when that is unset, by
which variables are present (first match wins):

==================  ======================================================  ===========
method              variables                                               refreshes?
==================  ======================================================  ===========
session             C360_SF_SESSION_ID, C360_SF_INSTANCE_URL                no
jwt                 C360_SF_USERNAME, C360_SF_CONSUMER_KEY,                 yes
                    C360_SF_PRIVATE_KEY_FILE (or C360_SF_PRIVATE_KEY, PEM)
client_credentials  C360_SF_CLIENT_ID, C360_SF_CLIENT_SECRET, C360_SF_DOMAIN  yes
                    (a My Domain: client credentials are refused on login/test)
password            C360_SF_USERNAME, C360_SF_PASSWORD,                     yes
                    C360_SF_SECURITY_TOKEN (empty if the IP is trusted)
==================  ======================================================  ===========

``C360_SF_DOMAIN`` is ``login`` (production, the default), ``test``
(sandboxes) or the org's My Domain (``acme.my``, ``acme--uat.sandbox.my``, or
the full ``https://acme.my.salesforce.com``).  ``C360_SF_SECRETS_FILE`` names a
JSON object or a dotenv file holding the same keys (``C360_SF_PASSWORD`` or
just ``password``); the environment wins over the file.  "Refreshes" means an
expired session (401 INVALID_SESSION_ID) is cured by logging in again; a bare
session id cannot be, and the run stops cleanly instead.
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import requests
from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, SecretStr
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from etl.extract.errors import AuthError, CredentialsError

log = logging.getLogger(__name__)

AuthMethod = Literal["session", "jwt", "client_credentials", "password"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("session", "jwt", "client_credentials", "password")

# credential field -> environment variable
ENV_VARS: dict[str, str] = {
    "auth": "C360_SF_AUTH",
    "domain": "C360_SF_DOMAIN",
    "username": "C360_SF_USERNAME",
    "password": "C360_SF_PASSWORD",
    "security_token": "C360_SF_SECURITY_TOKEN",
    "consumer_key": "C360_SF_CONSUMER_KEY",
    "private_key_file": "C360_SF_PRIVATE_KEY_FILE",
    "private_key": "C360_SF_PRIVATE_KEY",
    "client_id": "C360_SF_CLIENT_ID",
    "client_secret": "C360_SF_CLIENT_SECRET",
    "session_id": "C360_SF_SESSION_ID",
    "instance_url": "C360_SF_INSTANCE_URL",
}
SECRETS_FILE_VAR = "C360_SF_SECRETS_FILE"
_REQUIRED: dict[AuthMethod, tuple[str, ...]] = {
    "session": ("session_id", "instance_url"),
    "jwt": ("username", "consumer_key"),  # plus a private key, checked separately
    "client_credentials": ("client_id", "client_secret"),
    "password": ("username", "password"),
}


class SalesforceCredentials(BaseModel):
    """One way of logging in; secrets are `SecretStr`, so `repr` and logs show ``**********``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: AuthMethod
    domain: str = "login"
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    session_id: SecretStr | None = None
    instance_url: str | None = None

    @property
    def refreshable(self) -> bool:
        """Whether an expired session can be replaced by logging in again."""
        return self.method != "session"

    def secret_values(self) -> list[str]:
        """Every secret this object holds, for redacting messages (longest first)."""
        values = [
            s.get_secret_value()
            for s in (self.password, self.security_token, self.private_key, self.client_secret, self.session_id)
            if s is not None and s.get_secret_value()
        ]
        if self.password is not None and self.security_token is not None:
            values.append(self.password.get_secret_value() + self.security_token.get_secret_value())
        if self.private_key is not None:  # a PEM body line alone is secret too
            values += [ln for ln in self.private_key.get_secret_value().splitlines() if len(ln) >= 16 and "-----" not in ln]
        return sorted(set(values), key=len, reverse=True)

    def private_key_pem(self) -> str:
        """The JWT signing key, read from the file at login time (not kept in config)."""
        if self.private_key is not None:
            return self.private_key.get_secret_value()
        if self.private_key_file is None:
            raise CredentialsError(f"jwt login needs {ENV_VARS['private_key_file']} or {ENV_VARS['private_key']}")
        try:
            return self.private_key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CredentialsError(f"cannot read the private key file {self.private_key_file}: {exc.strerror}") from None


def normalise_domain(value: str) -> str:
    """``https://acme.my.salesforce.com/`` -> ``acme.my``: simple-salesforce appends ``.salesforce.com``."""
    d = value.strip().lower()
    for prefix in ("https://", "http://"):
        if d.startswith(prefix):
            d = d[len(prefix):]
    d = d.split("/", 1)[0]
    if d.endswith(".salesforce.com"):
        d = d[: -len(".salesforce.com")]
    if not d or any(c.isspace() for c in d):
        raise CredentialsError(f"{ENV_VARS['domain']}={value!r} is not a Salesforce domain (login, test or a My Domain)")
    return d


def _read_secrets_file(path: Path) -> dict[str, str]:
    """A JSON object or a dotenv file; keys may be the env names or the short field names."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(f"{SECRETS_FILE_VAR}: cannot read {path}: {exc.strerror}") from None
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("secrets file %s is readable by group or others; chmod 600 it", path)
    except OSError:
        pass
    raw: Mapping[str, object]
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:  # the message quotes no content, only the position
            raise CredentialsError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}") from None
        if not isinstance(doc, dict):
            raise CredentialsError(f"{path}: must be a JSON object")
        raw = doc
    else:
        raw = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    by_env = {v: k for k, v in ENV_VARS.items()}
    out: dict[str, str] = {}
    for key, value in raw.items():
        field = by_env.get(key.upper(), key.lower() if key.lower() in ENV_VARS else None)
        if field is None:
            raise CredentialsError(f"{path}: unknown key {key!r}; expected one of {sorted(ENV_VARS.values())}")
        if not isinstance(value, str):
            raise CredentialsError(f"{path}: {key} must be a string")
        out[field] = value
    return out


def load_credentials(environ: Mapping[str, str] | None = None) -> SalesforceCredentials:
    """Credentials from ``C360_SF_*`` variables, then ``C360_SF_SECRETS_FILE``.

    Raises `CredentialsError` naming what is missing, never a value.
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    secrets_file = env.get(SECRETS_FILE_VAR)
    if secrets_file:
        values.update(_read_secrets_file(Path(secrets_file)))
    for field, var in ENV_VARS.items():
        if env.get(var):
            values[field] = env[var]

    method = values.pop("auth", None)
    if method is not None:
        method = method.strip().lower().replace("-", "_")
        if method not in AUTH_METHODS:
            raise CredentialsError(f"{ENV_VARS['auth']} must be one of {', '.join(AUTH_METHODS)}")
    else:
        has_key = "private_key" in values or "private_key_file" in values
        for candidate in AUTH_METHODS:
            if all(f in values for f in _REQUIRED[candidate]) and (candidate != "jwt" or has_key):
                method = candidate
                break
        if method is None:
            raise CredentialsError(
                "no Salesforce credentials: set C360_SF_AUTH and its variables "
                "(see docs/salesforce.md), or C360_SF_SECRETS_FILE"
            )
    missing = [ENV_VARS[f] for f in _REQUIRED[method] if f not in values]  # type: ignore[index]
    if method == "jwt" and "private_key" not in values and "private_key_file" not in values:
        missing.append(f"{ENV_VARS['private_key_file']} (or {ENV_VARS['private_key']})")
    if missing:
        raise CredentialsError(f"{method} login needs {', '.join(missing)}")
    domain = normalise_domain(values.pop("domain", "login"))
    if method == "client_credentials" and domain in ("login", "test"):
        raise CredentialsError(
            f"client credentials need the org's My Domain in {ENV_VARS['domain']} (e.g. acme.my); "
            "Salesforce refuses that flow on login and test"
        )
    if "private_key_file" in values:
        values["private_key_file"] = str(Path(values["private_key_file"]).expanduser())
    return SalesforceCredentials(method=method, domain=domain, **values)  # type: ignore[arg-type]


Connector = Callable[[requests.Session], Salesforce]


def connector(creds: SalesforceCredentials, api_version: str, redact: Callable[[str], str]) -> Connector:
    """A function that logs in over a given HTTP session; called again to refresh.

    Taking the session as an argument lets the tests route it to the local
    emulator and lets the client attach its response hook before any call.
    """

    def connect(session: requests.Session) -> Salesforce:
        common = {"version": api_version, "session": session, "object_pairs_hook": None}
        try:
            if creds.method == "session":
                assert creds.session_id is not None and creds.instance_url is not None
                return Salesforce(session_id=creds.session_id.get_secret_value(), instance_url=creds.instance_url, **common)
            if creds.method == "jwt":
                return Salesforce(
                    username=creds.username,
                    consumer_key=creds.consumer_key,
                    privatekey=creds.private_key_pem(),
                    domain=creds.domain,
                    **common,
                )
            if creds.method == "client_credentials":
                assert creds.client_secret is not None
                return Salesforce(
                    consumer_key=creds.client_id,
                    consumer_secret=creds.client_secret.get_secret_value(),
                    domain=creds.domain,
                    **common,
                )
            assert creds.password is not None
            return Salesforce(
                username=creds.username,
                password=creds.password.get_secret_value(),
                security_token=creds.security_token.get_secret_value() if creds.security_token else "",
                domain=creds.domain,
                client_id="c360",
                **common,
            )
        except SalesforceAuthenticationFailed as exc:
            server_side = isinstance(exc.code, int) and exc.code >= 500
            message = f"HTTP {exc.code}" if server_side else f"{exc.code}: {exc.auth_message}"
            raise AuthError(redact(f"Salesforce login ({creds.method}, domain {creds.domain}) failed: {message}"), transient=server_side) from None
        except SalesforceError as exc:
            message = f"Salesforce login ({creds.method}, domain {creds.domain}) failed: HTTP {exc.status}"
            raise AuthError(redact(message), transient=exc.status >= 500) from None
        except (ValueError, TypeError, NotImplementedError) as exc:  # an unreadable PEM key; RS256 without cryptography
            raise AuthError(redact(f"Salesforce login ({creds.method}) could not be attempted: {type(exc).__name__}: {exc}")) from None

    return connect


class Redactor:
    """Replaces every known secret in a message by ``**********``.

    Starts with the credentials' secrets; the client adds each access token
    it obtains, since a live token is as good as a password.
    """

    def __init__(self, secrets: list[str] | None = None):
        self._secrets: list[str] = []
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "**********")
        return text
