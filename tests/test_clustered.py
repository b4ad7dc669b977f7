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
    assert keys.find("éb") == -1 and keys.find("aa") == -1 and SortedKeys(pa.array([], pa.string())).find("a") == -1  # past the end, between, empty
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


# ---------------------------------------------------------------------------- served copies


def _served(tmp_path, rows, group_rows=3, batch_rows=4, pieces=None, codec="lz4"):
    """The rows as a Parquet file in `group_rows` groups and as its served copy in `batch_rows` batches
    (written piece by piece when `pieces` gives the piece sizes)."""
    from etl.clustered import ServedCopyWriter, served_path

    path = tmp_path / "events.parquet"
    _write(path, rows, group_rows)
    table = pq.read_table(path)
    writer = ServedCopyWriter(served_path(path), table.schema, batch_rows=batch_rows, codec=codec)
    at = 0
    for n in pieces or [table.num_rows]:
        writer.write(table.slice(at, n))
        at += n
    writer.close()
    return path, table


@pytest.mark.parametrize("pieces", [None, [1, 0, 2, 5, 3], [4, 4, 3], [11]])
def test_served_copy_has_the_rows_in_order_in_uniform_batches(tmp_path, pieces):
    import pyarrow.ipc as ipc

    from etl.clustered import served_copy_rows, served_path

    path, table = _served(tmp_path, ROWS, pieces=pieces)
    with pa.memory_map(str(served_path(path))) as source:
        reader = ipc.open_file(source)
        sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
        assert reader.read_all().equals(table)
    assert sizes == [4, 4, 3]  # a piece's leftover rows wait for the next piece
    assert served_copy_rows(served_path(path)) == 11


def test_served_copy_of_a_chunked_piece(tmp_path):
    """A piece of several chunks (as read back from a part file of several row groups) still gives uniform batches."""
    from etl.clustered import IpcRowReader, write_served_copy

    table = pa.concat_tables([pa.table({"x": list(range(a, b))}) for a, b in ((0, 3), (3, 4), (4, 13))])
    write_served_copy(table, tmp_path / "x.arrow")
    reader = IpcRowReader(tmp_path / "x.arrow")
    assert reader.batch_rows == 256 and len(reader) == 13
    assert reader.read(0, 13).column("x").to_pylist() == list(range(13))


@pytest.mark.parametrize("codec", ["lz4", "uncompressed"])
def test_ipc_reader_reads_what_the_parquet_reader_reads(tmp_path, monkeypatch, codec):
    """Every range (empty, one row, within a batch, across batches and row groups) and takes in any order,
    near (one read) and far apart (batch by batch: forced here by a tiny ROW_GROUP_ROWS)."""
    import etl.clustered as clustered
    from etl.clustered import IpcRowReader, RowGroupReader, served_path

    path, table = _served(tmp_path, ROWS, codec=codec)
    parquet, ipc = RowGroupReader(path), IpcRowReader(served_path(path), cache_batches=2)
    assert len(ipc) == len(parquet) == 11 and ipc.path == served_path(path)
    assert ipc.schema.remove_metadata().equals(parquet.schema.remove_metadata())
    for lo in range(12):
        for hi in range(lo, 12):
            got, want = ipc.read(lo, hi), parquet.read(lo, hi)
            assert got.equals(want) and got.to_pylist() == table.slice(lo, hi - lo).to_pylist(), (lo, hi)
    assert ipc.read(5, 3).num_rows == 0 and ipc.read(5, 3).schema.names == table.schema.names
    takes = [[], [0], [10], [3, 4], [4, 3], [7, 0, 10, 3], [2, 2, 9], list(range(11))[::-1]]
    for far in (False, True):
        if far:
            monkeypatch.setattr(clustered, "ROW_GROUP_ROWS", 1)
        for positions in takes:
            got = ipc.take(positions)
            assert got.equals(parquet.take(positions)), positions
            assert got.to_pylist() == [table.slice(p, 1).to_pylist()[0] for p in positions]
    # a compressed copy's decoded batches: a bounded LRU; an uncompressed copy's (views of the map): all kept
    assert len(ipc._cache) == (3 if codec == "uncompressed" else 2)


@pytest.mark.parametrize("codec", ["lz4", "uncompressed"])
def test_reads_of_some_columns_are_the_same_columns_of_whole_reads(tmp_path, monkeypatch, codec):
    """`read(lo, hi, columns)`: the columns the file has, in the file's order, for every range and every
    reader; an LZ4 copy decodes them with a reader of just those columns (a few kept, least recent out)."""
    import etl.clustered as clustered
    from etl.clustered import InMemoryRows, IpcRowReader, RowGroupReader, served_path

    monkeypatch.setattr(clustered, "NARROW_READERS", 2)
    path, table = _served(tmp_path, ROWS, codec=codec)
    readers = [RowGroupReader(path), IpcRowReader(served_path(path), cache_batches=2), InMemoryRows(table)]
    choices = [["event_id"], ["event_id", "account_id"], ["event_date", "nope"], ["nope"], [], list(table.schema.names)]
    for columns in choices:
        names = [n for n in table.schema.names if n in columns]
        for lo in range(12):
            for hi in range(lo, 12):
                want = table.slice(lo, max(hi - lo, 0)).select(names)
                for reader in readers:
                    got = reader.read(lo, hi, columns)
                    assert got.schema.names == names and got.num_rows == want.num_rows, (type(reader), columns, lo, hi)
                    assert got.to_pylist() == want.to_pylist(), (type(reader), columns, lo, hi)
                # the same rows as one record batch: a slice of a batch, or batches joined (ROWS spans several)
                batch = readers[1].read_batch(lo, hi, columns)
                assert isinstance(batch, pa.RecordBatch) and batch.schema.names == names, (columns, lo, hi)
                assert batch.to_pylist() == want.to_pylist(), (columns, lo, hi)
    ipc = readers[1]
    # narrow readers: one per column set read from a compressed copy, never more than NARROW_READERS
    assert len(ipc._narrow) == (0 if codec == "uncompressed" else 2)
    assert ipc.read(0, 11).equals(readers[0].read(0, 11))  # whole reads are unchanged


def test_served_copy_batch_size_and_codec_are_recorded(tmp_path):
    """By default LZ4 copies have small batches (each read decodes one) and uncompressed copies large
    ones (nothing to decode); both are recorded in the schema, which is how the reader knows to keep
    an uncompressed copy's batches."""
    from etl.clustered import (
        BATCH_ROWS_KEY, CODEC_KEY, SERVED_BATCH_ROWS, UNCOMPRESSED_BATCH_ROWS, IpcRowReader, write_served_copy,
    )

    table = pa.table({"x": list(range(SERVED_BATCH_ROWS * 3 + 5))})
    for codec, rows in (("lz4", SERVED_BATCH_ROWS), ("uncompressed", UNCOMPRESSED_BATCH_ROWS)):
        write_served_copy(table, tmp_path / f"{codec}.arrow", codec)
        reader = IpcRowReader(tmp_path / f"{codec}.arrow", cache_batches=1)
        assert reader.schema.metadata[BATCH_ROWS_KEY] == str(rows).encode() and reader.schema.metadata[CODEC_KEY] == codec.encode()
        assert reader.batch_rows == rows and reader.uncompressed is (codec == "uncompressed")
        assert reader.take([0, len(table) - 1, SERVED_BATCH_ROWS + 1]).column("x").to_pylist() == [0, len(table) - 1, SERVED_BATCH_ROWS + 1]
        assert reader.read(SERVED_BATCH_ROWS - 2, SERVED_BATCH_ROWS + 2).column("x").to_pylist() == list(range(SERVED_BATCH_ROWS - 2, SERVED_BATCH_ROWS + 2))


def test_served_copy_is_used_only_when_it_holds_the_files_rows(tmp_path):
    import pyarrow.ipc as ipc

    from etl.clustered import IpcRowReader, RowGroupReader, open_served_copy, served_path, write_served_copy

    path = tmp_path / "events.parquet"
    _write(path, ROWS)
    assert open_served_copy(path, 11) is None  # none: an older snapshot
    table = ClusteredTable.open(path, "account_id")
    assert type(table.reader) is RowGroupReader
    write_served_copy(pq.read_table(path).slice(0, 10), served_path(path))  # a copy of other rows
    assert open_served_copy(path, 11) is None and type(ClusteredTable.open(path, "account_id").reader) is RowGroupReader
    with ipc.new_file(str(served_path(path)), pq.read_schema(path)) as plain:  # an IPC file, but not a served copy
        plain.write_table(pq.read_table(path))
    assert open_served_copy(path, 11) is None
    served_path(path).write_bytes(b"not arrow")
    assert open_served_copy(path, 11) is None
    write_served_copy(pq.read_table(path), served_path(path))
    assert isinstance(open_served_copy(path, 11), IpcRowReader)
    disk = ClusteredTable.open(path, "account_id", within=["event_date", "event_id"])
    assert type(disk.reader) is IpcRowReader and type(disk.file) is RowGroupReader
    memory = ArrowTable(pq.read_table(path), ["account_id", "event_date"], "account_id", within=["event_date", "event_id"])
    for account in ["a", "b", "c", "d", "unknown"]:
        assert disk.records(account) == memory.records(account)
        on_disk = disk.rows(account, ["event_id"])
        assert disk.take(on_disk.index) == memory.records(account)
    assert disk.read_keys(["d", "a"]).column("event_id").to_pylist() == ["e1", "e2", "e6", "e7", "e8", "e9", "e10"]


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


def test_writer_writes_served_copies_and_publish_checks_them(tmp_path):
    """Appended and whole tables get their copy with `served_copy`; the copies are not tables; a copy
    rewritten by sort_written follows the new order; publish refuses a copy of the wrong length."""
    from etl.clustered import IpcRowReader, served_path
    from etl.errors import DataError

    writer = storage.RunWriter(tmp_path, "r1")
    for piece in _pieces(ROWS):
        writer.append("gold", "events", piece, row_group_rows=3, cluster_key="account_id", served_copy=True)
    writer.append("gold", "plain", _pieces(ROWS)[0])
    writer.write("gold", "whole", _pieces(ROWS)[1], row_group_rows=3, served_copy="uncompressed", sorted_by=["event_id"])
    writer.append("gold", "resorted", _pieces(ROWS)[0], served_copy=True)
    writer.finish_appends()
    resorted = writer.sort_written("gold", "resorted", ["event_id"])
    snap = writer.publish({})
    assert snap.tables("gold") == ["events", "plain", "resorted", "whole"]
    assert not served_path(snap.table_path("gold", "plain")).exists()
    for name in ("events", "whole", "resorted"):
        parquet = pq.read_table(snap.table_path("gold", name))
        copy = IpcRowReader(served_path(snap.table_path("gold", name)))
        assert copy.read(0, len(copy)).equals(parquet) and len(copy) == parquet.num_rows, name
    assert parquet.column("event_id").to_pylist() == resorted.column("event_id").to_pylist() == ["e0", "e1", "e2", "e3", "e4"]
    assert writer.served == {("gold", "events"): "lz4", ("gold", "whole"): "uncompressed", ("gold", "resorted"): "lz4"}
    with pytest.raises(ValueError, match="lz4 or uncompressed, not 'zstd'"):
        storage.RunWriter(tmp_path, "r3").write("gold", "t", _pieces(ROWS)[0], served_copy="zstd")

    bad = storage.RunWriter(tmp_path, "r2")
    bad.append("gold", "events", _pieces(ROWS)[0], served_copy=True)
    bad.finish_appends()
    from etl.clustered import write_served_copy

    write_served_copy(_pieces(ROWS)[0].slice(0, 4), bad.served_path("gold", "events"))  # a row short
    with pytest.raises(DataError, match="served copy of gold/events has 4 rows, expected 5"):
        bad.publish({})
    bad.served_path("gold", "events").write_bytes(b"torn")
    with pytest.raises(DataError, match="served copy of gold/events is unreadable"):
        bad.publish({})
    assert storage.current_run_id(tmp_path) == "r1"


def test_a_copy_in_batches_of_another_size_is_refused(tmp_path):
    """Rows are found by batch number: a file whose batches are not of the size its schema states is no served copy."""
    import pyarrow.ipc as ipc

    from etl.clustered import BATCH_ROWS_KEY, open_served_copy, served_copy_rows, served_path

    path = tmp_path / "events.parquet"
    _write(path, ROWS)
    table = pq.read_table(path)
    schema = table.schema.with_metadata({BATCH_ROWS_KEY: b"4"})
    served_path(path).parent.mkdir()
    with ipc.new_file(str(served_path(path)), schema) as out:
        out.write_table(table.replace_schema_metadata(schema.metadata), max_chunksize=3)  # 11 rows in batches of 3
    with pytest.raises(ValueError, match="batches of 3 and 2 rows, not of 4"):
        served_copy_rows(served_path(path))
    assert open_served_copy(path, 11) is None


# ------------------------------------------------- LZ4 copies only of tables the API does not hold in memory


@pytest.mark.parametrize(
    ("pieces", "hint", "above", "streamed", "copied"),
    [
        ([5, 6], 2, 11, False, False),  # 5 x 2 expected, 11 rows: at the bound, no copy, nothing written
        ([5, 6], 2, 9, True, True),  # 10 expected, above: written as the pieces come, kept
        ([5, 6], 2, 10, False, True),  # 10 expected, not above, but 11 came: copied from the file at close
        ([5, 6], 3, 11, True, False),  # 15 expected, 11 came: the copy written is deleted at close
        ([0, 5, 6], 3, 10, True, True),  # an empty piece decides nothing: the next one does (15 expected)
        ([0, 5, 6], 3, 20, False, False),
    ],
)
def test_appended_table_has_a_copy_only_above_its_bound(tmp_path, pieces, hint, above, streamed, copied):
    """`served_copy_above`: the copy exists exactly when the table has more rows than that, however the
    first piece guessed; it is written as the pieces come only when that piece predicted it; a table
    without one is published, and read from its Parquet row groups by a reader holding fewer rows."""
    from etl.clustered import IpcRowReader, RowGroupReader, served_copy_rows, served_path

    table = pa.concat_tables(_pieces(ROWS)).combine_chunks()
    writer = storage.RunWriter(tmp_path, "r1")
    at = 0
    for n in pieces:
        writer.append("gold", "events", table.slice(at, n), row_group_rows=3, cluster_key="account_id", served_copy="lz4",
                      served_copy_above=above, pieces=hint)
        at += n
    assert writer.served_path("gold", "events").exists() is streamed
    writer.finish_appends()
    assert writer.served_path("gold", "events").exists() is copied
    assert writer.served == ({("gold", "events"): "lz4"} if copied else {})
    assert writer.copy_above == {("gold", "events"): above}
    snap = writer.publish({})
    path = snap.table_path("gold", "events")
    assert snap.manifest["row_counts"]["gold"]["events"] == 11 and snap.tables("gold") == ["events"]
    assert served_path(path).exists() is copied
    if copied:
        assert served_copy_rows(served_path(path)) == 11
        assert IpcRowReader(served_path(path)).read(0, 11).equals(pq.read_table(path))
    memory = ArrowTable(pq.read_table(path), ["account_id", "event_date"], "account_id", within=["event_date", "event_id"])
    disk = ClusteredTable.open(path, "account_id", within=["event_date", "event_id"], in_memory_rows=5)
    assert type(disk.reader) is (IpcRowReader if copied else RowGroupReader)
    assert (disk.reader is disk.file) is not copied
    for account in ["a", "b", "c", "d", "unknown"]:
        assert disk.records(account) == memory.records(account), account


def test_publish_refuses_a_table_above_its_bound_without_a_copy(tmp_path):
    from etl.errors import DataError

    writer = storage.RunWriter(tmp_path, "r1")
    for piece in _pieces(ROWS):
        writer.append("gold", "events", piece, served_copy="lz4", served_copy_above=10, pieces=2)
    writer.finish_appends()
    writer.served_path("gold", "events").unlink()
    writer.served.clear()  # as if the copy had never been made
    with pytest.raises(DataError, match="gold/events has 11 rows, more than 10, and no served copy"):
        writer.publish({})
    assert storage.current_run_id(tmp_path) is None


def test_served_copy_of_a_file_is_read_a_few_row_groups_at_a_time(tmp_path):
    from etl.clustered import SERVED_BATCH_ROWS, IpcRowReader, served_copy_rows, served_path, write_served_copy_of_file

    path = tmp_path / "x.parquet"
    table = pa.table({"x": pa.array(range(1000), pa.int64()), "s": [str(i) for i in range(1000)]})
    pq.write_table(table.replace_schema_metadata({b"c360.sorted_by": b"x"}), path, row_group_size=7)
    assert write_served_copy_of_file(path, rows_at_once=20) == 1000  # 143 groups, read two at a time
    copy = IpcRowReader(served_path(path))
    assert served_copy_rows(served_path(path)) == 1000 and copy.batch_rows == SERVED_BATCH_ROWS and not copy.uncompressed
    assert copy.read(0, 1000).equals(pq.read_table(path)) and copy.schema.metadata[b"c360.sorted_by"] == b"x"


def test_the_pipeline_and_the_server_share_one_in_memory_bound(tmp_path, monkeypatch):
    """The pipeline writes the LZ4 copy of a timeline or history only above etl.clustered.IN_MEMORY_ROWS, the
    server's default (and shipped) snapshot_in_memory_rows.  With the pipeline's bound set above a small
    timeline (monkeypatched), it is published without one; a server holding it in memory or, configured
    to hold fewer rows, reading its Parquet row groups (server.snapshot._per_account) gives the same rows."""
    from etl import clustered, task
    from etl.clustered import InMemoryRows, RowGroupReader, served_path
    from etl.settings import REPO_ROOT
    from server import snapshot
    from server.config import ServerConfig, load_server_config

    bound = clustered.IN_MEMORY_ROWS
    assert snapshot.IN_MEMORY_ROWS == ServerConfig().snapshot_in_memory_rows == bound
    assert load_server_config(REPO_ROOT / "config").snapshot_in_memory_rows == bound  # config/server.json
    assert task.APPEND_LAYOUT[task.TIMELINE]["served_copy_above"] == task.APPEND_LAYOUT[task.HISTORY]["served_copy_above"] == bound

    monkeypatch.setitem(task.CLUSTERED_LAYOUT, "served_copy_above", 11)  # the rows of this timeline
    writer = storage.RunWriter(tmp_path, "r1")
    for piece in _pieces(ROWS):
        writer.append("gold", task.TIMELINE, piece, pieces=2, **{**task.APPEND_LAYOUT[task.TIMELINE], "row_group_rows": 3})
    snap = writer.publish({})
    assert not served_path(snap.table_path("gold", task.TIMELINE)).exists()
    memory = ArrowTable(pq.read_table(snap.table_path("gold", task.TIMELINE)), ["account_id", "event_date"], "account_id",
                        within=["event_date", "event_id"])
    for rows, reader in ((11, InMemoryRows), (5, RowGroupReader), (0, RowGroupReader)):
        table = snapshot._per_account(snap, task.TIMELINE, ["account_id", "event_date"], ["event_date", "event_id"], rows)
        assert isinstance(table, ClusteredTable) and type(table.reader) is reader, rows
        assert (table.reader is table.file) is (reader is RowGroupReader)
        for account in ["a", "b", "c", "d", "unknown"]:
            assert table.records(account) == memory.records(account), (rows, account)
