"""Moving tables between the registry and Arrow at C speed, one way per database.

Reading (``fetch_arrow``): several queries read in one consistent snapshot.
SQLite: an ADBC connection of its own on the registry file (WAL lets it read
beside the caller's connection). PostgreSQL: ``COPY (query) TO STDOUT`` inside
the caller's transaction, parsed by Arrow's CSV reader.

Writing (``staged``): an Arrow table made readable to the caller's connection
as a table of its own, for set-based ``INSERT ... SELECT`` into the registry.
SQLite: written by ADBC into a scratch database file that the connection
attaches (``ATTACH`` is refused inside a transaction, so ``staged`` is entered
before the caller's first write). PostgreSQL: ``COPY`` into a temporary table
of the caller's transaction.

Python's ``sqlite3`` moves about 50,000 wide rows a second each way; these
paths move millions.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine

from listguard.db.ahead import file_database, spawn_reader, take_reader
from listguard.db.sqlite_read import COPY_FAILED, PARAM, Copied, Query
from listguard.errors import ListguardError

STAGE_SCHEMA = "lg_stage"


def sqlite_file(bind: Connection | Engine) -> str | None:
    """The path of the registry's SQLite file, or None (another database, or in memory)."""
    if bind.dialect.name != "sqlite":
        return None
    return file_database(bind.engine.url.database)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` without rows. ``schema.empty_table()`` loads pandas (half a
    second), as pyarrow does the first time it converts Python values."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def small_offsets(table: pa.Table) -> pa.Table:
    """``table`` with its text columns as Arrow ``string`` (32-bit offsets), as Polars
    gives them ``large_string``: the SQLite driver of ADBC binds them about a seventh
    faster, and the registry's columnar copies are ``string`` already. A batch of
    text over 2 GiB cannot be; staging's batches are far smaller."""
    if not any(pa.types.is_large_string(f.type) for f in table.schema):
        return table
    schema = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in table.schema],
        metadata=table.schema.metadata,
    )
    return table.cast(schema)


def fetch_arrow(conn: Connection, queries: Mapping[str, Query]) -> dict[str, pa.Table]:
    """Run ``queries`` in one snapshot of the registry; each result as an Arrow table.

    PostgreSQL: ``conn``'s transaction must be a snapshot (``one_snapshot``).
    SQLite: the readers take the write lock for a moment, so ``conn`` must not
    hold a write transaction.
    """
    path = sqlite_file(conn)
    if path is not None:
        return _fetch_sqlite(path, queries)
    if conn.dialect.name == "postgresql":
        return {name: _fetch_pg(conn, q) for name, q in queries.items()}
    return {name: _fetch_rows(conn, q) for name, q in queries.items()}


def _fetch_sqlite(path: str, queries: Mapping[str, Query]) -> dict[str, pa.Table]:
    """Read in a child process, which hands the tables back as Arrow files.

    ADBC carries its own build of SQLite, and two builds of SQLite must never
    have the same file open in one process: closing a file descriptor in one
    drops the POSIX locks the other holds on that file, which can corrupt it
    (https://www.sqlite.org/howtocorrupt.html, "POSIX advisory locks canceled
    by a separate thread doing close()"). This process reaches the registry only
    through Python's ``sqlite3``; the child only through ADBC.

    A query marked ``copy`` comes back from its columnar copy (see
    ``sqlite_read``). Should anything about the copy fail (a part removed by an
    erasure meanwhile, an unreadable part, a disk that refuses a new one: the
    copies are then dropped, to be made again by the next read), this read takes
    the tables from the registry itself. A failure of the registry (locked too
    long, unreadable) is reported at once, not met a second time.
    """
    if not any(q.copy for q in queries.values()):
        return _read_child(path, queries)
    try:
        return _read_child(path, queries)
    except (OSError, pa.ArrowInvalid, _CopyFailed) as exc:
        if not isinstance(exc, OSError):  # damaged, or the disk refused it
            _drop_copies(path)
        return _read_child(path, {n: replace(q, copy=None) for n, q in queries.items()})


class _CopyFailed(ListguardError):
    """The reading child failed on a columnar copy, not on the registry."""


def _read_child(path: str, queries: Mapping[str, Query]) -> dict[str, pa.Table]:
    import pickle

    folder = Path(tempfile.mkdtemp(prefix="listguard-read-"))
    try:
        request = pickle.dumps((path, dict(queries), str(folder)))
        child = take_reader(path) or spawn_reader()  # one started ahead, if any
        out, err = child.communicate(request)
        if child.returncode != 0:  # the registry is locked too long, unreadable...
            message = err.decode("utf-8", "replace").strip().splitlines()
            failed = _CopyFailed if child.returncode == COPY_FAILED else ListguardError
            raise failed(
                f"cannot read the registry: {message[-1] if message else 'unknown error'}",
                where=path,
            )
        files: dict[str, list[str]] = pickle.loads(out)
        # memory-mapped: the pages stay readable after the files are removed below (or
        # replaced in a columnar copy by another read)
        return {
            name: pa.concat_tables(
                [pa.ipc.open_file(pa.memory_map(f)).read_all() for f in parts],
            )
            if parts
            else empty_table(queries[name].schema)
            for name, parts in files.items()
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def drop_copies(bind: Connection | Engine) -> None:
    """Remove the columnar copies kept beside a SQLite registry (after an erasure, so that
    no copy of the erased records stays on disk; the next read makes them again)."""
    path = sqlite_file(bind)
    if path is not None:
        _drop_copies(path)


def _drop_copies(path: str) -> None:
    shutil.rmtree(f"{path}-arrow", ignore_errors=True)


def _pg_params(sql: str) -> str:
    return PARAM.sub(lambda m: f"%({m.group(1)})s", sql.replace("%", "%%"))


def _csv_table(data: Any, schema: pa.Schema) -> pa.Table:
    return pacsv.read_csv(
        data,
        read_options=pacsv.ReadOptions(column_names=schema.names),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,  # COPY writes NULL bare and '' quoted
        ),
    )


def _fetch_pg(conn: Connection, q: Query) -> pa.Table:
    """COPY's CSV goes through a temporary file, so that only the Arrow table is held."""
    dbapi: Any = conn.connection.driver_connection
    with tempfile.TemporaryFile() as spool:
        with (
            dbapi.cursor() as cur,
            cur.copy(
                f"COPY ({_pg_params(q.sql)}) TO STDOUT (FORMAT csv)", q.params or None
            ) as copy,
        ):
            for block in copy:
                spool.write(block)
        if spool.tell() == 0:
            return empty_table(q.schema)
        spool.seek(0)
        return _csv_table(spool, q.schema)


def _fetch_rows(conn: Connection, q: Query) -> pa.Table:
    from sqlalchemy import text

    rows = conn.execute(text(q.sql), dict(q.params or {})).all()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in q.schema]
    return pa.table(
        [pa.array(col, type=f.type) for col, f in zip(columns, q.schema, strict=True)],
        schema=q.schema,
    )


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE PRECISION"
    return "TEXT"


class Scratch:
    """A scratch SQLite file filled by ADBC before any transaction of the registry begins
    (tables created by their first ``append``), then made readable to a registry
    connection by ``attached``. Nothing in it needs recovering: no journal, no sync."""

    def __init__(self) -> None:
        from listguard.io.stage_folders import make_folder

        self.folder = make_folder()  # stale folders of killed imports are removed first
        self.path = self.folder / "stage.db"
        self.schemas: dict[str, pa.Schema] = {}
        self._created: set[str] = set()
        self._db: Any = None

    def append(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        if self._db is None:
            self._db = adbc.connect(str(self.path), autocommit=True)
            with self._db.cursor() as cur:
                cur.execute("PRAGMA journal_mode=OFF")
                cur.execute("PRAGMA synchronous=OFF")
        schema = self.schemas.setdefault(name, data.schema)
        if not data.schema.equals(schema):
            data = data.cast(schema)
        with self._db.cursor() as cur:
            cur.adbc_ingest(name, data, mode="append" if name in self._created else "create")
        self._created.add(name)

    @contextmanager
    def rows(self, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatchReader]:
        """The rows of ``sql`` over the scratch tables, batch by batch (memory stays bounded
        by a batch); the writer is closed first."""
        import adbc_driver_sqlite.dbapi as adbc

        from listguard.db.sqlite_read import read_batches

        self.close_writer()
        with adbc.connect(str(self.path)) as db, db.cursor() as cur:
            yield pa.RecordBatchReader.from_batches(
                schema, read_batches(cur, sql, Query(sql, schema))
            )

    def close_writer(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_writer()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def attached(conn: Connection, scratch: Scratch) -> Iterator[Callable[[str], str]]:
    """The tables of ``scratch`` readable from ``conn``; yields the name each table has there.

    SQLite: the file is attached, which is refused inside a transaction: enter this
    before the transaction's first write, and commit or roll back before leaving
    it. PostgreSQL: each table is copied into a temporary table of the transaction.
    """
    scratch.close_writer()  # ADBC's SQLite lets go of the file before Python's opens it
    if sqlite_file(conn) is not None:
        dbapi: Any = conn.connection.driver_connection
        if dbapi.in_transaction:
            raise RuntimeError("attached() must be entered before the transaction's first write")
        conn.exec_driver_sql(f"ATTACH DATABASE '{scratch.path}' AS {STAGE_SCHEMA}")
        try:
            yield lambda name: f"{STAGE_SCHEMA}.{name}"
        finally:
            if dbapi.in_transaction:
                dbapi.rollback()
            conn.exec_driver_sql(f"DETACH DATABASE {STAGE_SCHEMA}")
    elif conn.dialect.name == "postgresql":
        for name, schema in scratch.schemas.items():
            with scratch.rows(f"SELECT * FROM {name}", schema) as reader:
                _copy_pg(conn, f"{STAGE_SCHEMA}_{name}", reader)
        yield lambda name: f"{STAGE_SCHEMA}_{name}"
    else:
        raise RuntimeError(f"staging is not available on {conn.dialect.name}")


@contextmanager
def staged(
    conn: Connection, name: str, batches: pa.Table | Iterable[pa.RecordBatch], schema: pa.Schema
) -> Iterator[str]:
    """``batches`` readable from ``conn`` under the returned table name (see ``attached``)."""
    with Scratch() as scratch:
        scratch.append(name, _reader(batches, schema))
        with attached(conn, scratch) as table:
            yield table(name)


def _reader(
    batches: pa.Table | Iterable[pa.RecordBatch], schema: pa.Schema
) -> pa.RecordBatchReader:
    if isinstance(batches, pa.Table):
        return pa.RecordBatchReader.from_batches(schema, batches.cast(schema).to_batches())
    return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in batches))


def _copy_pg(conn: Connection, table: str, reader: pa.RecordBatchReader) -> None:
    cols = ", ".join(f"{f.name} {_sql_type(f.type)}" for f in reader.schema)
    dbapi: Any = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TEMP TABLE {table} ({cols}) ON COMMIT DROP")
        with cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
            for batch in reader:
                out = io.BytesIO()
                # nulls bare, empty strings quoted: COPY tells them apart
                pacsv.write_csv(
                    batch,
                    out,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
                )
                copy.write(out.getvalue())


__all__ = [
    "Copied",
    "Query",
    "Scratch",
    "attached",
    "drop_copies",
    "empty_table",
    "fetch_arrow",
    "staged",
]
