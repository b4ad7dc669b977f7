"""API keys: made once, shown once, stored only as SHA-256 hashes.

A key is ``c360_`` plus 43 URL-safe random characters (256 bits).  Its id
(the first 12 hex digits of its hash) names it in logs and the audit trail;
the key itself is never stored or logged.  Three sources, all hashes:

* the state database: ``c360 api-key create --role ROLE`` (prints the key once);
* ``C360_API_KEYS``: a JSON list ``[{"name": ..., "role": ..., "sha256": ...}]``;
* the file named by ``C360_API_KEYS_FILE``: the same JSON list (chmod 600).

Roles are ordered: ``viewer`` (queries) < ``operator`` (mutations on
alerts, recommendations and actions) < ``admin`` (manual account linking,
the link review queue, the audit log).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from etl.errors import ConfigError
from server.store import Store

ROLES = ("viewer", "operator", "admin")
ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
KEYS_VAR = "C360_API_KEYS"
KEYS_FILE_VAR = "C360_API_KEYS_FILE"
KEY_PREFIX = "c360_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(sha256: str) -> str:
    return sha256[:12]


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def allows(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    key_id: str | None


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    role: str = Field(pattern="^(viewer|operator|admin)$")
    sha256: str = Field(pattern="^[0-9a-f]{64}$")


def _parse_entries(text: str, source: str) -> list[_KeyEntry]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(source, f"line {exc.lineno} column {exc.colno}", "invalid JSON") from None
    if not isinstance(doc, list):
        raise ConfigError(source, "(top level)", "must be a JSON list of {name, role, sha256}")
    out = []
    for i, item in enumerate(doc):
        try:
            out.append(_KeyEntry.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(source, f"{i}.{'.'.join(str(p) for p in err['loc'])}", err["msg"]) from None
    return out


def environment_keys(environ: Mapping[str, str] | None = None) -> list[_KeyEntry]:
    env = os.environ if environ is None else environ
    entries: list[_KeyEntry] = []
    if env.get(KEYS_FILE_VAR):
        path = Path(env[KEYS_FILE_VAR])
        try:
            entries += _parse_entries(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise ConfigError(str(path), "(file)", f"cannot read: {exc.strerror}") from None
    if env.get(KEYS_VAR):
        entries += _parse_entries(env[KEYS_VAR], KEYS_VAR)
    return entries


class KeyRing:
    """Looks an API key up by its hash; re-reads the database at most every `ttl` seconds
    (so a key created or revoked while the server runs takes effect within that time)."""

    def __init__(self, store: Store, environ: Mapping[str, str] | None = None, ttl: float = 5.0):
        self.store = store
        self.ttl = ttl
        self._env = {e.sha256: Principal(e.name, e.role, key_id(e.sha256)) for e in environment_keys(environ)}
        self._db: dict[str, Principal] = {}
        self._loaded = -1e18
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._db = {
            r["sha256"]: Principal(r["name"], r["role"], r["key_id"]) for r in self.store.api_keys() if r["revoked_at"] is None
        }
        self._loaded = time.monotonic()

    def lookup(self, key: str) -> Principal | None:
        digest = hash_key(key)
        if digest in self._env:
            return self._env[digest]
        with self._lock:
            age = time.monotonic() - self._loaded
            # re-read when stale, or for an unknown key (a key just created), at most once a second
            if age > self.ttl or (digest not in self._db and age > min(self.ttl, 1.0)):
                self._load()
        return self._db.get(digest)

    def count(self) -> int:
        with self._lock:
            self._load()
        return len(self._env) + len(self._db)


def create_key(store: Store, role: str, name: str) -> tuple[str, str]:
    """A new key of `role`: (the key, shown once; its id).  Only the hash is stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = new_key()
    digest = hash_key(key)
    store.add_api_key(key_id(digest), name, role, digest)
    return key, key_id(digest)
