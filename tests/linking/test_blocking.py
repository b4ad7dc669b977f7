"""Blocking: all pairs in small blocks, a bounded window in big ones, and the stats."""

from __future__ import annotations

import numpy as np

from etl.linking.blocking import DISCARD, STAR, WINDOWED, block_pairs, unique_pairs
from tests.linking.helpers import run


def _pairs(left, right) -> list[tuple[int, int]]:
    return sorted(zip(left.tolist(), right.tolist()))


def test_small_blocks_are_compared_all_pairs():
    keys = np.array([7, 7, 7, 9, 9, 3])
    members = np.array([10, 11, 12, 20, 21, 30])
    left, right, key, stats = block_pairs(
        keys, members, np.arange(6), max_block_size=5, oversize=WINDOWED, window=1, label="k"
    )
    assert _pairs(left, right) == [(10, 11), (10, 12), (11, 12), (20, 21)]
    assert sorted(key.tolist()) == [7, 7, 7, 9]
    assert (stats.blocks, stats.largest_block, stats.largest_compared_block, stats.capped_blocks) == (2, 3, 3, 0)
    assert stats.pairs_by_key == {"k": 4}


def test_a_member_listed_twice_in_a_block_counts_once():
    left, right, _, stats = block_pairs(
        np.array([1, 1, 1]), np.array([5, 5, 6]), np.zeros(3), max_block_size=5, oversize=WINDOWED, window=1, label="k"
    )
    assert _pairs(left, right) == [(5, 6)]


def test_an_oversized_block_is_windowed_in_name_order():
    members = np.arange(10)
    rank = members[::-1].copy()  # name order is the reverse of the member order
    left, right, _, stats = block_pairs(
        np.zeros(10, int), members, rank, max_block_size=4, oversize=WINDOWED, window=2, label="k"
    )
    # Each member meets its next 2 in name order: 8 * 2 + 1 = 17 pairs instead of 45.
    assert len(left) == 17
    assert all(abs(a - b) <= 2 for a, b in zip(left, right))
    assert (stats.capped_blocks, stats.largest_block, stats.largest_compared_block) == (1, 10, 0)


def test_oversized_identical_names_are_linked_as_a_star():
    left, right, _, stats = block_pairs(
        np.zeros(5, int), np.arange(5), np.arange(5), max_block_size=3, oversize=STAR, window=1, label="name"
    )
    assert _pairs(left, right) == [(0, 1), (0, 2), (0, 3), (0, 4)]


def test_oversized_contact_blocks_are_discarded():
    left, right, _, stats = block_pairs(
        np.zeros(5, int), np.arange(5), np.arange(5), max_block_size=3, oversize=DISCARD, window=1, label="email"
    )
    assert len(left) == 0
    assert (stats.discarded_blocks, stats.capped_blocks) == (1, 0)


def test_unique_pairs_orders_and_deduplicates():
    lo, hi = unique_pairs(np.array([3, 1, 2, 2]), np.array([1, 3, 2, 0]), 4)
    assert list(zip(lo.tolist(), hi.tolist())) == [(0, 2), (1, 3)]


def test_a_common_word_cannot_blow_up_the_comparisons(config):
    # 400 distinct companies that all start with "Telecom": the first-word block holds
    # all of them, and is windowed instead of compared all-pairs (79,800 pairs).
    rng = np.random.default_rng(3)
    letters = np.array(list("bcdfghklmnprstvz"))
    brands = {"".join(rng.choice(letters, 7)) for _ in range(600)}
    rows = [(f"T{i:03d}", f"Telecom {b.title()} Ltd") for i, b in enumerate(sorted(brands)[:400])]
    r = run(config, rows)
    stats = r.stats
    cap, window = config.blocking.max_block_size, config.blocking.neighbourhood_window
    assert stats.largest_block == 400
    assert stats.largest_compared_block <= cap
    assert stats.capped_blocks >= 1
    assert stats.pairs_by_key["first_token"] <= 400 * window
    assert stats.pairs_compared < 400 * 399 // 2 // 4


def test_a_typo_in_the_middle_of_a_word_is_still_compared(config):
    r = run(config, [("V1", "Vodafone GmbH"), ("V2", "Vodaphone Ltd")])
    assert r.stats.pairs_compared == 1
    assert r.stats.pairs_by_key["prefix"] == 1
