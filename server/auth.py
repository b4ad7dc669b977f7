"""Who is calling: the ``X-API-Key`` header (or a WebSocket's connection params) to a role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.keys import KeyRing, Principal

HEADER = "x-api-key"


class Unauthenticated(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Authenticator:
    def __init__(self, keyring: KeyRing, anonymous_role: str | None):
        self.keyring = keyring
        self.anonymous_role = anonymous_role

    def principal(self, key: str | None) -> Principal:
        """The caller's principal; `Unauthenticated` for a wrong key, or no key when anonymous access is off."""
        if key:
            p = self.keyring.lookup(key.strip())
            if p is None:
                raise Unauthenticated("invalid API key")
            return p
        if self.anonymous_role is None:
            raise Unauthenticated("an API key is required in the X-API-Key header")
        return Principal("anonymous", self.anonymous_role, None)

    def from_headers(self, headers: Mapping[str, str]) -> Principal:
        return self.principal(headers.get(HEADER))

    def from_connection_params(self, params: Mapping[str, Any] | None, headers: Mapping[str, str]) -> Principal:
        """WebSockets: browsers cannot set headers, so the key may come in connection_init's payload."""
        params = params or {}
        for name in ("X-API-Key", "x-api-key", "apiKey"):
            if isinstance(params.get(name), str):
                return self.principal(params[name])
        return self.from_headers(headers)
