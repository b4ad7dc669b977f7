"""Account-clustered Parquet tables: the index of each account's rows, and reads by account."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import storage
from etl.clustered import ClusteredTable, IndexBuilder, build_index, index_path, read_index
from server.snapshot import ArrowTable

# Two partitions, each sorted by account (as the pipeline appends them); within an account
# the file order is not the date order, so `within` has work to do.  Row groups of 3 rows:
# "b" spans two groups, "d" three.
ROWS = [
    ("a", date(2026, 1, 5), "e1"),
    ("a", date(2026, 1, 2), "e2"),
    ("b", date(2026, 3, 1), "e3"),
    ("b", date(2026, 2, 1), "e4"),  # group 1 starts here
    ("b", date(2026, 2, 1), "e0"),
    # partition 2
    ("c", date(2026, 4, 1), "e5"),
    ("d", date(2026, 5, 3), "e6"),  # group 2
    ("d", date(2026, 5, 1), "e7"),
    ("d", date(2026, 5, 2), "e8"),
    ("d", date(2026, 5, 9), "e9"),  # group 3
    ("d", date(2026, 5, 4), "e10"),
]


def _write(path, rows, group_rows=3) -> None:
    table = pa.table({
        "account_id": [r[0] for r in rows],
        "event_date": pa.array([r[1] for r in rows], pa.date32()),
        "event_id": [r[2] for r in rows],
    })
    pq.write_table(table, path, row_group_size=group_rows)


@pytest.fixture
def events(tmp_path):
    path = tmp_path / "events.parquet"
    _write(path, ROWS)
    return path


def test_index_gives_each_account_its_row_range(events):
    index = build_index(events, "account_id")
    assert index.keys.tolist() == ["a", "b", "c", "d"]
    assert [index.span(k) for k in "abcd"] == [(0, 2), (2, 5), (5, 6), (6, 11)]
    assert index.span("zz") == (0, 0)
    starts, stops = index.spans(["d", "nope", "a"])
    assert starts.tolist() == [6, 0, 0] and stops.tolist() == [11, 0, 2]


def test_split_account_is_not_clustered(tmp_path):
    path = tmp_path / "split.parquet"
    _write(path, ROWS + [("a", date(2026, 6, 1), "e11")])
    assert build_index(path, "account_id") is None
    assert ClusteredTable.open(path, "account_id") is None


def test_large_row_groups_are_not_served_from_disk(tmp_path, monkeypatch):
    import etl.clustered as clustered

    path = tmp_path / "big.parquet"
    _write(path, ROWS, group_rows=100)
    monkeypatch.setattr(clustered, "MAX_SERVED_ROW_GROUP_ROWS", 10)
    assert ClusteredTable.open(path, "account_id") is None


def test_reads_match_the_in_memory_table(events):
    disk = ClusteredTable.open(events, "account_id", within=["event_date", "event_id"])
    memory = ArrowTable(pq.read_table(events), ["account_id", "event_date"], "account_id", within=["event_date", "event_id"])
    assert len(disk) == len(memory) == 11
    for account in ["a", "b", "c", "d", "unknown"]:
        assert disk.records(account) == memory.records(account)
        # positions are each table's own (file order on disk, sorted order in memory); what they point at agrees
        on_disk, in_memory = disk.rows(account, ["event_id"]), memory.rows(account, ["event_id"])
        assert on_disk.reset_index(drop=True).equals(in_memory.reset_index(drop=True))
        assert disk.take(on_disk.index) == memory.take(in_memory.index) == memory.records(account)
    # "d" read across three row groups, in date order
    assert [r["event_id"] for r in disk.records("d")] == ["e7", "e8", "e6", "e10", "e9"]
    # ties on the date keep event id order
    assert [r["event_id"] for r in disk.records("b")] == ["e0", "e4", "e3"]


def test_read_keys_decodes_only_the_wanted_accounts(events):
    table = ClusteredTable.open(events, "account_id")
    got = table.read_keys(["d", "a", "missing"])
    assert got.column("event_id").to_pylist() == ["e1", "e2", "e6", "e7", "e8", "e9", "e10"]  # file order
    assert got.schema.field("account_id").type == pa.string()
    assert table.read_keys(["missing"]).num_rows == 0
    assert table.read_keys(["c"], columns=["event_id"]).to_pydict() == {"event_id": ["e5"]}


def test_row_group_cache_is_bounded(events):
    table = ClusteredTable(events, "account_id", cache_groups=2)
    for account in "abcd":
        table.records(account)
    assert len(table.reader._cache) == 2


def _pieces(rows):
    """The rows as the pipeline appends them: one piece per partition."""
    table = pa.table({
        "account_id": [r[0] for r in rows],
        "event_date": pa.array([r[1] for r in rows], pa.date32()),
        "event_id": [r[2] for r in rows],
    })
    return [table.slice(0, 5), table.slice(5)]


def test_writer_records_the_index_as_it_appends(tmp_path):
    writer = storage.RunWriter(tmp_path, "r1")
    for piece in _pieces(ROWS):
        writer.append("gold", "events", piece, row_group_rows=3, cluster_key="account_id")
    snap = writer.publish({})
    path = snap.table_path("gold", "events")
    assert index_path(path).exists() and snap.tables("gold") == ["events"]  # the index is not a table
    written = read_index(path, "account_id", len(ROWS))
    built = build_index(path, "account_id")
    assert written.keys.tolist() == built.keys.tolist() == ["a", "b", "c", "d"]
    assert written.starts.tolist() == built.starts.tolist() and written.stops.tolist() == built.stops.tolist()
    assert read_index(path, "account_id", len(ROWS) + 1) is None  # an index of another file is ignored
    assert ClusteredTable.open(path, "account_id").index.stops.tolist() == built.stops.tolist()


def test_no_index_when_a_key_is_in_two_pieces():
    builder = IndexBuilder("account_id")
    for piece in _pieces(ROWS[:5] + [("a", date(2026, 7, 1), "x")]):
        builder.add(piece)
    assert builder.finish() is None


def test_fixed_width_keys_sort_and_find_like_strings():
    from etl.clustered import SortedKeys, fixed_width

    words = ["", "a", "ab", "abc", "b", "z", "é", "éa"]  # sorted by code point: é (two bytes) after z
    keys = SortedKeys(pa.chunked_array([pa.array(words[:3]), pa.array(words[3:])]))
    assert keys.tolist() == words
    assert [keys.find(w) for w in words] == list(range(len(words)))
    assert keys.find("abcd") == -1 and keys.range("aa") == (2, 2)
    assert keys.find_many(["z", "nope", "é"]).tolist() == [5, -1, 6]
    assert fixed_width(pa.array(["x", None])).tolist() == [b"x", b""]
    assert sorted(fixed_width(pa.array(words[::-1])).tolist()) == [w.encode() for w in words]


def test_previous_history_is_reopened_when_the_file_at_its_path_is_replaced(tmp_path):
    """A rerun under the same run id replaces the snapshot's files at the same paths: a history
    opened earlier in the process must not be served from its old mapping."""
    import pandas as pd

    from etl.task import previous_history_for

    path = tmp_path / "history.parquet"
    first = storage.RunWriter(tmp_path / "a", "r")
    for piece in _pieces(ROWS):
        first.append("gold", "h", piece, row_group_rows=3, cluster_key="account_id")
    first.publish({})
    (tmp_path / "a" / "runs" / "r" / "gold" / "h.parquet").rename(path)
    assert previous_history_for(str(path), pd.Series(["c"]))["event_id"].tolist() == ["e5"]
    replaced = tmp_path / "new.parquet"
    pq.write_table(pa.table({"account_id": ["c", "c"], "event_date": pa.array([date(2026, 1, 1)] * 2, pa.date32()),
                             "event_id": ["n1", "n2"]}), replaced)
    replaced.replace(path)
    assert previous_history_for(str(path), pd.Series(["c"]))["event_id"].tolist() == ["n1", "n2"]


def test_rows_recorded_in_read_order_are_not_sorted_again(tmp_path):
    """A file sorted by the key and then `within` (recorded: sort_for_reading) is read as it is; the
    same rows without the record are sorted per read; both give the in-memory table's records."""
    from etl.clustered import sort_for_reading

    table = pa.table({
        "account_id": [r[0] for r in ROWS],
        "event_date": pa.array([r[1] for r in ROWS], pa.date32()),
        "event_id": [r[2] for r in ROWS],
    })
    ordered = sort_for_reading(table, ["account_id", "event_date", "event_id"])
    assert [r["event_id"] for r in ordered.to_pylist()][:5] == ["e2", "e1", "e0", "e4", "e3"]
    memory = ArrowTable(table, ["account_id", "event_date"], "account_id", within=["event_date", "event_id"])
    for name, t, presorted in (("sorted", ordered, True), ("plain", ordered.replace_schema_metadata(None), False)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(t, path, row_group_size=3)
        disk = ClusteredTable.open(path, "account_id", within=["event_date", "event_id"])
        assert disk.presorted is presorted
        for account in ["a", "b", "c", "d", "unknown"]:
            assert disk.records(account) == memory.records(account), (name, account)
            assert disk.positions(account).tolist() == list(range(*disk.span(account)))
    assert not ClusteredTable.open(path, "account_id", within=["event_id"]).presorted  # another order


def test_sort_for_reading_keeps_rows_already_in_order_and_sorts_others():
    from etl.clustered import sort_for_reading, sorted_by

    table = pa.table({"k": ["a", "a", "b"], "v": [1, 2, 0]})
    same = sort_for_reading(table, ["k", "v"])
    assert same.column("v").to_pylist() == [1, 2, 0] and sorted_by(same.schema) == ["k", "v"]
    assert same.column(0).chunk(0).buffers()[1].address == table.column(0).chunk(0).buffers()[1].address  # not copied
    assert sort_for_reading(table, ["v"]).column("v").to_pylist() == [0, 1, 2]
