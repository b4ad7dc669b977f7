"""Master ids stay put: unchanged masters keep theirs, merges keep the older, splits the larger part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl.errors import DataError
from etl.linking.ids import assign_master_ids
from tests.linking.helpers import master_of, run


def _assign(clusters: list[str], previous: dict[str, str] | None) -> dict[str, str]:
    """clusters: one string of account letters per new cluster."""
    ids = [a for c in clusters for a in c]
    labels = np.array([i for i, c in enumerate(clusters) for _ in c])
    prev = None if previous is None else pd.DataFrame({"account_id": list(previous), "master_id": list(previous.values())})
    return dict(zip(ids, assign_master_ids(np.array(ids, dtype=object), labels, prev)))


def test_first_run_names_each_master_after_its_smallest_account():
    assert _assign(["BA", "C"], None) == {"A": "M1-A", "B": "M1-A", "C": "M1-C"}


def test_unchanged_masters_keep_their_ids_and_new_ones_get_a_new_generation():
    got = _assign(["AZ", "D"], {"A": "M3-Z", "Z": "M3-Z"})
    assert got == {"A": "M3-Z", "Z": "M3-Z", "D": "M4-D"}


def test_added_and_removed_accounts_keep_the_id():
    assert _assign(["BCD"], {"A": "M1-A", "B": "M1-A", "C": "M1-A"}) == {"B": "M1-A", "C": "M1-A", "D": "M1-A"}


def test_a_merge_keeps_the_older_master():
    assert set(_assign(["AB"], {"A": "M5-A", "B": "M2-B"}).values()) == {"M2-B"}
    # Same generation: the smaller founding account is the older.
    assert set(_assign(["AB"], {"A": "M1-A", "B": "M1-B"}).values()) == {"M1-A"}


def test_a_split_keeps_the_id_on_the_larger_part():
    got = _assign(["A", "BC"], {"A": "M1-A", "B": "M1-A", "C": "M1-A"})
    assert got == {"A": "M2-A", "B": "M1-A", "C": "M1-A"}
    # An even split keeps it on the part with the smallest account id.
    got = _assign(["A", "B"], {"A": "M1-A", "B": "M1-A"})
    assert got == {"A": "M1-A", "B": "M2-B"}


def test_a_new_id_never_repeats_a_previous_one():
    # A was split off from M1-A... and M2-A is already taken by someone: skip to M3.
    got = _assign(["A", "BC"], {"A": "M2-A", "B": "M1-B", "C": "M1-B", "X": "M2-X"})
    assert got["A"] == "M2-A"
    got = _assign(["A", "BC", "D"], {"B": "M2-D", "C": "M2-D", "A": "M1-A"})
    assert got == {"A": "M1-A", "B": "M2-D", "C": "M2-D", "D": "M3-D"}


def test_malformed_previous_mappings_are_rejected():
    with pytest.raises(DataError, match="not of the form"):
        _assign(["A"], {"A": "master-7"})
    prev = pd.DataFrame({"account_id": ["A", "A"], "master_id": ["M1-A", "M1-B"]})
    with pytest.raises(DataError, match="twice"):
        assign_master_ids(np.array(["A"], dtype=object), np.array([0]), prev)


def test_rerun_with_added_changed_and_removed_accounts(config):
    first = run(
        config,
        [
            ("A1", "Siemens AG"),
            ("A2", "Siemens plc"),
            ("B1", "Bosch GmbH"),
            ("B2", "Bosch Ltd"),
            ("C1", "Contoso Pharma AG"),
            ("C2", "Contoso Pharma Inc"),
            ("C3", "Contoso Pharma Ltd"),
            ("D1", "Dunmore Foods Ltd"),
            ("E1", "Elbrook Mining plc"),
        ],
    )
    before = master_of(first)
    assert before == {
        "A1": "M1-A1", "A2": "M1-A1", "B1": "M1-B1", "B2": "M1-B1",
        "C1": "M1-C1", "C2": "M1-C1", "C3": "M1-C1", "D1": "M1-D1", "E1": "M1-E1",
    }
    rows = [
        ("A1", "Siemens AG"),
        ("A2", "Siemens plc"),  # unchanged master
        ("A3", "Siemens Canada Limited"),  # added to an existing master
        ("B2", "Bosch Ltd"),  # B1 removed
        ("C1", "Contoso Pharma AG"),  # C3 renamed away: C splits, the larger part keeps the id
        ("C2", "Contoso Pharma Inc"),
        ("C3", "Northwind Traders Ltd"),
        ("D1", "Dunmore Foods Ltd"),  # E1 renamed into D's company: a merge, the older id wins
        ("E1", "Dunmore Foods plc"),
        ("F1", "Fabrikam Ltd"),  # new
    ]
    second = run(config, rows, previous=first.master_accounts)
    after = master_of(second)
    assert after == {
        "A1": "M1-A1", "A2": "M1-A1", "A3": "M1-A1",
        "B2": "M1-B1",
        "C1": "M1-C1", "C2": "M1-C1", "C3": "M2-C3",
        "D1": "M1-D1", "E1": "M1-D1",
        "F1": "M2-F1",
    }
    # Nothing changed: nothing changes, and input order does not matter.
    third = run(config, rows[::-1], previous=second.master_accounts)
    assert master_of(third) == after
