"""`run_extract`: Salesforce objects -> immutable bronze batches, incrementally.

For each configured object, in config order:

1. ``describe`` it and intersect the configured fields (system fields
   first) with the org's; a configured field the org lacks is a warning and
   a null column, an object the org lacks (INVALID_TYPE / NOT_FOUND) is a
   warning and is skipped.  When ``DatedConversionRate`` is unavailable
   (advanced currency management off) ``CurrencyType`` is extracted instead,
   and silver falls back to it, or to configured rates.
2. Query ``SystemModstamp > watermark - lookback AND SystemModstamp <= T``,
   where T is the run's start on the org's clock (whole seconds); no lower
   bound on the first run or with ``full_refresh``.
3. REST ``queryAll`` when the window holds at most ``bulk_threshold_records``
   records (the first page's ``totalSize`` tells), else a Bulk API 2.0
   ``queryAll`` job; the per-object ``bulk`` setting forces either.
4. Stream pages into a staged batch (`StagedBatch`), publish it with one
   rename, and only then advance the watermark to T.

A clean failure (`ExtractError`) abandons the object in flight, leaves its
watermark where it was, and carries the `ExtractReport` of what was done;
objects already published in the run stay published: each is a complete,
self-consistent batch, and re-spending a tight API budget on them would
help nobody.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import requests

from etl.contracts import BRONZE_SALESFORCE
from etl.errors import DataError
from etl.extract.client import SalesforceClient
from etl.extract.config import SYSTEM_FIELDS, SalesforceConfig
from etl.extract.credentials import Redactor, SalesforceCredentials, connector
from etl.extract.errors import ExtractError, ObjectUnavailable
from etl.extract.records import bronze_schema, bulk_csv_to_table, rest_page_to_table
from etl.extract.staging import StagedBatch, remove_stale_staging
from etl.extract.state import WatermarkStore, extract_lock, format_instant
from etl.storage import new_run_id

log = logging.getLogger("etl.extract")

Api = Literal["rest", "bulk2"]
SOURCE_PREFIX = "salesforce:"  # bronze `_source` is "salesforce:rest" or "salesforce:bulk2"
FX_DATED, FX_UNDATED = "DatedConversionRate", "CurrencyType"


@dataclass(frozen=True)
class ExtractOptions:
    """What one `c360 extract` run does."""

    data_dir: Path
    config: SalesforceConfig
    objects: Sequence[str] | None = None  # None: every configured object
    full_refresh: bool = False  # ignore watermarks: extract everything up to the run's start
    api: Api | None = None  # force one API for every object (benchmarks); None: config and threshold decide
    run_id: str | None = None  # becomes every batch's `_batch_id`


@dataclass
class ObjectResult:
    object: str
    status: str = "not run"  # published | no changes | unavailable | failed | not run
    api: str | None = None
    records: int = 0
    seconds: float = 0.0
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    batch_path: Path | None = None
    note: str = ""


@dataclass
class ExtractReport:
    run_id: str
    started_at: datetime | None = None  # the org's clock at the start: every window's upper bound
    results: list[ObjectResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    api_calls: int = 0
    api_usage: str = ""

    def result(self, obj: str) -> ObjectResult:
        for r in self.results:
            if r.object == obj:
                return r
        r = ObjectResult(obj)
        self.results.append(r)
        return r

    @property
    def records(self) -> int:
        return sum(r.records for r in self.results)


def build_soql(obj: str, fields: Sequence[str], lower: datetime | None, upper: datetime | None) -> str:
    """``SELECT f, ... FROM Obj WHERE SystemModstamp > lower AND SystemModstamp <= upper``."""
    soql = f"SELECT {', '.join(fields)} FROM {obj}"
    conds = []
    if lower is not None:
        conds.append(f"SystemModstamp > {format_instant(lower)}")
    if upper is not None:
        conds.append(f"SystemModstamp <= {format_instant(upper)}")
    if conds:
        soql += " WHERE " + " AND ".join(conds)
    return soql


def _stamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class _Run:
    """One extraction run's state; `run_extract` is its only caller."""

    def __init__(self, options: ExtractOptions, client: SalesforceClient, store: WatermarkStore, report: ExtractReport):
        self.options = options
        self.cfg = options.config
        self.client = client
        self.store = store
        self.report = report
        self.described: dict[str, dict[str, Any]] = {}
        self.run_start: datetime | None = None

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.report.warnings.append(message)

    def describe(self, obj: str) -> bool:
        try:
            self.described[obj] = self.client.describe(obj)
        except ObjectUnavailable as exc:
            self.unavailable(obj, exc)
            return False
        if not self.described[obj].get("queryable", True):
            self.unavailable(obj, ObjectUnavailable(f"{obj} is not queryable for this user", "NOT_QUERYABLE"))
            return False
        return True

    def unavailable(self, obj: str, exc: ObjectUnavailable) -> None:
        r = self.report.result(obj)
        r.status, r.note = "unavailable", f"{exc.error_code or 'unavailable'}"
        r.watermark_before = r.watermark_after = self.store.get(obj)
        if obj == FX_DATED:
            self.warn(
                f"{FX_DATED} is not available in this org ({exc.error_code}: advanced currency management is off); "
                f"extracting {FX_UNDATED} instead, and silver falls back to it or to configured rates"
            )
        elif obj == FX_UNDATED:
            self.warn(f"{FX_UNDATED} is not available ({exc.error_code}): a single-currency org; silver uses configured rates")
        else:
            self.warn(f"{obj} is not available in this org ({exc}); skipped")

    def plan_fields(self, obj: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """Configured fields the org has (contract spelling), their describe types, and the
        org's spelling of each (API names are case-insensitive; JSON keys are not)."""
        org = {f["name"].lower(): f for f in self.described[obj]["fields"]}
        selected, field_types, org_names = [], {}, {}
        for name in self.cfg.fields_for(obj):
            if name.lower() in org:
                selected.append(name)
                field_types[name] = org[name.lower()].get("type", "")
                org_names[name] = org[name.lower()]["name"]
            elif name in SYSTEM_FIELDS:
                log.info("%s has no %s; extracted without it", obj, name)
            elif name == "CurrencyIsoCode":
                self.warn(f"{obj}.CurrencyIsoCode: configured field is not in the org (not a multi-currency org); column left null")
            else:
                self.warn(f"{obj}.{name}: configured field is not in the org's describe; column left null")
        return selected, field_types, org_names

    def choose_api(self, obj: str) -> Api | None:
        if self.options.api is not None:
            return self.options.api
        forced = self.cfg.objects[obj].bulk
        return None if forced is None else ("bulk2" if forced else "rest")

    def extract(self, obj: str) -> None:
        r = self.report.result(obj)
        started = time.perf_counter()
        assert self.run_start is not None
        selected, field_types, org_names = self.plan_fields(obj)
        renamed = {org_names[f]: f for f in selected if org_names[f] != f}
        incremental = "SystemModstamp" in selected
        before = self.store.get(obj)
        r.watermark_before = before
        lower = None
        if incremental and before is not None and not self.options.full_refresh:
            lower = before - timedelta(minutes=self.cfg.lookback_minutes)
        upper = self.run_start if incremental else None
        if not incremental:
            r.note = "no SystemModstamp: full extraction every run"
        soql = build_soql(obj, [org_names[f] for f in selected], lower, upper)
        contract = BRONZE_SALESFORCE[obj]
        what = f"{obj} query"
        api = self.choose_api(obj)
        log.info("%s: %s", obj, soql)
        try:
            with StagedBatch(self.options.data_dir, obj, self.report.run_id, bronze_schema(contract), self.cfg.part_rows) as batch:
                if api != "bulk2":
                    pages = self.client.query_pages(soql, what)
                    first = next(pages)
                    total = int(first.get("totalSize", 0))
                    if api is None and total > self.cfg.bulk_threshold_records:
                        pages.close()
                        log.info("%s: %d records in the window > bulk_threshold_records; using Bulk API 2.0", obj, total)
                        api = "bulk2"
                    else:
                        api = "rest"
                        source = SOURCE_PREFIX + "rest"
                        batch.append(self._rest_table(obj, first, selected, contract, source, renamed))
                        for page in pages:
                            batch.append(self._rest_table(obj, page, selected, contract, source, renamed))
                if api == "bulk2":
                    source = SOURCE_PREFIX + "bulk2"
                    for data in self.client.bulk_query_pages(soql, what):
                        batch.append(
                            bulk_csv_to_table(obj, data, selected, field_types, contract,
                                              batch_id=self.report.run_id, extracted_at=_stamp(), source=source)
                        )
                r.api = api
                path = batch.publish()
        except ExtractError:
            r.api = api
            r.seconds = time.perf_counter() - started
            r.watermark_after = before
            raise
        r.records = batch.rows
        r.batch_path = path
        r.status = "published" if path is not None else "no changes"
        # The batch is renamed into place and fsynced: only now may the watermark move.
        self.store.advance(obj, upper, batch_id=self.report.run_id if path else None, api=api, records=batch.rows)
        r.watermark_after = upper
        r.seconds = time.perf_counter() - started
        log.info("%s: %s, %d records in %.1f s, watermark %s -> %s", obj, api, r.records, r.seconds,
                 format_instant(before) if before else "none", format_instant(upper) if upper else "none")

    def _rest_table(self, obj: str, page: dict[str, Any], selected: list[str], contract: pa.Schema, source: str,
                    renamed: dict[str, str]) -> pa.Table:
        records = page.get("records", [])
        if renamed:  # the org spells some field differently from the contract: key by the contract's name
            records = [{renamed.get(k, k): v for k, v in r.items()} for r in records]
        return rest_page_to_table(obj, records, selected, contract,
                                  batch_id=self.report.run_id, extracted_at=_stamp(), source=source)


def _objects(options: ExtractOptions) -> list[str]:
    configured = list(options.config.objects)
    if not options.objects:
        return configured
    unknown = [o for o in options.objects if o not in options.config.objects]
    if unknown:
        raise ExtractError(f"unknown object(s) {unknown}; configured: {', '.join(configured)}")
    return [o for o in configured if o in set(options.objects)]


def run_extract(
    options: ExtractOptions,
    credentials: SalesforceCredentials,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExtractReport:
    """Extract the requested objects into bronze; see the module docstring.

    ``session`` is the HTTP session every call goes through (tests pass one
    routed to the local emulator); ``sleep`` is used for backoff and polling.
    Raises `ExtractError` (with ``.report``) on a clean failure.
    """
    objects = _objects(options)
    report = ExtractReport(run_id=options.run_id or new_run_id())
    for obj in objects:
        report.result(obj)
    redactor = Redactor(credentials.secret_values())
    client: SalesforceClient | None = None
    current: str | None = None  # the object being described or extracted, if any
    with extract_lock(options.data_dir):
        try:
            store = WatermarkStore(options.data_dir)
            for obj in objects:
                removed = remove_stale_staging(options.data_dir, obj)
                if removed:
                    log.info("%s: removed %d staging directory(ies) left by an interrupted run", obj, removed)
            client = SalesforceClient(
                connector(credentials, options.config.api_version, redactor),
                options.config,
                refreshable=credentials.refreshable,
                redactor=redactor,
                session=session,
                sleep=sleep,
            )
            run = _Run(options, client, store, report)
            queue: list[str] = []

            def add_fx_fallback() -> None:
                nonlocal current
                if FX_UNDATED not in queue and FX_UNDATED in options.config.objects and report.result(FX_UNDATED).status == "not run":
                    current = FX_UNDATED
                    if run.describe(FX_UNDATED):
                        queue.append(FX_UNDATED)

            for obj in objects:
                current = obj
                if run.describe(obj):
                    queue.append(obj)
            if FX_DATED in objects and FX_DATED not in queue:
                add_fx_fallback()
            # Every window of this run ends at the same instant, on the org's clock.
            run.run_start = client.server_now().replace(microsecond=0)
            report.started_at = run.run_start
            for obj in queue:
                current = obj
                try:
                    run.extract(obj)
                except ObjectUnavailable as exc:
                    run.unavailable(obj, exc)
                    if obj == FX_DATED:
                        add_fx_fallback()
        except ExtractError as exc:
            if current is not None:
                r = report.result(current)
                r.status, r.note = "failed", type(exc).__name__
            exc.report = report
            raise
        except DataError as exc:  # a page Arrow cannot read: same clean stop, same report
            if current is not None:
                r = report.result(current)
                r.status, r.note = "failed", "DataError"
            raise ExtractError(f"{current or 'extract'}: {exc}", report) from None
        finally:
            if client is not None:
                report.api_calls, report.api_usage = client.usage.calls, client.usage.summary()
    return report
