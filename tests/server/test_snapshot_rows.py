"""Rows read from the snapshot's Arrow tables are the same dicts as Arrow's own ``to_pylist`` (NaN as null)."""

from __future__ import annotations

import math
import random

import numpy as np
import pyarrow as pa

from server.snapshot import SnapshotHolder


def expected(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def test_records_and_take_match_to_pylist(published):
    snap = SnapshotHolder(published).get()
    tables = {"metrics": snap.metrics_table, "timeline": snap.timeline, "history": snap.history, "alerts": snap.alerts,
              "recommendations": snap.recommendations, "masters": snap.masters, "links": snap.links, "rollups": snap.rollups}
    rnd = random.Random(5)
    for name, table in tables.items():
        assert table is not None, name
        n = table.arrow.num_rows
        for positions in ([], [0], [n - 1], rnd.sample(range(n), min(7, n)), list(range(min(3, n)))):
            assert table.take(positions) == expected(table.arrow.take(pa.array(np.asarray(positions, np.int64)))), name
        keys = list(dict.fromkeys(table.arrow.column(table.key).to_pylist()))
        for key in rnd.sample(keys, min(25, len(keys))) + ["no-such-key"]:
            lo, hi = table.span(key)
            if getattr(table, "within", None):
                want = expected(table.arrow.take(pa.array(table.positions(key))))
            else:
                want = expected(table.arrow.slice(lo, hi - lo))
            assert table.records(key) == want, (name, key)
    some = rnd.sample(list(snap.metrics.index), 10)
    assert [snap.customer(a) for a in some] == snap.customers(some)
    master = snap.master_members.df["master_id"].iloc[0]
    assert snap.member_ids(master) == snap.master_members.rows(master)["account_id"].tolist()
