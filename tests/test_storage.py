"""The storage interface, on each backend: a transaction commits once at its end, rolls
back on an error, and ingests Arrow exactly; a command's reading is got ready ahead."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Column, Engine, Index, Integer, MetaData, Table, Text, create_engine, text

from listguard.errors import InputError
from listguard.storage.base import WriteFailed
from listguard.storage.open import open_storage
from listguard.storage.postgres.backend import PostgresStorage
from listguard.storage.query import Query
from listguard.storage.reading import prepare_reading
from listguard.storage.sqlite import ahead
from listguard.storage.sqlite.backend import SqliteStorage

AWKWARD = ["", None, 'a;b,"c"', "line\nbreak", "é€œ’", "  spaced  "]
ROWS = pa.schema([("k", pa.int64()), ("s", pa.string())])


def _table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t_store (k BIGINT PRIMARY KEY, s TEXT)"))


def _rows(engine: Engine) -> list[tuple[int, str | None]]:
    with engine.connect() as conn:
        return [(int(k), s) for k, s in conn.execute(text("SELECT k, s FROM t_store ORDER BY k"))]


def test_each_database_has_its_backend(any_engine: Engine) -> None:
    storage = open_storage(any_engine)
    expected = SqliteStorage if any_engine.dialect.name == "sqlite" else PostgresStorage
    assert isinstance(storage, expected) and storage.dialect == any_engine.dialect.name


def test_a_transaction_ingests_arrow_exactly_and_commits_at_its_end(any_engine: Engine) -> None:
    _table(any_engine)
    data = pa.table({"k": list(range(3000)), "s": [AWKWARD[k % 6] for k in range(3000)]})
    with open_storage(any_engine).transaction() as tx:
        tx.execute("INSERT INTO t_store (k, s) VALUES (:k, :s)", {"k": -1, "s": "first"})
        assert tx.ingest("t_store", data.to_batches(max_chunksize=700), ROWS) == 3000
        assert tx.execute(text("SELECT count(*) FROM t_store"))[0][0] == 3001
        assert _rows(any_engine) == []  # not committed yet
    assert _rows(any_engine) == [(-1, "first"), *((k, AWKWARD[k % 6]) for k in range(3000))]


def test_a_transaction_that_raises_writes_nothing(any_engine: Engine) -> None:
    _table(any_engine)
    with pytest.raises(RuntimeError, match="stop"), open_storage(any_engine).transaction() as tx:
        tx.ingest("t_store", pa.table({"k": [1, 2], "s": ["a", "b"]}), ROWS)
        raise RuntimeError("stop")
    assert _rows(any_engine) == []


def test_a_transaction_committed_by_its_caller_is_not_committed_again(
    any_engine: Engine,
) -> None:
    _table(any_engine)
    with open_storage(any_engine).transaction() as tx:
        tx.execute("INSERT INTO t_store (k, s) VALUES (1, 'one')")
        tx.commit()
        assert _rows(any_engine) == [(1, "one")]  # committed here, seen by others
    assert _rows(any_engine) == [(1, "one")]


def test_a_failure_of_the_writer_process_comes_as_write_failed(engine: Engine) -> None:
    _table(engine)
    with (
        pytest.raises(WriteFailed, match="no such table"),
        open_storage(engine).transaction() as tx,
    ):
        tx.execute("INSERT INTO t_missing (k) VALUES (1)")
    assert _rows(engine) == []


def test_a_storage_is_only_for_sqlite_and_postgresql() -> None:
    other: Any = SimpleNamespace(dialect=SimpleNamespace(name="mysql"))
    with pytest.raises(InputError, match="SQLite or PostgreSQL"):
        open_storage(other)


def test_reading_is_got_ready_for_a_sqlite_file_only(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    with prepare_reading(url):
        assert len(ahead._AHEAD) == 1
    assert not ahead._AHEAD  # not used: stopped
    with prepare_reading("postgresql://nobody@localhost/none"):
        assert not ahead._AHEAD
    with prepare_reading("sqlite://"):  # in memory: read through the connection
        assert not ahead._AHEAD


def test_in_memory_sqlite_reads_and_writes_through_its_connection() -> None:
    engine = create_engine("sqlite://")
    _table(engine)
    storage = open_storage(engine)
    assert not storage.keeps_copies
    with storage.transaction() as tx:
        tx.ingest("t_store", pa.table({"k": [1], "s": [""]}), ROWS)
    got = storage.read_arrow({"t": Query("SELECT k, s FROM t_store WHERE 1 = 1", ROWS)})
    assert got["t"].to_pylist() == [{"k": 1, "s": ""}]


def test_a_sqlite_first_load_builds_the_indexes_once_its_rows_are_written(
    engine: Engine,
) -> None:
    """While a first load writes its rows, the table's indexes are set aside (but one over
    constant columns alone) and built at ``end_rows``; its text is bound as ``string``;
    a delete says how many rows it took out."""
    meta = MetaData()
    table = Table(
        "t_load",
        meta,
        Column("id", Integer, primary_key=True),
        Column("k", Text, nullable=False),
        Column("stamp", Integer),
        Index("ix_t_load_k", "k"),
        Index("ix_t_load_stamp", "stamp"),
    )
    meta.create_all(engine)
    load = open_storage(engine).first_load(table, None, foreign_keys=True)
    assert load is not None

    def indexes() -> list[str]:
        found = load.execute("SELECT name FROM sqlite_master WHERE tbl_name = 't_load'")
        return sorted(str(name) for (name,) in found if str(name).startswith("ix_"))

    with load:
        assert indexes() == ["ix_t_load_k", "ix_t_load_stamp"]
        load.begin_rows(constant=["stamp"])
        assert indexes() == ["ix_t_load_stamp"]
        wide = pa.table({"k": pa.array(["a", "b", "c"], pa.large_string()), "stamp": [7, 7, 7]})
        rows = load.number(wide)
        assert rows.schema.field("k").type == pa.string() and rows.equals(wide.cast(rows.schema))
        assert load.ingest("t_load", rows, rows.schema) == 3
        assert load.delete("k", pa.array(["b", "x"])) == 1
        load.end_rows()
        assert indexes() == ["ix_t_load_k", "ix_t_load_stamp"]
        load.commit()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT k, stamp FROM t_load ORDER BY k")).all()
    assert [tuple(r) for r in stored] == [("a", 7), ("c", 7)]
