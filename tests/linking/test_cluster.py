"""Clusters: union-find, the chaining guard, the size guard and the grey band."""

from __future__ import annotations

import numpy as np

from etl.linking.cluster import DROP_CHAIN, KEPT, connected_components, resolve_clusters
from etl.linking.config import Clustering
from tests.linking.helpers import groups, run

HARBOR = [("A", "Harbor Freight Lines"), ("B", "Harbor Freight Carriers"), ("C", "Harbor Freight Movers")]
# A-B and B-C share a person (contact links, confidence 85); A and C share nobody.
CHAIN = [
    ("A", "k.ito@harborfreight.example"),
    ("B", "k.ito@harborfreight.example"),
    ("B", "m.ross@harborfreight.example"),
    ("C", "m.ross@harborfreight.example"),
]


def test_connected_components_labels_each_component_by_its_smallest_node():
    labels = connected_components(7, np.array([5, 1, 3, 6]), np.array([6, 0, 1, 4]))
    assert list(labels) == [0, 0, 2, 0, 4, 4, 4]
    assert list(connected_components(3, np.array([], int), np.array([], int))) == [0, 1, 2]


def test_connected_components_long_chain():
    n = 1000
    order = np.random.default_rng(0).permutation(n)  # a path visiting nodes in random order
    labels = connected_components(n, order[:-1], order[1:])
    assert set(labels) == {0}


def test_a_chain_is_flagged_not_merged(config):
    r = run(config, HARBOR, CHAIN)
    assert groups(r) == {frozenset("A"), frozenset("B"), frozenset("C")}
    assert r.master_accounts["needs_review"].all()
    q = r.review_queue
    assert list(q["review_type"]) == ["held_back_link", "held_back_link", "chain_cluster"]
    cluster = q.iloc[2]
    assert cluster["member_account_ids"] == ["A", "B", "C"]
    assert cluster["reason"] == (
        "chained cluster of 3 accounts: 3 groups joined only by links below 90, and 1 pair(s) of differently "
        "named members across them are not linked directly; only the strong groups were merged"
    )
    assert q.iloc[0]["evidence"].endswith("shared contact k.ito@harborfreight.example")


def test_weak_links_corroborated_by_every_pair_are_merged(config):
    r = run(config, HARBOR, CHAIN + [("A", "j.ode@harborfreight.example"), ("C", "j.ode@harborfreight.example")])
    assert groups(r) == {frozenset("ABC")}
    assert not r.master_accounts["needs_review"].any()
    assert r.review_queue.empty


def test_a_weak_link_to_a_group_of_identical_names_is_not_a_chain(config):
    # A1 and A2 have one normalised name; C links weakly to A1 only (blocking compares one
    # representative per name), which is a direct link to both.
    rows = [("A1", "Harbor Freight Lines Ltd"), ("A2", "Harbor Freight Lines GmbH"), ("C", "Harbor Freight Movers")]
    r = run(config, rows, [("A1", "k.ito@harborfreight.example"), ("C", "k.ito@harborfreight.example")])
    assert groups(r) == {frozenset({"A1", "A2", "C"})}
    assert r.review_queue.empty


def test_oversize_cluster_keeps_only_confidence_100_links(config):
    small = config.model_copy(update={"clustering": Clustering(chain_min_confidence=90, max_cluster_size=3)})
    rows = [("A1", "Acme Ltd"), ("A2", "Acme GmbH"), ("A3", "Acme Inc"), ("A4", "Acme SAS"), ("B", "Acme Freight Corp")]
    r = run(small, rows, [("A4", "p.lund@acme.example"), ("B", "p.lund@acme.example")])
    assert groups(r) == {frozenset({"A1", "A2", "A3", "A4"}), frozenset({"B"})}
    q = r.review_queue
    oversize = q[q["review_type"] == "oversize_cluster"].iloc[0]
    assert oversize["member_account_ids"] == ["A1", "A2", "A3", "A4", "B"]
    assert oversize["reason"] == (
        "cluster of 5 accounts exceeds max_cluster_size 3; only links at confidence 100 "
        "(identical names, manual) were merged"
    )
    held = q[q["review_type"] == "held_back_link"]
    assert list(zip(held["account_id_a"], held["account_id_b"], held["confidence"])) == [("A4", "B", 85.0)]
    assert r.master_accounts["needs_review"].all()


def test_grey_band_pairs_in_the_same_cluster_are_not_reviewed(config):
    # Vodafone/Vodaphone alone is a grey pair (82.4); with a shared parent they are
    # linked, so there is nothing left to review.
    alone = run(config, [("V1", "Vodafone GmbH"), ("V2", "Vodaphone Ltd")])
    assert list(alone.review_queue["review_type"]) == ["grey_band_pair"]
    tied = run(config, [("V1", "Vodafone GmbH"), ("V2", "Vodaphone Ltd", "V1")])
    assert groups(tied) == {frozenset({"V1", "V2"})}
    assert tied.review_queue.empty


def test_resolve_clusters_marks_the_weak_edges_of_a_chain():
    cfg = Clustering(chain_min_confidence=90, max_cluster_size=10)
    u, v = np.array([0, 1, 3]), np.array([1, 2, 4])
    result = resolve_clusters(
        5, u, v, np.array([86.0, 86.0, 100.0]), np.zeros(3, bool), np.zeros(0, int), np.zeros(0, int), cfg
    )
    assert list(result.edge_status) == [DROP_CHAIN, DROP_CHAIN, KEPT]
    assert list(result.labels) == [0, 1, 2, 3, 3]
    assert list(result.needs_review) == [True, True, True, False, False]
