"""Candidate pairs from blocking keys, so cost grows with the data, not its square.

Two records are compared only when they share a blocking key.  Several keys
are used because any single one loses true pairs on noisy data (a typo in the
first word defeats a first-word key, a reordered name defeats a prefix key):

=============  ======  =====================================================
key            level   value
=============  ======  =====================================================
name           account the compact normalised name (identical names)
rare_token     name    each name's k least frequent words (frequency over
                       distinct names, so one company's 30 regional accounts
                       do not make its own name look common)
first_token    name    the first word
prefix         name    the first characters of the compact name
suffix         name    the last characters of each rare word (a typo near
                       the start of a brand keeps its ending)
sorted_prefix  name    the first characters of the alphabetically sorted
                       words (catches reordered words)
parent         account the top of the account's parent hierarchy
email          account a contact email that is evidence (not a shared
                       mailbox, not freemail)
phone          account an account or contact phone that is evidence
domain         account the registrable label of the website and of the
                       contacts' non-freemail email domains ("siemens" for
                       siemens.co.uk)
=============  ======  =====================================================

Name-level keys block distinct normalised names, not accounts: accounts with
the same normalised name are already joined by the ``name`` key, so comparing
one representative per name loses nothing and saves the multiplicity.

A block of up to ``max_block_size`` members is compared all-pairs.  A larger
block (one common word such as "telecom") is not: its members are ordered by
name and each is compared with its next ``neighbourhood_window`` members
(sorted-neighbourhood), so it costs ``size * window`` pairs instead of
``size**2 / 2``.  The ``name`` key links a large group of identical names as a
star (each to the first member), which connects them just as well.  Email and
phone blocks larger than ``max_accounts_per_contact`` are discarded: a
mailbox or number on that many accounts is a shared service, not evidence.

Everything is numpy over integer codes; pairs are generated with repeat/cumsum
arithmetic, never by a loop over blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WINDOWED, STAR, DISCARD = "window", "star", "discard"


@dataclass
class BlockStats:
    """What blocking did, for `LinkStats` and for tuning the caps."""

    blocks: int = 0
    capped_blocks: int = 0
    discarded_blocks: int = 0
    largest_block: int = 0
    largest_compared_block: int = 0
    pairs_by_key: dict[str, int] = field(default_factory=dict)

    def add(self, other: BlockStats) -> None:
        self.blocks += other.blocks
        self.capped_blocks += other.capped_blocks
        self.discarded_blocks += other.discarded_blocks
        self.largest_block = max(self.largest_block, other.largest_block)
        self.largest_compared_block = max(self.largest_compared_block, other.largest_compared_block)
        for k, v in other.pairs_by_key.items():
            self.pairs_by_key[k] = self.pairs_by_key.get(k, 0) + v


def run_positions(counts: np.ndarray) -> np.ndarray:
    """For counts [2, 3] -> [0, 1, 0, 1, 2]: the position inside each run."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def block_pairs(
    keys: np.ndarray,
    members: np.ndarray,
    rank: np.ndarray,
    *,
    max_block_size: int,
    oversize: str,
    window: int,
    label: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, BlockStats]:
    """Pairs (left, right, key) of members that share a key, respecting the block cap.

    ``keys`` and ``members`` are aligned integer arrays (one row per member of a
    block; duplicates are dropped), ``rank`` gives each row's position in name
    order.  ``oversize`` says what happens to a block above the cap: WINDOWED
    (sorted neighbourhood), STAR (all to the first member) or DISCARD.
    """
    stats = BlockStats(pairs_by_key={label: 0})
    empty = np.zeros(0, dtype=np.int64)
    if len(keys) == 0:
        return empty, empty, empty, stats
    keys = np.asarray(keys, dtype=np.int64)
    members = np.asarray(members, dtype=np.int64)
    rank = np.asarray(rank, dtype=np.int64)
    order = np.lexsort((members, rank, keys))
    keys, members, rank = keys[order], members[order], rank[order]
    dup = np.zeros(len(keys), dtype=bool)
    dup[1:] = (keys[1:] == keys[:-1]) & (members[1:] == members[:-1])
    keys, members = keys[~dup], members[~dup]

    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    real = sizes >= 2
    stats.blocks = int(real.sum())
    if stats.blocks == 0:
        return empty, empty, empty, stats
    stats.largest_block = int(sizes.max())
    big = sizes > max_block_size
    stats.capped_blocks = int((big & real).sum()) if oversize != DISCARD else 0
    stats.discarded_blocks = int(big.sum()) if oversize == DISCARD else 0
    small_sizes = sizes[real & ~big]
    stats.largest_compared_block = int(small_sizes.max()) if len(small_sizes) else 0

    size_of_row = np.repeat(sizes, sizes)
    offset = run_positions(sizes)
    later = size_of_row - offset - 1  # members after this one in its block
    big_row = np.repeat(big, sizes)
    if oversize == WINDOWED:
        partners = np.where(big_row, np.minimum(later, window), later)
    elif oversize == STAR:
        partners = np.where(big_row, np.where(offset == 0, later, 0), later)
    elif oversize == DISCARD:
        partners = np.where(big_row, 0, later)
    else:
        raise ValueError(f"unknown oversize policy {oversize!r}")
    left_pos = np.repeat(np.arange(len(keys), dtype=np.int64), partners)
    right_pos = left_pos + 1 + run_positions(partners)
    left, right = members[left_pos], members[right_pos]
    stats.pairs_by_key[label] = len(left)
    return left, right, keys[left_pos], stats


def unique_pairs(left: np.ndarray, right: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct unordered pairs (lo < hi) of indices below ``n``; self-pairs dropped."""
    lo = np.minimum(left, right).astype(np.int64)
    hi = np.maximum(left, right).astype(np.int64)
    keep = lo != hi
    codes = np.sort(lo[keep] * np.int64(n) + hi[keep])  # sort-based: numpy's hash unique is slower here
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes
    return codes // n, codes % n
