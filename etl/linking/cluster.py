"""From accepted links to clusters, with manual splits and guards against chaining.

Policy, applied in this order:

1. Connected components of the accepted links (machine links at or above the
   acceptance threshold, plus manual must-links).
2. Must-not-link: a component that contains a must-not-link pair is rebuilt
   greedily from its links in order of strength (manual first, then by
   confidence, ties by pair order), skipping every link that would put a
   must-not-link pair into one cluster.  The strongest evidence survives and
   the manual decision always holds; the skipped links go to review.
3. Chaining: within a component, the *strong* links are those at or above
   ``chain_min_confidence``.  If the strong links alone split the component
   into pieces, some members are joined only through a weaker link.  When
   every pair of members in different pieces is also linked directly, the
   weak links are corroborated and the component stays whole.  Otherwise
   (A~B, B~C, A and C unlinked) the component is a chain: it is flagged for
   review and only its strong pieces are merged.
4. Size: a component larger than ``max_cluster_size`` is flagged and only its
   links at confidence 100 (identical names, manual must-links) are kept; if
   those alone still form a large cluster it stays merged, flagged.

Connected components are computed with an array-based union-find (hooking
roots onto smaller roots, then pointer jumping), a handful of numpy passes,
so millions of links cost seconds.  Only components touched by a
must-not-link are handled one link at a time, and there are few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.arrays import distinct
from etl.linking.config import Clustering

KEPT, DROP_MUST_NOT_LINK, DROP_CHAIN, DROP_OVERSIZE = 0, 1, 2, 3


def connected_components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` nodes: the smallest node index in its component."""
    parent = np.arange(n, dtype=np.int64)
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    while len(u):
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        u, v, pu, pv = u[differ], v[differ], pu[differ], pv[differ]
        if not len(u):
            break
        np.minimum.at(parent, np.maximum(pu, pv), np.minimum(pu, pv))
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    return parent


@dataclass
class ClusterResult:
    labels: np.ndarray  # final cluster label per node (smallest member index)
    edge_status: np.ndarray  # KEPT or the reason the link was not applied
    flagged: pd.DataFrame  # one row per flagged component: label, members (node indices), kind, reason
    needs_review: np.ndarray  # per node: its component was flagged


def _units(pieces: np.ndarray, name_group: np.ndarray | None) -> np.ndarray:
    """Each node's unit: the smallest node with the same name group in the same strong piece.

    Accounts with identical normalised names are interchangeable for the chain
    test: a link to one of them is a direct link to all (blocking compares one
    representative per name, so only one such link may exist).
    """
    n = len(pieces)
    if name_group is None:
        return np.arange(n, dtype=np.int64)
    key = pd.MultiIndex.from_arrays([pieces, name_group])
    codes = pd.factorize(key)[0]
    first = np.full(codes.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(n, dtype=np.int64))
    return first[codes]


def _members(labels: np.ndarray, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """Member node indices of each wanted label, with one sort (not one scan per label)."""
    idx = np.flatnonzero(np.isin(labels, wanted))
    idx = idx[np.argsort(labels[idx], kind="stable")]
    lab = labels[idx]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]]) if len(idx) else np.zeros(0, np.int64)
    return {int(lab[s]): part for s, part in zip(starts, np.split(idx, starts[1:]))}


def _split_must_not_link(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    strength: np.ndarray,
    labels: np.ndarray,
    cannot_u: np.ndarray,
    cannot_v: np.ndarray,
) -> np.ndarray:
    """Indices of links to drop so that no must-not-link pair shares a component."""
    conflict = labels[cannot_u] == labels[cannot_v]
    if not conflict.any():
        return np.zeros(0, dtype=np.int64)
    bad_labels = distinct(labels[cannot_u[conflict]])
    in_bad = np.isin(labels[u], bad_labels)
    idx = np.flatnonzero(in_bad)
    idx = idx[np.lexsort((idx, -strength[idx]))]  # strongest first, then stable
    forbidden: dict[int, set[int]] = {}
    for x, y in zip(cannot_u[conflict].tolist(), cannot_v[conflict].tolist()):
        forbidden.setdefault(x, set()).add(y)
        forbidden.setdefault(y, set()).add(x)
    root: dict[int, int] = {}
    members: dict[int, set[int]] = {}

    def find(x: int) -> int:
        while root.get(x, x) != x:
            x = root[x]
        return x

    dropped = []
    for e, a, b in zip(idx.tolist(), u[idx].tolist(), v[idx].tolist()):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ma, mb = members.setdefault(ra, {ra}), members.setdefault(rb, {rb})
        if len(ma) > len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        if any(y in mb for x in ma for y in forbidden.get(x, ())):
            dropped.append(e)
            continue
        root[ra] = rb
        mb |= ma
        del members[ra]
    return np.asarray(dropped, dtype=np.int64)


def resolve_clusters(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    confidence: np.ndarray,
    manual: np.ndarray,
    cannot_u: np.ndarray,
    cannot_v: np.ndarray,
    cfg: Clustering,
    name_group: np.ndarray | None = None,
) -> ClusterResult:
    """Apply the policy in the module docstring to accepted links ``u[i] - v[i]``.

    ``name_group`` (optional, per node) marks nodes with identical normalised
    names; distinct values (e.g. the node index) for names that identify nobody.
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    confidence = np.asarray(confidence, dtype=np.float64)
    status = np.full(len(u), KEPT, dtype=np.int8)
    flagged_rows: list[pd.DataFrame] = []

    labels = connected_components(n, u, v)
    strength = confidence + np.where(manual, 1000.0, 0.0)
    dropped = _split_must_not_link(
        n, u, v, strength, labels, np.asarray(cannot_u, np.int64), np.asarray(cannot_v, np.int64)
    )
    status[dropped] = DROP_MUST_NOT_LINK
    kept = status == KEPT
    labels = connected_components(n, u[kept], v[kept])

    # Chaining: strong pieces inside each component, counted in units of same-name accounts.
    strong = kept & (confidence >= cfg.chain_min_confidence)
    pieces = connected_components(n, u[strong], v[strong])
    unit = _units(pieces, name_group)
    unit_label = np.full(n, -1, dtype=np.int64)
    unit_label[unit] = labels  # a unit lies inside one piece, so inside one component
    unit_piece = np.full(n, -1, dtype=np.int64)
    unit_piece[unit] = pieces
    is_unit = unit_label >= 0
    units_per_label = np.bincount(unit_label[is_unit], minlength=n)
    piece_units = np.bincount(unit_piece[is_unit], minlength=n)  # pieces are labelled by a node index too
    n_pieces = np.bincount(labels[distinct(pieces)], minlength=n)
    sumsq = np.bincount(labels[np.flatnonzero(piece_units)], weights=piece_units[piece_units > 0] ** 2, minlength=n)
    multi = np.flatnonzero((n_pieces > 1) & (units_per_label >= 3))
    sizes = np.bincount(labels, minlength=n)
    if len(multi):
        ku, kv = unit[u[kept]], unit[v[kept]]
        cross = (unit_piece[ku] != unit_piece[kv]) & np.isin(unit_label[ku], multi)
        lo, hi = np.minimum(ku[cross], kv[cross]), np.maximum(ku[cross], kv[cross])
        direct_codes = distinct(lo * np.int64(n) + hi)
        have = np.bincount(unit_label[direct_codes // n], minlength=n)
        needed = (units_per_label.astype(np.int64) ** 2 - sumsq.astype(np.int64)) // 2
        chained = multi[have[multi] < needed[multi]]
        if len(chained):
            chain_edge = kept & np.isin(labels[u], chained) & (pieces[u] != pieces[v])
            status[chain_edge] = DROP_CHAIN
            members = _members(labels, chained)
            flagged_rows.append(
                pd.DataFrame(
                    {
                        "label": chained,
                        "members": [members[lab] for lab in chained],
                        "kind": "chain",
                        "reason": [
                            f"chained cluster of {sizes[lab]} accounts: {n_pieces[lab]} groups joined only by links "
                            f"below {cfg.chain_min_confidence:g}, and {needed[lab] - have[lab]} pair(s) of differently "
                            "named members across them are not linked directly; only the strong groups were merged"
                            for lab in chained
                        ],
                    }
                )
            )
            kept = status == KEPT
            labels = connected_components(n, u[kept], v[kept])

    # Size.
    sizes = np.bincount(labels, minlength=n)
    oversize = np.flatnonzero(sizes > cfg.max_cluster_size)
    if len(oversize):
        in_big = kept & np.isin(labels[u], oversize)
        status[in_big & (confidence < 100)] = DROP_OVERSIZE
        members = _members(labels, oversize)
        flagged_rows.append(
            pd.DataFrame(
                {
                    "label": oversize,
                    "members": [members[lab] for lab in oversize],
                    "kind": "oversize",
                    "reason": [
                        f"cluster of {sizes[lab]} accounts exceeds max_cluster_size {cfg.max_cluster_size}; "
                        "only links at confidence 100 (identical names, manual) were merged"
                        for lab in oversize
                    ],
                }
            )
        )
        kept = status == KEPT
        labels = connected_components(n, u[kept], v[kept])

    flagged = (
        pd.concat(flagged_rows, ignore_index=True)
        if flagged_rows
        else pd.DataFrame({"label": [], "members": [], "kind": [], "reason": []})
    )
    needs_review = np.zeros(n, dtype=bool)
    if len(flagged):
        needs_review[np.concatenate(list(flagged["members"]))] = True
    return ClusterResult(labels=labels, edge_status=status, flagged=flagged, needs_review=needs_review)
