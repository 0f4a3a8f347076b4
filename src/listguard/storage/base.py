"""The storage interface: what domain modules know of the registry's database.

A ``Storage`` is made from an engine (``open.open_storage``) and knows its
backend. It reads Arrow (``read_arrow``: several queries, one snapshot; or
``read_streams``, the same as streams of batches, for results larger than
memory) and
opens write transactions (``transaction``): a ``Tx`` executes statements,
ingests Arrow into a table, holds back the recording of events where the
database needs it (``lock_events``), and commits, or rolls back on an error.
Staging (``scratch``, ``attached``, ``staged``) makes Arrow tables readable to a
registry connection for set-based ``INSERT ... SELECT``; ``first_load`` writes a
table from empty where the backend has a faster way to. How each backend is
fast (a writer process, a columnar copy, ADBC, ``COPY``) stays inside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import pyarrow as pa
from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.sql import ClauseElement

from listguard.storage.query import Copied, Query, WriteFailed

Statement: TypeAlias = ClauseElement | str
Batches: TypeAlias = pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]


def as_batches(data: Batches, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """``data``'s batches, each cast to ``schema``."""
    batches = data.to_batches() if isinstance(data, pa.Table) else data
    for batch in batches:
        yield batch if batch.schema.equals(schema) else batch.cast(schema)


class Tx(ABC):
    """One write transaction of the registry. Made by ``Storage.transaction``, which
    commits it when its block ends (unless ``commit`` was called) and rolls it back
    when the block raises."""

    @abstractmethod
    def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run ``statement`` (SQLAlchemy, or SQL with ``:name`` parameters); its rows
        (none for a statement that returns none)."""

    @abstractmethod
    def ingest(
        self, table: str, data: Batches, schema: pa.Schema, *, temporary: bool = False
    ) -> int:
        """Append ``data`` (cast to ``schema``, its columns named as the table's) to
        ``table``, or to a new temporary table of the transaction when ``temporary``;
        returns how many rows were written."""

    committed = False
    where: str | None = None  # where the registry is, for messages

    def lock_events(self) -> None:
        """Hold back the recording of events until this transaction ends (nothing to do
        where one writer at a time is let in)."""
        return None

    def commit(self) -> None:
        """Commit (once: ``Storage.transaction`` does not commit again)."""
        if not self.committed:
            self._commit()
            self.committed = True

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None:
        """Abandon the transaction (also after a failed ``commit``); its resources go."""


class LoadTx(Tx):
    """A transaction that writes a table from empty (a first import), made by
    ``Storage.first_load``. Its rows are written between ``begin_rows`` and
    ``end_rows``, each batch passed through ``number`` before it is ingested; ``delete``
    takes rows out again. How the backend makes this fast (indexes built once the rows
    are written, a columnar copy written as they are) stays inside it."""

    def begin_rows(self, constant: Collection[str]) -> None:
        """The rows are about to be ingested into the table; the ``constant`` columns
        hold one value on every row. The backend may set aside what slows the writing
        of many rows (SQLite: the table's indexes, but those over ``constant`` columns
        alone, whose entries come in row order), to restore it at ``end_rows``."""
        return None

    def end_rows(self) -> None:
        """Every row is written: what ``begin_rows`` set aside is restored (an index
        built once, from the rows sorted)."""
        return None

    @abstractmethod
    def number(self, rows: pa.Table) -> pa.Table:
        """``rows`` as they are to be ingested: with the table's primary keys where the
        backend keeps a columnar copy of it, their text in the layout it writes fastest."""

    @abstractmethod
    def delete(self, column: str, values: pa.Array) -> int:
        """Delete the rows whose ``column`` is one of ``values`` (from the columnar copy
        too, where kept); how many rows were deleted."""

    def __enter__(self) -> LoadTx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()  # after a commit: only lets the resources go


class Scratch(Protocol):
    """Arrow tables written aside, outside any transaction of the registry, to be read
    by one (``Storage.attached``). Leaving its ``with`` block removes it."""

    folder: Path  # a folder of its own, removed with it: room for other scratch files
    schemas: dict[str, pa.Schema]

    def append(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None: ...

    def rows(self, sql: str, schema: pa.Schema) -> AbstractContextManager[pa.RecordBatchReader]:
        """The rows of ``sql`` over the scratch tables, batch by batch."""

    def __enter__(self) -> Scratch: ...

    def __exit__(self, *exc: object) -> None: ...


class ConnTx(Tx):
    """A transaction held by a SQLAlchemy connection of the registry."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        executable: Any = text(statement) if isinstance(statement, str) else statement
        result = self.conn.execute(executable, dict(params or {}))
        return list(result.all()) if result.returns_rows else []

    def ingest(
        self, table: str, data: Batches, schema: pa.Schema, *, temporary: bool = False
    ) -> int:
        """Row by row (a backend with a faster way overrides it)."""
        if temporary:
            raise NotImplementedError("temporary tables are ingested by a backend's own way")
        cols = ", ".join(schema.names)
        sql = text(
            f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + n for n in schema.names)})"
        )
        count = 0
        for batch in as_batches(data, schema):
            if batch.num_rows:
                self.conn.execute(sql, batch.to_pylist())
                count += batch.num_rows
        return count

    def _commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


class Storage(ABC):
    """The registry's database, as domain modules see it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def keeps_copies(self) -> bool:
        """Whether a query marked ``copy`` is read from a columnar copy kept beside the
        registry (the whole table then costs little more than the rows added since)."""
        return False

    @abstractmethod
    def read_arrow(
        self, queries: Mapping[str, Query], conn: Connection | None = None
    ) -> dict[str, pa.Table]:
        """Run ``queries`` in one snapshot of the registry; each result as an Arrow table.
        ``conn``: the caller's reading transaction, where the backend reads in it (it must
        then be a snapshot: ``db.engine.one_snapshot``); the backend may read beside it,
        in a snapshot at least as recent. It must hold no write."""

    @contextmanager
    def read_streams(
        self, queries: Mapping[str, Query], conn: Connection | None = None
    ) -> Iterator[dict[str, pa.RecordBatchReader]]:
        """``read_arrow``'s results as streams of batches, each to be read once inside the
        block: a backend that can holds one batch at a time in memory, the rest on disk
        (what a decision over ten million contacts needs). This default streams the
        tables ``read_arrow`` gives."""
        tables = self.read_arrow(queries, conn)
        yield {name: pa.RecordBatchReader.from_stream(t) for name, t in tables.items()}

    @abstractmethod
    def _begin(self) -> tuple[Tx, Callable[[], None]]:
        """A transaction begun, and what lets go of its resources at the end."""

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction for a large recording (a delivery and its ledger): begun
        now, so that what it needs starts while the caller works; committed when the
        block ends unless ``commit`` was called, rolled back when it raises. Its own
        connection: it sees what was committed since the caller's reads. A backend that
        writes outside this process (SQLite's writer process) reports the database's
        errors as ``WriteFailed``; one that writes through a connection, as SQLAlchemy
        raises them."""
        tx, close = self._begin()
        try:
            try:
                yield tx
                tx.commit()
            except BaseException:
                tx.rollback()
                raise
        finally:
            close()

    @abstractmethod
    def scratch(self) -> Scratch:
        """An empty scratch for staging (see ``attached``)."""

    @abstractmethod
    def attached(
        self, conn: Connection, scratch: Scratch
    ) -> AbstractContextManager[Callable[[str], str]]:
        """The tables of ``scratch`` readable from ``conn``; yields the name each table
        has there. Enter it before the transaction's first write, and commit or roll
        back before leaving it."""

    @contextmanager
    def staged(
        self,
        conn: Connection,
        name: str,
        batches: pa.Table | Iterable[pa.RecordBatch],
        schema: pa.Schema,
    ) -> Iterator[str]:
        """``batches`` readable from ``conn`` under the returned table name (see
        ``attached``)."""
        with self.scratch() as scratch:
            scratch.append(
                name, pa.RecordBatchReader.from_batches(schema, as_batches(batches, schema))
            )
            with self.attached(conn, scratch) as table:
                yield table(name)

    def first_load(self, table: Table, copy: Query | None, *, foreign_keys: bool) -> LoadTx | None:
        """A transaction writing ``table`` from empty by the backend's fastest way, begun;
        None when the backend has none (the import then merges). ``copy``: the query of
        the table's columnar copy, to be written as the rows are (where kept). With
        ``foreign_keys`` false the rows' references go unchecked (right by
        construction)."""
        return None

    @abstractmethod
    def purge_deleted(self, tables: Sequence[str]) -> None:
        """Once rows of ``tables`` were deleted and committed (an erasure), take them out
        of every file the backend keeps: no copy of an erased person's data stays on
        disk, and their space is freed."""


__all__ = [
    "Batches",
    "ConnTx",
    "Copied",
    "LoadTx",
    "Query",
    "Scratch",
    "Statement",
    "Storage",
    "Tx",
    "WriteFailed",
    "as_batches",
]
