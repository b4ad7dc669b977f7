"""Rows read from the snapshot's Arrow tables are the same dicts as Arrow's own ``to_pylist`` (NaN as null)."""

from __future__ import annotations

import math
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from etl import storage
from server.snapshot import SnapshotHolder, Table, _pylist


def expected(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def test_in_memory_tables_match_to_pylist(published):
    snap = SnapshotHolder(published).get()
    tables = {name: t for name, t in vars(snap).items() if isinstance(t, Table) and getattr(t, "arrow", None) is not None}
    assert "metrics_table" in tables
    rnd = random.Random(5)
    for name, table in tables.items():
        n = table.arrow.num_rows
        if not n:
            continue
        for positions in ([], [0], [n - 1], rnd.sample(range(n), min(7, n)), list(range(min(3, n))), [min(2, n - 1), 0]):
            assert table.take(positions) == expected(table.arrow.take(pa.array(np.asarray(positions, np.int64)))), name
        if table.key is None:
            continue
        keys = list(dict.fromkeys(table.arrow.column(table.key).to_pylist()))
        for key in rnd.sample(keys, min(25, len(keys))) + ["no-such-key"]:
            lo, hi = table.span(key)
            if getattr(table, "within", None):
                want = expected(table.arrow.take(pa.array(table.positions(key))))
            else:
                want = expected(table.arrow.slice(lo, hi - lo))
            assert table.records(key) == want, (name, key)
    some = rnd.sample([r for r in snap.metrics.index], 10)
    assert [snap.customer(a) for a in some] == snap.customers(some)
    # only some columns: the same values, and names the table lacks are left out
    cols = ["account_name", "as_of", "health_score", "no_such_column", "account_id"]
    assert snap.customers(some, cols) == [{c: r[c] for c in cols if c in r} for r in snap.customers(some)]
    assert snap.customer(some[0], cols) == {c: snap.customer(some[0])[c] for c in cols if c != "no_such_column"}
    for master in list(dict.fromkeys(snap.master_members.df["master_id"]))[:50] + ["no-such-master"]:
        assert snap.member_ids(master) == snap.master_members.rows(master)["account_id"].tolist()


def test_pylist_matches_to_pylist_on_every_gold_table(published):
    snap = storage.open_snapshot(published)
    for name in snap.tables("gold"):
        table = pq.read_table(snap.table_path("gold", name))
        for part in (table.slice(0, 0), table.slice(0, 1), table.slice(max(0, table.num_rows - 5), 5)):
            assert _pylist(part) == expected(part), name
