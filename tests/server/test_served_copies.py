"""A snapshot read from its served copies (Arrow IPC, etl.clustered.IpcRowReader) answers exactly as one
without them: an older snapshot, whose rows are read from the Parquet files (and whose timeline is in
the older order within a day, without the recorded read order, so every read sorts it), and the sample
as the pipeline publishes it, without LZ4 copies of its timeline and history (far below
etl.clustered.IN_MEMORY_ROWS), read from their Parquet row groups.  All serve every per-account table
from its file (``snapshot_in_memory_rows = 0``, fewer rows than any table); the documents are the bench's
profile and the client's operations, compared as JSON text."""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from etl import storage
from etl.clustered import SERVED_DIR, SORTED_BY, ClusteredTable, IpcRowReader, RowGroupReader, index_path
from etl.settings import REPO_ROOT
from server.app import create_app
from server.bench import PROFILE_QUERY
from server.keys import Principal
from server.schema import build_schema
from server.schema.types import cursor_encode
from server.snapshot import TIMELINE, HISTORY, FileTable
from server.view import new_context
from tests.conftest import SAMPLE_AS_OF
from tests.server.conftest import copy_published
from tests.server.harness import CONFIG_DIR, publish_sample, server_config

CLIENT_OPERATIONS = REPO_ROOT / "client" / "src" / "graphql"


def _as_older_snapshot(data_dir) -> None:
    """No served copies; the timeline in the order published before them (by account, date, type, event id)
    and neither it nor the history recording its order; the timeline's index found from the file."""
    snap = storage.open_snapshot(data_dir)
    shutil.rmtree(snap.path / "gold" / SERVED_DIR)
    for name, order in ((TIMELINE, ["account_id", "event_date", "event_type", "event_id"]), (HISTORY, None)):
        path = snap.table_path("gold", name)
        table = pq.read_table(path)
        if order:
            table = table.take(pc.sort_indices(table, [(c, "ascending") for c in order]))
            index_path(path).unlink()
        meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != SORTED_BY}
        pq.write_table(table.replace_schema_metadata(meta), path, row_group_size=3, compression="lz4")


@pytest.fixture(scope="module")
def apps(published, sample_bronze, tmp_path_factory):
    """(services, snapshot, schema) over: the sample with every served copy; the older snapshot; the
    sample as the pipeline publishes it (the shared `published`)."""
    config = server_config(snapshot_in_memory_rows=0)
    copied = publish_sample(sample_bronze, tmp_path_factory.mktemp("copies") / "data", SAMPLE_AS_OF, lz4_copies=True)
    older = copy_published(copied, tmp_path_factory.mktemp("older"))
    _as_older_snapshot(older)
    as_published = copy_published(published, tmp_path_factory.mktemp("as-published"))
    out = []
    for data_dir in (copied, older, as_published):
        services = create_app(data_dir, CONFIG_DIR, config=config, environ={}, salesforce=None).state.services
        out.append((services, services.holder.get(), build_schema(services.config)))
    return out


def _answer(app, query: str, variables: dict, operation_name: str | None, role: str = "viewer") -> str:
    services, _, schema = app

    async def go():
        ctx = new_context(services, Principal("test", role, None), None, None)
        return await schema.execute(query, variable_values=variables, operation_name=operation_name, context_value=ctx)

    result = asyncio.run(go())
    return json.dumps({"data": result.data, "errors": [e.formatted for e in result.errors] if result.errors else None})


def test_the_snapshots_read_from_different_files(apps):
    (_, with_copies, _), (_, older, _), (_, as_published, _) = apps
    assert type(with_copies.timeline.reader) is IpcRowReader and type(older.timeline.reader) is RowGroupReader
    assert type(with_copies.history.reader) is IpcRowReader and type(older.history.reader) is RowGroupReader
    # no LZ4 copies at the sample's size: the row groups of the Parquet files
    assert as_published.timeline.reader is as_published.timeline.file and as_published.timeline.presorted
    assert as_published.history.reader is as_published.history.file
    assert type(as_published.alerts.reader) is IpcRowReader  # the rules and linking tables' copies are written whatever their size
    assert with_copies.timeline.presorted and not older.timeline.presorted and not older.history.presorted
    for name in ("alerts", "recommendations", "rule_facts", "master_members", "links", "rollups", "review_queue"):
        a, b = getattr(with_copies, name), getattr(older, name)
        assert isinstance(a, FileTable) and isinstance(b, FileTable), name
        assert type(a.reader) is IpcRowReader and type(b.reader) is RowGroupReader, name
    assert isinstance(with_copies.timeline, ClusteredTable) and isinstance(older.timeline, ClusteredTable)


def test_rows_of_kept_batches_are_the_parquet_files_rows(apps):
    """An uncompressed copy's rows are read value by value from its kept batches (FileTable._batch_rows):
    every key's records, single rows and column subsets equal the Parquet file's rows (NaN as null)."""
    from tests.server.test_snapshot_rows import expected

    (_, with_copies, _), _, _ = apps
    for name in ("alerts", "recommendations", "rule_facts", "master_members", "links", "rollups", "review_queue"):
        table = getattr(with_copies, name)
        assert table._kept, name
        whole = pq.read_table(table.path)
        keys = list(dict.fromkeys(table.df[table.key]))[:200] + ["no-such-key"] if table.key else []  # the review queue has none
        for key in keys:
            lo, hi = table.span(key)
            assert table.records(key) == expected(whole.slice(lo, hi - lo)), (name, key)
        cols = whole.column_names[::2] + ["no_such_column"]
        for p in sorted({*range(min(50, whole.num_rows)), whole.num_rows - 1} - {-1}):
            assert table.take([p]) == expected(whole.slice(p, 1)), (name, p)
            assert table.take([p], cols) == [{c: v for c, v in expected(whole.slice(p, 1))[0].items() if c in cols}], (name, p)
    assert with_copies.alerts._batch_columns  # the kept batches' readers were made and kept


def test_profiles_and_client_operations_answer_the_same_with_and_without_copies(apps):
    with_copies, older, as_published = apps
    snap = with_copies[1]
    doc = "\n".join(p.read_text() for p in sorted(CLIENT_OPERATIONS.glob("*.graphql")))
    assert {"CustomerProfile", "CustomerLinks", "CustomerActions", "CustomerTimeline", "MasterAccount"} <= set(
        re.findall(r"^query (\w+)", doc, flags=re.M))
    ids = random.Random(7).sample(list(snap.metrics.index), 60) + ["001-unknown"]
    sizes = snap.master_members.df["master_id"].value_counts()
    masters = sorted(sizes[sizes > 1].index)[:15] + sorted(sizes[sizes == 1].index)[:3]  # clusters, and lone accounts
    asked = []
    for account in ids:
        asked.append((PROFILE_QUERY, {"id": account}, "Customer360"))
        for name in ("CustomerProfile", "CustomerLinks", "CustomerActions"):
            asked.append((doc, {"id": account}, name))
        for variables in ({"id": account, "first": 5}, {"id": account, "first": 3, "after": cursor_encode(3)},
                          {"id": account, "types": ["BILLING", "SUPPORT"], "first": 4},
                          {"id": account, "since": "2025-01-01", "until": "2026-06-30"}):
            asked.append((doc, variables, "CustomerTimeline"))
    asked += [(doc, {"id": master}, "MasterAccount") for master in masters]
    asked.append((doc, {}, "LinkReviewQueue"))
    answers = []
    for query, variables, name in asked:
        a = _answer(with_copies, query, variables, name, role="admin")
        b = _answer(older, query, variables, name, role="admin")
        c = _answer(as_published, query, variables, name, role="admin")
        assert a == b == c, (name, variables)
        assert '"errors": null' in a, (name, a[:300])
        answers.append(a)
    for part in ('"events": [{', '"alerts": [{', '"recommendations": [{', '"members": [{', '"links": [{'):
        assert sum(part in a for a in answers) > 5, part  # the sample exercises every file read
    histories = [(snap.history_for(a), older[1].history_for(a), as_published[1].history_for(a)) for a in ids]
    assert all(x == y == z for x, y, z in histories) and any(x for x, _, _ in histories)
