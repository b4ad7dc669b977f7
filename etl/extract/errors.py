"""Errors the extractor raises on purpose.

C360Error                       (etl.errors: the CLI prints one line, exits 2)
 └── ExtractError               extraction stopped cleanly: the object being
      │                         extracted was not published, its watermark stayed;
      │                         objects finished earlier in the run stay published
      ├── CredentialsError      credentials missing or inconsistent (names the
      │                         environment variable, never its value)
      ├── AuthError             the org refused the login
      ├── SessionExpiredError   401 INVALID_SESSION_ID and the auth method cannot log in again
      ├── ApiLimitError         403 REQUEST_LIMIT_EXCEEDED, or the API budget guard tripped
      ├── TransientError        timeouts, dropped connections or 5xx outlasted the retries
      ├── QueryError            Salesforce rejected a query or a Bulk job failed
      └── ObjectUnavailable     the org has no such object (INVALID_TYPE / NOT_FOUND);
                                a warning, not a failure: the run goes on without it

Every message is passed through the run's secret redactor before it is
raised, so no password, token, key or session id can reach a log or a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.errors import C360Error

if TYPE_CHECKING:
    from etl.extract.extractor import ExtractReport


class ExtractError(C360Error):
    """Base class; `report` holds what the run did before it stopped, when known."""

    def __init__(self, message: str, report: ExtractReport | None = None):
        super().__init__(message)
        self.report = report


class CredentialsError(ExtractError):
    pass


class AuthError(ExtractError):
    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient  # the login endpoint failed with 5xx: worth retrying


class SessionExpiredError(ExtractError):
    pass


class ApiLimitError(ExtractError):
    pass


class TransientError(ExtractError):
    pass


class QueryError(ExtractError):
    def __init__(self, message: str, error_code: str | None = None):
        super().__init__(message)
        self.error_code = error_code


class ObjectUnavailable(ExtractError):
    def __init__(self, message: str, error_code: str | None = None):
        super().__init__(message)
        self.error_code = error_code
