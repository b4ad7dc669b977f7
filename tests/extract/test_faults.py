"""Every injected fault either succeeds after retries or ends the run cleanly:
the last published bronze intact, no staging left, the watermark unchanged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from etl.extract.credentials import load_credentials
from etl.extract.emulator import Emulator, Fault
from etl.extract.errors import ApiLimitError, SessionExpiredError, TransientError
from etl.extract.state import WatermarkStore
from tests.extract.conftest import new_emulator
from tests.extract.helpers import assert_bronze_matches_org, bronze_snapshot, hidden_paths
from tests.extract.sf_book import NOW, make_book

REST_PAGE = r"GET .*/queryAll/01g"  # a nextRecordsUrl page
BULK_RESULTS = r"GET .*/jobs/query/750\w+/results"


@pytest.fixture
def emu(server) -> Emulator:
    """Enough accounts for several REST pages (batchSize 200) and Bulk pages (maxRecords 100)."""
    return new_emulator(server, make_book(sizes={"Account": 650}))


@pytest.fixture
def config(config):
    return config.model_copy(update={"bulk2": config.bulk2.model_copy(update={"page_records": 100})})


def _changed_org(emu: Emulator) -> None:
    """After a first run: move the clock and change some accounts, so the next run has work to do."""
    emu.fixed_now = NOW + timedelta(hours=1)
    ids = list(emu.org.frame("Account")["Id"].iloc[:4])
    emu.org.update("Account", ids, {"Industry": "Telecom"}, at=NOW + timedelta(minutes=30))


@pytest.mark.parametrize(
    ("api", "fault"),
    [
        ("rest", Fault("status", REST_PAGE, times=2, status=503)),
        ("rest", Fault("status", REST_PAGE, times=1, status=500, error_code="UNKNOWN_EXCEPTION", message="An unexpected error occurred")),
        ("rest", Fault("drop", REST_PAGE, times=2)),
        ("rest", Fault("slow", REST_PAGE, times=1, seconds=1.5)),
        ("rest", Fault("status", r"GET .*/describe", times=1, status=502)),
        ("bulk2", Fault("drop", BULK_RESULTS, times=1, after=1)),
        ("bulk2", Fault("status", BULK_RESULTS, times=2, status=503)),
        ("bulk2", Fault("slow", r"GET .*/jobs/query/750\w+$", times=1, seconds=1.5)),
        ("bulk2", Fault("status", r"POST .*/jobs/query", times=1, status=503)),
    ],
    ids=["rest-503", "rest-500", "rest-drop", "rest-slow", "describe-502", "bulk-drop", "bulk-503", "bulk-poll-slow", "bulk-create-503"],
)
def test_transient_faults_are_retried(extract, emu: Emulator, api: str, fault: Fault, caplog):
    config = extract.config.model_copy(update={"timeouts": extract.config.timeouts.model_copy(update={"read_seconds": 0.5})})
    emu.add_fault(fault)
    with caplog.at_level(logging.WARNING, logger="etl.extract"):
        report = extract(["Account"], api=api, config=config)
    assert fault.times == 0, "the fault was never triggered"
    assert report.results[0].status == "published"
    assert_bronze_matches_org(extract.data_dir, emu, "Account")  # no page lost, none doubled
    retries = [r.getMessage() for r in caplog.records if "retry 1 of 3" in r.getMessage()]
    assert retries, "no retry was logged"
    expected = {"status": f"HTTP {fault.status}", "drop": "ChunkedEncodingError", "slow": "ReadTimeout"}[fault.kind]
    assert expected in retries[0]


def _assert_clean_failure(extract, before: dict[str, bytes], obj: str = "Account") -> None:
    assert bronze_snapshot(extract.data_dir) == before, "a failed run changed bronze or the watermarks"
    assert hidden_paths(extract.data_dir) == [], "a failed run left a staging directory"
    assert WatermarkStore(extract.data_dir).get(obj) == NOW


@pytest.mark.parametrize("api", ["rest", "bulk2"])
def test_persistent_5xx_ends_cleanly(extract, emu: Emulator, api: str):
    extract(["Account"])
    before = bronze_snapshot(extract.data_dir)
    _changed_org(emu)
    emu.add_fault(Fault("status", REST_PAGE if api == "rest" else BULK_RESULTS, times=99, after=1, status=503))
    config = extract.config
    with pytest.raises(TransientError, match=r"gave up after 4 attempt\(s\): HTTP 503") as err:
        extract(["Account"], api=api, config=config, full_refresh=True)
    _assert_clean_failure(extract, before)
    r = err.value.report.results[0]
    assert r.status == "failed" and r.watermark_after == NOW


def test_expired_session_is_refreshed_when_the_method_can_log_in(extract, emu: Emulator):
    emu.add_fault(Fault("expire", REST_PAGE, times=1))
    report = extract(["Account"], api="rest")
    assert report.results[0].status == "published"
    assert [flow for flow, _ in emu.logins] == ["password", "password"]
    assert_bronze_matches_org(extract.data_dir, emu, "Account")


def test_expired_session_is_refreshed_during_bulk(extract, emu: Emulator):
    emu.add_fault(Fault("expire", BULK_RESULTS, times=1, after=1))
    report = extract(["Account"], api="bulk2")
    assert report.results[0].status == "published" and len(emu.logins) == 2
    assert_bronze_matches_org(extract.data_dir, emu, "Account")


def test_expired_session_id_ends_cleanly(extract, emu: Emulator, server):
    token = emu.issue_token()
    creds = load_credentials({"C360_SF_SESSION_ID": token, "C360_SF_INSTANCE_URL": server.instance_url})
    extract(["Account"], creds=creds)
    before = bronze_snapshot(extract.data_dir)
    _changed_org(emu)
    emu.add_fault(Fault("expire", REST_PAGE, times=1))
    with pytest.raises(SessionExpiredError, match="INVALID_SESSION_ID.*C360_SF_SESSION_ID") as err:
        extract(["Account"], creds=creds, full_refresh=True)
    assert token not in str(err.value)
    _assert_clean_failure(extract, before)


def test_request_limit_exceeded_ends_cleanly_and_says_how_many_calls(extract, emu: Emulator):
    extract(["Account"])
    before = bronze_snapshot(extract.data_dir)
    _changed_org(emu)
    # other integrations spent the rest of the budget: the org refuses the 3rd call (the second page)
    emu.api_limit, emu.api_used = 10_000, 9_000
    emu.add_fault(Fault("status", REST_PAGE, status=403, error_code="REQUEST_LIMIT_EXCEEDED", message="TotalRequests Limit exceeded."))
    config = extract.config.model_copy(update={"api_budget_share": 1.0})
    with pytest.raises(ApiLimitError, match=r"REQUEST_LIMIT_EXCEEDED .*org API usage 9,003/10,000 \(90%\); this run made 3 API call") as err:
        extract(["Account"], api="rest", config=config, full_refresh=True)
    _assert_clean_failure(extract, before)
    assert err.value.report.api_calls == 3


def test_org_out_of_calls_ends_cleanly(extract, emu: Emulator):
    emu.api_limit, emu.api_used = 100, 100  # every call is over the limit: 403 from the first describe
    config = extract.config.model_copy(update={"api_budget_share": 1.0})
    with pytest.raises(ApiLimitError, match="REQUEST_LIMIT_EXCEEDED"):
        extract(["Account"], config=config)
    assert not (extract.data_dir / "bronze" / "Account").exists()
    assert WatermarkStore(extract.data_dir).get("Account") is None


def test_budget_guard_stops_before_the_share_is_spent(extract, emu: Emulator):
    extract(["Account"])
    before = bronze_snapshot(extract.data_dir)
    _changed_org(emu)
    emu.api_limit, emu.api_used = 1_000, 497
    config = extract.config.model_copy(update={"api_budget_share": 0.5})
    with pytest.raises(ApiLimitError, match=r"budget guard .*org API usage 500/1,000 \(50%\); this run made 3 API call") as err:
        extract(["Account", "Contact"], api="rest", config=config, full_refresh=True)
    _assert_clean_failure(extract, before)
    assert emu.api_used == 500  # no call was made past the guard
    statuses = {r.object: r.status for r in err.value.report.results}
    assert statuses == {"Account": "failed", "Contact": "not run"}


def test_objects_finished_before_a_failure_stay_published(extract, emu: Emulator):
    emu.add_fault(Fault("status", r"jobs/query", times=99, status=503))
    with pytest.raises(TransientError) as err:
        extract(["User", "Account"], config=extract.config.model_copy(
            update={"objects": {**extract.config.objects, "Account": extract.config.objects["Account"].model_copy(update={"bulk": True})}}))
    statuses = {r.object: r.status for r in err.value.report.results}
    assert statuses == {"User": "published", "Account": "failed"}
    assert_bronze_matches_org(extract.data_dir, emu, "User")
    assert WatermarkStore(extract.data_dir).get("Account") is None
    assert hidden_paths(extract.data_dir) == []


def test_staging_left_by_a_killed_run_is_removed(extract, emu: Emulator):
    stale = extract.data_dir / "bronze" / "Account" / ".extract-staging-20260101T000000Z-dead00-abc123"
    stale.mkdir(parents=True)
    (stale / "part-00000.parquet").write_bytes(b"half a file")
    extract(["Account"])
    assert not stale.exists()
    assert_bronze_matches_org(extract.data_dir, emu, "Account")
