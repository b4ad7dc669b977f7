"""Manual decisions win over the machine: must-link joins, must-not-link splits."""

from __future__ import annotations

import json

import pytest

from etl.errors import ConfigError
from etl.linking import load_manual_linkages
from etl.linking.config import ManualLinkages
from tests.linking.helpers import CONFIG_DIR, groups, link_row, pair, run

SIEMENS = [("A", "Siemens AG"), ("B", "Siemens plc"), ("C", "Siemens Schweiz AG")]


def test_must_not_link_splits_a_machine_cluster(config):
    assert groups(run(config, SIEMENS)) == {frozenset("ABC")}
    manual = ManualLinkages(must_link=[], must_not_link=[pair("A", "C", "Swiss entity sold in 2023")])
    r = run(config, SIEMENS, manual=manual)
    # A-C itself is never accepted; of A-B and B-C (equally strong) the first in
    # pair order is applied, and B-C, which would now join A and C, is held back.
    assert groups(r) == {frozenset("AB"), frozenset("C")}
    held = r.review_queue[r.review_queue["review_type"] == "held_back_link"]
    assert list(zip(held["account_id_a"], held["account_id_b"])) == [("B", "C")]
    assert set(held["reason"]) == {
        "accepted link not applied: it would join accounts that a manual must-not-link keeps apart"
    }
    assert list(r.links["account_id_b"]) == ["B"]


def test_must_not_link_on_a_direct_pair(config):
    manual = ManualLinkages(must_link=[], must_not_link=[pair("A", "B")])
    r = run(config, SIEMENS[:2], manual=manual)
    assert groups(r) == {frozenset("A"), frozenset("B")}
    assert r.links.empty and r.review_queue.empty  # decided by a person: nothing left to review


def test_must_link_merges_two_clusters(config):
    rows = [("S1", "Siemens AG"), ("S2", "Siemens plc"), ("H1", "Healthineers GmbH"), ("H2", "Healthineers Ltd")]
    assert len(groups(run(config, rows))) == 2
    manual = ManualLinkages(must_link=[pair("H1", "S2")], must_not_link=[])
    r = run(config, rows, manual=manual)
    assert groups(r) == {frozenset({"S1", "S2", "H1", "H2"})}
    assert link_row(r, "H1", "S2")["method"] == "manual"


def test_must_not_link_beats_an_exact_match_chained_through_a_must_link(config):
    # A must-link B; A and C have identical names; but B must never join C.
    rows = [("A", "Acme Ltd"), ("B", "Zeta Trading Corp"), ("C", "Acme GmbH")]
    manual = ManualLinkages(must_link=[pair("A", "B")], must_not_link=[pair("B", "C")])
    r = run(config, rows, manual=manual)
    assert groups(r) == {frozenset("AB"), frozenset("C")}


def test_unknown_accounts_in_the_manual_file_are_counted_not_fatal(config):
    manual = ManualLinkages(must_link=[pair("A", "GONE")], must_not_link=[pair("X", "Y")])
    r = run(config, SIEMENS, manual=manual)
    assert r.stats.manual_unknown_accounts == 2
    assert groups(r) == {frozenset("ABC")}


def _write(tmp_path, doc) -> object:
    path = tmp_path / "manual_account_linkages.json"
    path.write_text(json.dumps(doc))
    return path


ENTRY = {"account_a": "A", "account_b": "B", "reason": "same company", "author": "alice", "date": "2024-05-01"}


def test_shipped_manual_file_is_valid():
    manual = load_manual_linkages(CONFIG_DIR / "manual_account_linkages.json", environ={})
    assert isinstance(manual, ManualLinkages)


def test_contradictory_decisions_are_rejected_naming_the_entry(tmp_path):
    path = _write(tmp_path, {"must_link": [ENTRY], "must_not_link": [{**ENTRY, "account_a": "B", "account_b": "A"}]})
    with pytest.raises(ConfigError) as err:
        load_manual_linkages(path, environ={})
    assert (err.value.file, err.value.key) == (str(path), "must_not_link.0")
    assert "also must_link.0" in err.value.problem


def test_a_pair_must_name_two_accounts(tmp_path):
    path = _write(tmp_path, {"must_link": [{**ENTRY, "account_b": "A"}], "must_not_link": []})
    with pytest.raises(ConfigError) as err:
        load_manual_linkages(path, environ={})
    assert err.value.key == "must_link.0"


def test_a_decision_needs_a_reason(tmp_path):
    path = _write(tmp_path, {"must_link": [{k: v for k, v in ENTRY.items() if k != "reason"}], "must_not_link": []})
    with pytest.raises(ConfigError) as err:
        load_manual_linkages(path, environ={})
    assert err.value.key == "must_link.0.reason"
