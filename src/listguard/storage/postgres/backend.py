"""The PostgreSQL backend of the storage interface: Arrow in and out with ``COPY``
(``copy``), in the caller's transaction. Staging writes a SQLite scratch file
(as on SQLite), whose tables are then copied into temporary tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager

import pyarrow as pa
from sqlalchemy import Connection, text

from listguard.storage.base import Batches, ConnTx, Scratch, Storage, Tx, as_batches
from listguard.storage.postgres.copy import copy_in, fetch_pg, stream_pg
from listguard.storage.query import Query
from listguard.storage.sqlite.fetch import Scratch as SqliteScratch

STAGE_PREFIX = "lg_stage_"


class PostgresTx(ConnTx):
    def ingest(
        self, table: str, data: Batches, schema: pa.Schema, *, temporary: bool = False
    ) -> int:
        reader = pa.RecordBatchReader.from_batches(schema, as_batches(data, schema))
        return copy_in(self.conn, table, reader, temporary=temporary)

    def lock_events(self) -> None:
        self.conn.execute(text("LOCK TABLE events IN SHARE MODE"))


class PostgresStorage(Storage):
    def read_arrow(
        self, queries: Mapping[str, Query], conn: Connection | None = None
    ) -> dict[str, pa.Table]:
        """In ``conn``'s transaction, which must be a snapshot (``one_snapshot``); without
        one, in a snapshot of its own."""
        if conn is not None:
            return {name: fetch_pg(conn, q) for name, q in queries.items()}
        with self.engine.connect() as own:
            snap = own.execution_options(isolation_level="REPEATABLE READ")
            return {name: fetch_pg(snap, q) for name, q in queries.items()}

    @contextmanager
    def read_streams(
        self, queries: Mapping[str, Query], conn: Connection | None = None
    ) -> Iterator[dict[str, pa.RecordBatchReader]]:
        """Each result spooled to a temporary file in the snapshot, then streamed from it."""
        with ExitStack() as stack:
            if conn is None:
                own = stack.enter_context(self.engine.connect())
                conn = own.execution_options(isolation_level="REPEATABLE READ")
            yield {name: stack.enter_context(stream_pg(conn, q)) for name, q in queries.items()}

    def _begin(self) -> tuple[Tx, Callable[[], None]]:
        stack = ExitStack()
        return PostgresTx(stack.enter_context(self.engine.connect())), stack.close

    def scratch(self) -> Scratch:
        return SqliteScratch()

    def attached(
        self, conn: Connection, scratch: Scratch
    ) -> AbstractContextManager[Callable[[str], str]]:
        return _attached(conn, scratch)

    def purge_deleted(self, tables: Sequence[str]) -> None:
        """The tables are vacuumed, so that the deleted rows' space is freed for reuse."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM {', '.join(tables)}")


@contextmanager
def _attached(conn: Connection, scratch: Scratch) -> Iterator[Callable[[str], str]]:
    """Each table of ``scratch`` copied into a temporary table of ``conn``'s transaction."""
    for name, schema in scratch.schemas.items():
        with scratch.rows(f"SELECT * FROM {name}", schema) as reader:
            copy_in(conn, f"{STAGE_PREFIX}{name}", reader, temporary=True)
    yield lambda name: f"{STAGE_PREFIX}{name}"


__all__ = ["PostgresStorage", "PostgresTx"]
