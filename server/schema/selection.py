"""What a request selects below a field: so a resolver reads only the columns the answer shows.

A search hit or a list page of customers renders a handful of fields, but a
whole metrics row is 57 columns; turning the unused ones from Arrow into
Python cost more than the rest of a `searchCustomers` request.  `field_names`
gives the names selected at a path below the resolver's own field - a
superset, never less: fragments are followed and ``@skip``/``@include`` are
ignored (their fields count as selected).  Results are memoised per field
node (documents are parsed once per text and kept by the parser cache and
the fast lane), so a request pays a dictionary lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

_MEMO_SIZE = 2048
_memo: dict[tuple, tuple[tuple[FieldNode, ...], frozenset[str] | None]] = {}  # field_names
_columns_memo: dict[tuple, tuple[tuple[FieldNode, ...], tuple[str, ...] | None]] = {}  # selected_columns
_memo_lock = threading.Lock()


def _fields(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: set[str]) -> Iterable[FieldNode]:
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield sel
        elif isinstance(sel, InlineFragmentNode):
            yield from _fields(sel.selection_set, fragments, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in seen:
                continue
            seen.add(name)
            frag = fragments.get(name)
            if frag is None:
                raise LookupError(name)
            yield from _fields(frag.selection_set, fragments, seen)


def _names(nodes: tuple[FieldNode, ...], fragments: dict, path: tuple[str, ...]) -> frozenset[str] | None:
    try:
        for step in path:
            nodes = tuple(f for n in nodes for f in _fields(n.selection_set, fragments, set()) if f.name.value == step)
        return frozenset(f.name.value for n in nodes for f in _fields(n.selection_set, fragments, set()))
    except LookupError:  # an unknown fragment: validation reports it; here, "everything"
        return None


def _memoised(memo: dict, info, key: tuple, make):
    """`make()`, memoised in `memo` under (the first field node's id, *key) for these very field nodes
    (not others at a reused address); the memo is emptied when it reaches `_MEMO_SIZE`."""
    raw = getattr(info, "_raw_info", info)
    nodes = tuple(raw.field_nodes)
    key = (id(nodes[0]), *key)
    entry = memo.get(key)
    if entry is not None and len(entry[0]) == len(nodes) and all(a is b for a, b in zip(entry[0], nodes, strict=True)):
        return entry[1]
    value = make(raw, nodes)
    with _memo_lock:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[key] = (nodes, value)
    return value


def field_names(info, *path: str) -> frozenset[str] | None:
    """Names of the fields selected at `path` below the resolver's field (for a search hit's customer:
    ``field_names(info, "customer")``); None when that cannot be told."""
    return _memoised(_memo, info, (path,), lambda raw, nodes: _names(nodes, raw.fragments, path))


def selected_columns(info, columns_of: dict[str, tuple[str, ...]], always: tuple[str, ...], *path: str) -> tuple[str, ...] | None:
    """The table columns the object selected at `path` below the resolver's field shows: `always`, then
    those `columns_of` maps each selected field name to; None (every column) when the selection cannot
    be told or names a field the map does not know.  Memoised like `field_names` (a tuple: shared)."""

    def make(raw, nodes) -> tuple[str, ...] | None:
        names = field_names(info, *path)
        if names is None or not names <= columns_of.keys():
            return None
        return tuple(dict.fromkeys([*always, *(c for n in names for c in columns_of[n])]))

    return _memoised(_columns_memo, info, (path, id(columns_of), always), make)
