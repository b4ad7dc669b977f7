"""Rows read from the snapshot's Arrow tables are the same dicts as Arrow's own ``to_pylist`` (NaN as null)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
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
        # every way `take` reads: row by row (few rows), a nearby span, scattered rows from the buffers, Arrow's take
        for positions in ([], [0], [n - 1], rnd.sample(range(n), min(7, n)), list(range(min(3, n))), [min(2, n - 1), 0],
                          list(range(min(20, n)))[::-1], rnd.sample(range(n), min(20, n)), rnd.sample(range(n), min(100, n))):
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


def test_values_from_buffers_are_to_pylists():
    """server._values reads numbers, booleans, dates and strings from the buffers: for every position,
    one at a time and many at once, the values of to_pylist (NaN as null), sliced arrays included."""
    from datetime import date

    from server._values import column_values, pylist, row_reader

    arrays = [
        pa.array([1, None, -3, 2**40, 0], pa.int64()),
        pa.array([1, 2, None, 4, 5], pa.int8()),
        pa.array([2**64 - 1, 0, None, 7, 1], pa.uint64()),
        pa.array([1.5, None, float("nan"), -0.0, 1e300], pa.float64()),
        pa.array([1.5, None, float("nan"), 2.25, 3.0], pa.float32()),
        pa.array([True, None, False, True, False], pa.bool_()),
        pa.array([date(2026, 10, 31), None, date(1970, 1, 1), date(1, 1, 1), date(9999, 12, 31)], pa.date32()),
        pa.array(["acme", None, "", "Zürich Telecom ✓", "x" * 300], pa.string()),
        pa.array(["a", "", None, "é", "bc"], pa.large_string()),
        pa.array([None, None, None, None, None], pa.string()),
        pa.array(["", "", "", "", ""], pa.string()),
        pa.array([0, None, 1_700_000_000_123_456, -86_400_000_001, 253_402_300_799_000_000], pa.timestamp("us", tz="UTC")),
        pa.array([1_700_000_000_123, None, 0, -1, 5], pa.timestamp("ms")),
        pa.array([1_700_000_000, 0, None, 86_400, -1], pa.timestamp("s", tz="UTC")),
        # an alert's conditions: lists of structs; lists of lists, large lists, structs of lists
        pa.array([[{"field": "churn_risk", "op": ">=", "met": True}], None, [], [{"field": None, "op": "<", "met": None}, None],
                  [{"field": "é", "op": "", "met": False}]],
                 pa.list_(pa.struct([("field", pa.string()), ("op", pa.string()), ("met", pa.bool_())]))),
        pa.array([[[1, None], []], [None], None, [], [[2**40]]], pa.list_(pa.list_(pa.int64()))),
        pa.array([["a"], None, [], ["b", None, "c"], [""]], pa.large_list(pa.string())),
        pa.array([{"a": [1.5], "d": date(2026, 1, 2)}, None, {"a": None, "d": None}, {"a": [], "d": date(1, 1, 1)}, {"a": [2.0, None], "d": None}]),
    ]
    # a null whose slot holds a day no date has, and bytes that are not UTF-8: still None
    garbage_days = pa.Array.from_buffers(pa.date32(), 3, [pa.py_buffer(bytes([0b101])), pa.py_buffer(np.array([1, 2**31 - 1, 3], np.int32).tobytes())])
    garbage_text = pa.Array.from_buffers(pa.string(), 2, [pa.py_buffer(bytes([0b01])), pa.py_buffer(np.array([0, 1, 3], np.int32).tobytes()),
                                                          pa.py_buffer(b"a\xff\xfe")])
    arrays += [garbage_days, garbage_text]
    garbage_time = pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), 2, [pa.py_buffer(bytes([0b10])),
                                                                         pa.py_buffer(np.array([2**62, 7], np.int64).tobytes())])
    arrays += [garbage_time]
    arrays += [a.slice(1, 3) for a in [*arrays[:9], *arrays[11:18]]]  # offsets into the buffers
    for arr in arrays:
        reader = column_values(arr)
        assert reader is not None, arr.type
        want = [None if isinstance(v, float) and math.isnan(v) else v for v in arr.to_pylist()]
        got_one = [reader.one(p) for p in range(len(arr))]
        assert got_one == want and [type(v) for v in got_one] == [type(v) for v in want], (arr.type, got_one, want)
        row = row_reader([("v", arr, pa.types.is_floating(arr.type), reader)])  # the same values, read in line
        got_row = [row(p)["v"] for p in range(len(arr))]
        assert got_row == want and [type(v) for v in got_row] == [type(v) for v in want], (arr.type, got_row, want)
        for ps in (list(range(len(arr))), list(range(len(arr)))[::-1], [0, 0, len(arr) - 1]):
            got = reader.many(np.array(ps, np.int64))
            assert got == [want[p] for p in ps] and [type(v) for v in got] == [type(want[p]) for p in ps], (arr.type, ps)
        # pylist: to_pylist itself (NaN stays NaN), whole arrays and chunked ones
        for whole in (arr, pa.chunked_array([arr, arr.slice(1)], arr.type)):
            got, want_all = pylist(whole), whole.to_pylist()
            assert [type(v) for v in got] == [type(v) for v in want_all] and [v if v == v else "nan" for v in got] == [
                v if v == v else "nan" for v in want_all], (arr.type, got)
    # everything else stays with Arrow
    for arr in (pa.array([1], pa.timestamp("us", tz="Europe/Berlin")), pa.array([1], pa.timestamp("ns", tz="UTC")),
                pa.array([1], pa.timestamp("us", tz="+00:00")), pa.array([[b"x"]]), pa.array([{"a": 1, "b": b"x"}]), pa.array([b"x"]),
                pa.array(["a"]).dictionary_encode(), pa.array([1.0], pa.float16()), pa.array([[1]], pa.list_(pa.int64(), 1)),
                pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64()))):
        assert column_values(arr) is None, arr.type
    # inside a list or a struct a float's NaN stays NaN, as to_pylist and the column by column reads keep it
    for nested, path in ((pa.array([[1.5, float("nan")]]), (1,)), (pa.array([{"x": float("nan"), "y": 2.0}]), ("x",))):
        reader = column_values(nested)
        for got in (reader.one(0), reader.many(np.array([0]))[0], row_reader([("v", nested, False, reader)])(0)["v"]):
            value = got
            for step in path:
                value = value[step]
            assert isinstance(value, float) and math.isnan(value), got
    # a null struct or list is None, whatever lies under it (bytes that are not UTF-8, here), read one or many at a time
    child = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 1, 2], np.int32).tobytes()), pa.py_buffer(b"a\xff")])
    struct = pa.Array.from_buffers(pa.struct([("s", pa.string())]), 2, [pa.py_buffer(bytes([0b01]))], children=[child])
    lists = pa.Array.from_buffers(pa.list_(pa.string()), 2, [pa.py_buffer(bytes([0b01])), pa.py_buffer(np.array([0, 1, 2], np.int32).tobytes())],
                                  children=[child])
    for arr, first in ((struct, {"s": "a"}), (lists, ["a"])):
        reader = column_values(arr)
        assert reader.many(np.array([0, 1, 1, 0])) == [first, None, None, first]
        assert [reader.one(0), reader.one(1)] == [first, None]
        assert [row_reader([("v", arr, False, reader)])(p)["v"] for p in (0, 1)] == [first, None]


def test_a_row_reader_gives_each_row_of_many_columns_as_to_pylist():
    """`row_reader` over columns of every kind at once, names in order, with those read through Arrow
    (half floats, a zoned timestamp, a list of binaries) and a float's NaN as null."""
    from server._values import column_values, row_reader

    table = pa.table({
        "id": pa.array(["a1", "b2", None, "d4"]),
        "n": pa.array([1, None, 3, -4], pa.int32()),
        "x": pa.array([0.5, float("nan"), None, 2.0]),
        "ok": pa.array([True, False, None, True]),
        "tags": pa.array([["x"], None, [], ["y", "z"]]),
        "half": pa.array(np.array([1.0, np.nan, 0.5, 2.0], np.float16)),
        "at": pa.array([0, 1, None, 3], pa.timestamp("us", tz="Europe/Berlin")),
        "id again": pa.array(["q", "r", "s", "t"]).slice(0, 4),
        "blobs": pa.array([[b"x"], None, [], [b"", b"y"]]),
    }).slice(0, 4)
    columns = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        arr = col.chunk(0)
        columns.append((name, arr, pa.types.is_floating(arr.type), column_values(arr)))
    assert [c[3] is None for c in columns] == [False, False, False, False, False, True, True, False, True]
    read = row_reader(columns)
    for p, want in enumerate(table.to_pylist()):
        want = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in want.items()}
        got = read(p)
        assert list(got) == table.column_names and got == want, (p, got, want)


def test_a_row_reader_is_freed_with_its_last_reference():
    """No cycle through the generated function's globals: dropping it frees it (and the views of the
    buffers it holds) at once, without waiting for the cycle collector - a swapped-out snapshot's memory."""
    import gc
    import weakref

    from server._values import column_values, row_reader

    arr = pa.array(["a", None, "c"])
    read = row_reader([("v", arr, False, column_values(arr))])
    assert read(2) == {"v": "c"}
    gone = weakref.ref(read)
    gc.disable()
    try:
        del read
        assert gone() is None
    finally:
        gc.enable()


def test_reader_columns_and_rows_are_the_rows_at_the_positions(tmp_path, monkeypatch):
    """`_reader_columns` / `_reader_rows` over every file reader: the values at the positions in their order
    (a page newest first, repeats, scattered rows read with `take`, none), only the columns asked for
    (unknown ones ignored, none at all), NaN as null; and `Snapshot.timeline_columns` over an older
    snapshot's in-memory ArrowTable gives the same columns."""
    from datetime import date
    from types import SimpleNamespace

    import etl.clustered as clustered
    from etl.clustered import InMemoryRows, IpcRowReader, RowGroupReader, write_served_copy
    from server.snapshot import ArrowTable, Snapshot, _reader_columns, _reader_rows

    n = 40
    table = pa.table({
        "account_id": [f"A{i // 7:02d}" for i in range(n)],
        "event_date": pa.array([date(2026, 1, 1 + i % 28) if i % 5 else None for i in range(n)], pa.date32()),
        "title": [f"event {i}" if i % 3 else None for i in range(n)],
        "amount_usd": [float("nan") if i % 4 == 0 else i * 1.5 for i in range(n)],
    })
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=6)
    write_served_copy(table, tmp_path / "lz4.arrow", codec="lz4")
    readers = [RowGroupReader(path), IpcRowReader(tmp_path / "lz4.arrow", cache_batches=2), InMemoryRows(table)]
    monkeypatch.setattr(clustered, "ROW_GROUP_ROWS", 4)  # `take` reads far-apart rows chunk by chunk
    want = expected(table)
    pages = [list(range(27, 7, -1)), list(range(5, 15)), [3], [5, 5, 6], [39, 0, 20, 11], list(range(n)), []]
    for reader in readers:
        for columns in (None, ["title", "amount_usd"], ["event_date", "nope"], []):
            names = [c for c in table.column_names if columns is None or c in columns]
            for page in pages:
                pos = np.array(page, dtype=np.int64)
                cols = _reader_columns(reader, pos, columns)
                assert list(cols) == names and all(cols[c] == [want[p][c] for p in page] for c in names), (type(reader), columns, page)
                assert _reader_rows(reader, pos, columns) == [{c: want[p][c] for c in names} for p in page]
        for past_the_end in ([38, 39, 40], [41, 40, 39]):  # a run the file ends in: an error, not fewer rows
            with pytest.raises((IndexError, pa.ArrowInvalid)):
                _reader_columns(reader, np.array(past_the_end, dtype=np.int64), ["title"])
    old = SimpleNamespace(timeline=ArrowTable(table, ["account_id"], "account_id"))
    for columns in (None, ["title", "event_date"]):
        got = Snapshot.timeline_columns(old, [27, 26, 3], columns)
        assert got == {c: [want[p][c] for p in (27, 26, 3)] for c in table.column_names if columns is None or c in columns}
