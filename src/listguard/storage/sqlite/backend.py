"""The SQLite backend of the storage interface.

A registry file is read by a child process (``fetch``, ADR 0006/0013) and
written, for a large recording or a first load, by a writer process (``writer``,
ADRs 0012, 0014-0016): ADBC carries its own build of SQLite, which must never
have open a file this process's ``sqlite3`` has open. A registry in memory is
read and written through SQLAlchemy's connection.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Index, Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.ddl import ExecutableDDLElement

from listguard.storage.base import (
    Batches,
    ConnTx,
    LoadTx,
    Scratch,
    Statement,
    Storage,
    Tx,
    WriteFailed,
    as_batches,
)
from listguard.storage.query import Query
from listguard.storage.sqlite.fetch import (
    Scratch as SqliteScratch,
)
from listguard.storage.sqlite.fetch import (
    attach,
    drop_copies,
    fetch_rows,
    fetch_sqlite,
    sqlite_file,
    stream_sqlite,
)
from listguard.storage.sqlite.first_load import LOAD_CACHE_KIB, CopyKeeper, small_offsets
from listguard.storage.sqlite.reader import qmark
from listguard.storage.sqlite.writer import BulkWriter, LoadError


def positional(
    statement: ClauseElement, dialect: Dialect, params: Mapping[str, Any] | None = None
) -> tuple[str, tuple[Any, ...]]:
    """A SQLAlchemy statement (Core or ``text``) as SQL with ``?`` parameters and their
    values in order, for the writer process; the scalar defaults of an insert's table
    are filled in, as SQLAlchemy does when it runs."""
    compiled: Any = statement.compile(dialect=dialect)  # positional: has ``positiontup``
    values = compiled.construct_params(dict(params) if params is not None else None)
    for column in getattr(getattr(statement, "table", None), "columns", ()):
        default = column.default
        if values.get(column.name) is None and default is not None and default.is_scalar:
            values[column.name] = default.arg
    return compiled.string, tuple(values[name] for name in compiled.positiontup or ())


class WriterTx(Tx):
    """A transaction held by a writer process: statements are sent to it, Arrow rows
    stream to it and go into the table as they come (no staging, no SQL copy)."""

    def __init__(self, writer: BulkWriter, dialect: Dialect) -> None:
        self.writer, self.dialect = writer, dialect
        self.where = writer.path

    def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        if isinstance(statement, str):
            sql, values = qmark(statement, params or {})
            args: tuple[str, tuple[Any, ...]] = (sql, tuple(values))
        elif isinstance(statement, ExecutableDDLElement):
            args = (str(statement.compile(dialect=self.dialect)), ())
        else:
            args = positional(statement, self.dialect, params)
        try:
            return self.writer.execute(*args)
        except LoadError as exc:
            raise WriteFailed(str(exc), where=self.writer.path) from None

    def ingest(
        self, table: str, data: Batches, schema: pa.Schema, *, temporary: bool = False
    ) -> int:
        try:
            return self.writer.ingest(table, schema, as_batches(data, schema), temporary=temporary)
        except LoadError as exc:
            raise WriteFailed(str(exc), where=self.writer.path) from None

    def lock_events(self) -> None:
        """SQLite lets one writer in at a time: this one writes already."""

    def _commit(self) -> None:
        try:
            self.writer.commit()
        except LoadError as exc:
            raise WriteFailed(str(exc), where=self.writer.path) from None

    def rollback(self) -> None:
        self.writer.close()


class FirstLoadTx(LoadTx, WriterTx):
    """A first load by a writer process, writing the table's columnar copy as it goes
    (ADR 0015): named once the load has committed, dropped when it does not.

    Between ``begin_rows`` and ``end_rows`` the table's indexes are dropped and built
    once the rows are written: sorted once, four times cheaper than kept up to date
    row by row (the load itself keeps keys unique), but those over the load's
    constant columns alone (one value on every row: their entries come in row order
    and are appended as the rows are)."""

    def __init__(
        self, writer: BulkWriter, dialect: Dialect, table: Table, keeper: CopyKeeper
    ) -> None:
        WriterTx.__init__(self, writer, dialect)
        self.table, self.keeper = table, keeper
        self.deferred: list[Index] = []

    def begin_rows(self, constant: Collection[str]) -> None:
        self.deferred = sorted(
            (i for i in self.table.indexes if not {c.name for c in i.columns} <= set(constant)),
            key=lambda i: str(i.name),
        )
        for index in self.deferred:
            self.execute(f"DROP INDEX {index.name}")
        # a small page cache from the start: the rows' pages go to the WAL as they are
        # written, so that none is left to spill during a CREATE INDEX, which would
        # first copy each one to the statement's journal; and SQLite sorts an index's
        # keys in runs of the cache's size, on worker threads, then merges them: small
        # runs sorted on every core build the indexes of a million rows in about half
        # the time of one run in a large cache
        self.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")

    def end_rows(self) -> None:
        self.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
        for index in self.deferred:
            self.execute(CreateIndex(index))
        self.deferred = []

    def number(self, rows: pa.Table) -> pa.Table:
        return self.keeper(small_offsets(rows))

    def delete(self, column: str, values: pa.Array) -> int:
        keys = pa.table({column: values})
        self.ingest("lg_duplicates", keys, keys.schema, temporary=True)
        self.execute(
            f"DELETE FROM {self.table.name} "
            f"WHERE {column} IN (SELECT {column} FROM temp.lg_duplicates)"
        )
        deleted: int = self.execute("SELECT changes()")[0][0]
        self.keeper.drop(column, values)
        return deleted

    def _commit(self) -> None:
        try:
            named = self.keeper.checked(self.writer)
            self.writer.commit()
        except LoadError as exc:
            raise WriteFailed(str(exc), where=self.writer.path) from None
        self.committed = True
        if named is None:  # a copy that does not hold the table
            self.keeper.discard()
        else:  # the load is committed: a copy that fails is only dropped
            self.keeper.publish(*named)

    def rollback(self) -> None:
        self.writer.close()
        if not self.committed:
            self.keeper.discard()


class SqliteStorage(Storage):
    @functools.cached_property
    def path(self) -> str | None:
        """The registry's file, None in memory: what each method asks first, found once."""
        return sqlite_file(self.engine)

    @property
    def keeps_copies(self) -> bool:
        return self.path is not None

    def read_arrow(
        self, queries: Mapping[str, Query], conn: Connection | None = None
    ) -> dict[str, pa.Table]:
        """A file: read by the reading child (the one started ahead, if any), beside
        ``conn``, which must not hold a write transaction (the readers take the write
        lock for a moment). In memory: through ``conn``."""
        if self.path is not None:
            return fetch_sqlite(self.path, queries)
        if conn is not None:
            return {name: fetch_rows(conn, q) for name, q in queries.items()}
        with self.engine.connect() as own:
            return {name: fetch_rows(own, q) for name, q in queries.items()}

    @contextmanager
    def read_streams(
        self, queries: Mapping[str, Query], conn: Connection | None = None
    ) -> Iterator[dict[str, pa.RecordBatchReader]]:
        """A file: streamed from the files of the reading child (``stream_sqlite``)."""
        if self.path is None:
            with super().read_streams(queries, conn) as streams:
                yield streams
            return
        with stream_sqlite(self.path, queries) as streams:
            yield streams

    def _begin(self) -> tuple[Tx, Callable[[], None]]:
        if self.path is not None:
            # started now: its start (half a second) overlaps the caller's work (ADR 0014)
            writer = BulkWriter(self.path)
            return WriterTx(writer, self.engine.dialect), writer.close
        stack = ExitStack()  # in memory: one connection, no turns to take
        return ConnTx(stack.enter_context(self.engine.connect())), stack.close

    def scratch(self) -> Scratch:
        return SqliteScratch()

    def attached(
        self, conn: Connection, scratch: Scratch
    ) -> AbstractContextManager[Callable[[str], str]]:
        assert isinstance(scratch, SqliteScratch)
        return attach(conn, scratch)

    def first_load(self, table: Table, copy: Query | None, *, foreign_keys: bool) -> LoadTx | None:
        path = self.path
        if path is None:
            return None
        with self.engine.connect() as conn:
            if conn.execute(text(f"SELECT 1 FROM {table.name} LIMIT 1")).first():
                return None
        writer = BulkWriter(path, foreign_keys=foreign_keys)
        keeper = CopyKeeper.start(path, table, copy)
        return FirstLoadTx(writer, self.engine.dialect, table, keeper)

    def purge_deleted(self, tables: Sequence[str]) -> None:
        """The columnar copies are removed (the next read makes them again), and the
        write-ahead log, which held the pages as they were, is checkpointed into the
        registry and emptied (``secure_delete`` has zeroed what the delete freed)."""
        drop_copies(self.engine)
        with self.engine.connect() as conn:
            # readers still on an older snapshot keep it from emptying the log: it is then
            # emptied by the next checkpoint that finds none (at the latest when the last
            # connection closes); a busy server's request waits a second for it, no more
            conn.exec_driver_sql("PRAGMA busy_timeout=1000")
            try:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.exec_driver_sql("PRAGMA busy_timeout=30000")


__all__ = ["FirstLoadTx", "SqliteStorage", "WriterTx", "positional"]
