"""Talking to one Salesforce org through simple-salesforce, surviving the
faults real orgs produce.

simple-salesforce does the logging in (every auth flow), builds the URLs,
runs REST queries (`Salesforce.query` / `query_more`, the two halves of
`query_all_iter`) and re-logs-in on 401 for the flows that can.  This module
adds what a long unattended extraction needs on top:

* every call is retried with exponential backoff and jitter on timeouts,
  dropped connections and 5xx, page by page: a REST page is retried from its
  ``nextRecordsUrl`` and a Bulk results page from its ``Sforce-Locator``, so a
  fault costs one page, not the whole object (this is why the Bulk 2.0 job
  lifecycle is driven here rather than through simple-salesforce's
  ``bulk2.query_all`` generator, which can neither resume nor re-login);
* 401 INVALID_SESSION_ID logs in again when the auth method allows, and
  stops cleanly (`SessionExpiredError`) when it does not;
* every response's ``Sforce-Limit-Info`` header feeds the API budget guard,
  and 403 REQUEST_LIMIT_EXCEEDED stops the run (`ApiLimitError`), both
  saying how many calls were used;
* the ``Date`` header gives the org's clock, so incremental windows are
  bounded by Salesforce's time rather than this machine's.

Errors are mapped to `etl.extract.errors` with secrets redacted.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import exception_handler

from etl.extract.config import SalesforceConfig
from etl.extract.credentials import Connector, Redactor
from etl.extract.errors import (
    ApiLimitError,
    AuthError,
    ExtractError,
    ObjectUnavailable,
    QueryError,
    SessionExpiredError,
    TransientError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.JSONDecodeError,  # a 2xx body cut short without a framing error
)
class _ServerError(Exception):
    """A 5xx from Salesforce: retried like a dropped connection."""


_LIMIT_RE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


@dataclass
class ApiUsage:
    """What the org says about its daily API budget, and what this run spent.

    Installed as a `requests` response hook, so it sees every response,
    whichever part of simple-salesforce or this module made the call.
    """

    share: float  # stop once used/limit reaches this
    used: int | None = None
    limit: int | None = None
    calls: int = 0  # requests this run made to /services/data/ (the ones Salesforce counts)
    server_time: datetime | None = None

    def observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/data/" in (response.request.path_url if response.request else ""):
            self.calls += 1
        m = _LIMIT_RE.search(response.headers.get("Sforce-Limit-Info", ""))
        if m:
            self.used, self.limit = int(m.group(1)), int(m.group(2))
        date = response.headers.get("Date")
        if date:
            try:
                self.server_time = parsedate_to_datetime(date).astimezone(UTC)
            except (TypeError, ValueError):
                pass

    def summary(self) -> str:
        org = f"org API usage {self.used:,}/{self.limit:,} ({self.used / self.limit:.0%})" if self.used is not None and self.limit else "org API usage unknown"
        return f"{org}; this run made {self.calls:,} API call(s)"

    def check(self, what: str) -> None:
        """Refuse the next call once the org has used `share` of its daily limit."""
        if self.used is not None and self.limit and self.used >= self.share * self.limit:
            raise ApiLimitError(
                f"API budget guard stopped the run before {what}: {self.summary()}, "
                f"at or above api_budget_share {self.share:.0%} of the daily limit"
            )


def _error_code(exc: SalesforceError) -> tuple[str | None, str]:
    """(errorCode, message) from Salesforce's ``[{"errorCode", "message"}]`` body."""
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(content.get("message") or content.get("error_description") or "")
    return None, str(content)[:300]


class SalesforceClient:
    """A logged-in org plus retries, re-login, the budget guard and Bulk 2.0 queries."""

    def __init__(
        self,
        connect: Connector,
        config: SalesforceConfig,
        *,
        refreshable: bool,
        redactor: Redactor,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ):
        self._connect = connect
        self.config = config
        self.refreshable = refreshable
        self.redact = redactor
        self.session = session or requests.Session()
        self.usage = ApiUsage(config.api_budget_share)
        self.session.hooks["response"].append(self.usage.observe)
        self.session.hooks["response"].append(self._learn_token)
        self._sleep = sleep
        self._jitter = jitter
        self._timeout = (config.timeouts.connect_seconds, config.timeouts.read_seconds)
        self.sf: Salesforce = self._login()

    # ------------------------------------------------------------------ plumbing

    def _learn_token(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Every bearer token sent is a secret from then on, including re-logins simple-salesforce did itself."""
        auth = response.request.headers.get("Authorization", "") if response.request else ""
        if auth.startswith("Bearer "):
            self.redact.add(auth[len("Bearer "):])

    def _login(self) -> Salesforce:
        sf = self._retry("login", lambda: self._connect(self.session), check_budget=False)
        self.redact.add(getattr(sf, "session_id", None))
        return sf

    def _backoff(self, what: str, attempt: int, reason: str) -> None:
        retry = self.config.retry
        if attempt >= retry.max_attempts:
            raise TransientError(self.redact(f"{what}: gave up after {attempt} attempt(s): {reason}; {self.usage.summary()}"))
        delay = min(retry.max_seconds, retry.base_seconds * 2 ** (attempt - 1))
        delay = delay / 2 + self._jitter() * delay / 2  # "equal jitter": never zero, never in lockstep
        log.warning("%s: %s; retry %d of %d in %.2f s", what, self.redact(reason), attempt, retry.max_attempts - 1, delay)
        self._sleep(delay)

    def _retry(self, what: str, fn: Callable[[], T], *, check_budget: bool = True) -> T:
        attempt = 0
        while True:
            attempt += 1
            if check_budget:
                self.usage.check(what)
            try:
                return fn()
            except requests.exceptions.SSLError as exc:  # a trust problem, not a blip: do not hammer
                raise ExtractError(self.redact(f"{what}: TLS error talking to Salesforce: {type(exc).__name__}")) from None
            except _TRANSIENT as exc:
                self._backoff(what, attempt, type(exc).__name__)
            except _ServerError as exc:
                self._backoff(what, attempt, str(exc))
            except AuthError as exc:
                if not exc.transient:
                    raise
                self._backoff(what, attempt, str(exc))

    def call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run one API call with retries, re-login and the budget guard; map errors."""
        refreshed = False

        def once() -> T:
            nonlocal refreshed
            try:
                return fn(self.sf)
            except SalesforceExpiredSession:
                if self.refreshable and not refreshed:
                    log.info("%s: session expired; logging in again", what)
                    refreshed = True
                    self.sf = self._login()
                    return fn(self.sf)
                raise
            except SalesforceError as exc:
                if exc.status >= 500:
                    raise _ServerError(f"HTTP {exc.status} {(_error_code(exc)[0] or '')}".strip()) from None
                raise

        try:
            return self._retry(what, once)
        except SalesforceExpiredSession:
            hint = "; set a fresh C360_SF_SESSION_ID or use a method that can log in again (jwt, client_credentials, password)" if not self.refreshable else ""
            raise SessionExpiredError(self.redact(f"{what}: Salesforce session expired (401 INVALID_SESSION_ID){hint}; {self.usage.summary()}")) from None
        except SalesforceRefusedRequest as exc:
            code, message = _error_code(exc)
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise ApiLimitError(self.redact(f"{what}: Salesforce refused the call: REQUEST_LIMIT_EXCEEDED ({message}); {self.usage.summary()}")) from None
            raise QueryError(self.redact(f"{what}: HTTP 403 {code}: {message}"), code) from None
        except (SalesforceMalformedRequest, SalesforceResourceNotFound) as exc:
            code, message = _error_code(exc)
            if code in ("INVALID_TYPE", "NOT_FOUND", "INVALID_ENTITY", "INVALIDENTITY"):
                raise ObjectUnavailable(self.redact(f"{what}: {code}: {message}"), code) from None
            raise QueryError(self.redact(f"{what}: HTTP {exc.status} {code}: {message}"), code) from None
        except SalesforceError as exc:
            code, message = _error_code(exc)
            raise QueryError(self.redact(f"{what}: HTTP {exc.status} {code}: {message}"), code) from None

    # ------------------------------------------------------------------ REST

    def server_now(self) -> datetime:
        """The org's clock from the last response's Date header (this machine's if none yet)."""
        return self.usage.server_time or datetime.now(UTC)

    def describe(self, obj: str) -> dict[str, Any]:
        result = self.call(f"describe {obj}", lambda sf: sf.restful(f"sobjects/{obj}/describe", timeout=self._timeout))
        if not isinstance(result, dict) or "fields" not in result:
            raise QueryError(f"describe {obj}: unexpected response shape")
        return result

    def query_pages(self, soql: str, what: str) -> Iterator[dict[str, Any]]:
        """queryAll pages (soft-deleted rows included), following nextRecordsUrl.

        Each page is fetched with its own retries; the iterator holds one page.
        """
        opts: dict[str, Any] = {
            "headers": {"Sforce-Query-Options": f"batchSize={self.config.rest_batch_size}"},
            "timeout": self._timeout,
        }
        page = self.call(what, lambda sf: sf.query(soql, include_deleted=True, **opts))
        yield page
        while not page.get("done", True):
            url = page["nextRecordsUrl"]
            page = self.call(what, lambda sf, u=url: sf.query_more(u, identifier_is_url=True, **opts))
            yield page

    # ------------------------------------------------------------------ Bulk API 2.0

    def _bulk(self, sf: Salesforce, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None, csv: bool = False) -> requests.Response:
        headers = dict(sf.headers)
        headers["Accept"] = "text/csv" if csv else "application/json"
        resp = sf.session.request(
            method,
            sf.bulk2_url + path,
            headers=headers,
            params=params,
            data=json.dumps(body) if body is not None else None,
            timeout=self._timeout,
        )
        if resp.status_code >= 300:
            exception_handler(resp, name=f"bulk2 {path}")
        return resp

    def bulk_query_pages(self, soql: str, what: str) -> Iterator[bytes]:
        """Run a Bulk API 2.0 queryAll job and yield its CSV result pages.

        Create the job, poll it with backoff until JobComplete, then page the
        results with ``maxRecords`` and ``Sforce-Locator``; the job is deleted
        once every page has been read.
        """
        cfg = self.config.bulk2
        body = {"operation": "queryAll", "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}
        job = self.call(f"{what} (create Bulk 2.0 job)", lambda sf: self._bulk(sf, "POST", "query", body=body).json())
        job_id = job["id"]
        finished = False
        try:
            deadline = time.monotonic() + cfg.job_timeout_minutes * 60
            delay = cfg.poll_seconds
            while True:
                info = self.call(f"{what} (poll job {job_id})", lambda sf: self._bulk(sf, "GET", f"query/{job_id}").json())
                state = info.get("state")
                if state == "JobComplete":
                    break
                if state in ("Failed", "Aborted"):
                    raise QueryError(self.redact(f"{what}: Bulk 2.0 job {job_id} {state}: {info.get('errorMessage') or 'no message'}"))
                if time.monotonic() > deadline:
                    raise TransientError(f"{what}: Bulk 2.0 job {job_id} still {state} after {cfg.job_timeout_minutes:g} minutes")
                self._sleep(delay)
                delay = min(delay * 2, cfg.poll_max_seconds)
            locator: str | None = None
            while True:
                params: dict[str, Any] = {"maxRecords": cfg.page_records}
                if locator:
                    params["locator"] = locator
                resp = self.call(
                    f"{what} (results of job {job_id})",
                    lambda sf, p=params: self._bulk(sf, "GET", f"query/{job_id}/results", params=p, csv=True),
                )
                yield resp.content
                locator = resp.headers.get("Sforce-Locator")
                if not locator or locator == "null":
                    break
            finished = True
        finally:
            if finished:
                try:
                    self.call(f"{what} (delete job {job_id})", lambda sf: self._bulk(sf, "DELETE", f"query/{job_id}"))
                except ExtractError as exc:  # housekeeping only: Salesforce removes old jobs itself
                    log.info("could not delete Bulk 2.0 job %s: %s", job_id, exc)
