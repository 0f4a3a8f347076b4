"""Moving tables between a SQLite registry and Arrow at C speed.

Reading (``fetch_sqlite``): several queries read in one consistent snapshot by
a child process holding ADBC connections of its own on the registry file (WAL
lets it read beside this process's connections).

Staging (``Scratch``, ``attach``): Arrow tables written by ADBC into a scratch
database file, which a registry connection then attaches, for set-based
``INSERT ... SELECT`` into the registry (``ATTACH`` is refused inside a
transaction, so the scratch is attached before the transaction's first write).
A PostgreSQL registry copies the scratch's tables in instead (``postgres``).

Python's ``sqlite3`` moves about 50,000 wide rows a second each way; these
paths move millions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from sqlalchemy import Connection, Engine, text

from listguard.db.url import file_database
from listguard.errors import ListguardError
from listguard.io.stage_folders import make_folder
from listguard.storage.query import Query, empty_table
from listguard.storage.sqlite.ahead import spawn_reader, take_reader
from listguard.storage.sqlite.reader import COPY_FAILED, read_batches

STAGE_SCHEMA = "lg_stage"


def sqlite_file(bind: Connection | Engine) -> str | None:
    """The path of the registry's SQLite file, or None (another database, or in memory)."""
    if bind.dialect.name != "sqlite":
        return None
    return file_database(bind.engine.url.database)


def fetch_sqlite(path: str, queries: Mapping[str, Query]) -> dict[str, pa.Table]:
    """Read in a child process, which hands the tables back as Arrow files (memory-mapped
    here: the pages stay readable after the files are removed, or replaced in a
    columnar copy by another read).

    ADBC carries its own build of SQLite, and two builds of SQLite must never
    have the same file open in one process: closing a file descriptor in one
    drops the POSIX locks the other holds on that file, which can corrupt it
    (https://www.sqlite.org/howtocorrupt.html, "POSIX advisory locks canceled
    by a separate thread doing close()"). This process reaches the registry only
    through Python's ``sqlite3``; the child only through ADBC.

    A query marked ``copy`` comes back from its columnar copy (see
    ``reader``). Should anything about the copy fail (a part removed by an
    erasure meanwhile, an unreadable part, a disk that refuses a new one: the
    copies are then dropped, to be made again by the next read), this read takes
    the tables from the registry itself. A failure of the registry (locked too
    long, unreadable) is reported at once, not met a second time.
    """

    def mapped(files: dict[str, list[str]]) -> dict[str, pa.Table]:
        return {
            name: pa.concat_tables(
                [pa.ipc.open_file(pa.memory_map(f)).read_all() for f in parts],
            )
            if parts
            else empty_table(queries[name].schema)
            for name, parts in files.items()
        }

    folder = make_folder()  # the rows read are personal data: see ``make_folder``
    try:
        return _read(path, queries, folder, mapped)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def stream_sqlite(
    path: str, queries: Mapping[str, Query]
) -> Iterator[dict[str, pa.RecordBatchReader]]:
    """``fetch_sqlite``'s results as streams of batches, read from the child's files (not
    mapped into memory: a batch at a time is). Every file is opened (and its footer
    checked) before anything is read, so that another read merging a columnar copy's
    parts, or an erasure dropping the copies, does not take them away meanwhile."""
    folder = make_folder()  # the rows read are personal data: see ``make_folder``
    with ExitStack() as opened:
        opened.callback(shutil.rmtree, folder, ignore_errors=True)

        def opening(files: dict[str, list[str]]) -> dict[str, list[pa.ipc.RecordBatchFileReader]]:
            return {
                name: [pa.ipc.open_file(opened.enter_context(pa.OSFile(f))) for f in parts]
                for name, parts in files.items()
            }

        readers = _read(path, queries, folder, opening)

        def batches(parts: list[pa.ipc.RecordBatchFileReader]) -> Iterator[pa.RecordBatch]:
            for part in parts:
                for i in range(part.num_record_batches):
                    yield part.get_batch(i)

        yield {
            name: pa.RecordBatchReader.from_batches(queries[name].schema, batches(parts))
            for name, parts in readers.items()
        }


T = TypeVar("T")


def _read(
    path: str,
    queries: Mapping[str, Query],
    folder: Path,
    opening: Callable[[dict[str, list[str]]], T],
) -> T:
    """The files of each result, as the reading child wrote them (parts of a columnar copy,
    or files in ``folder``), opened by ``opening``; from the registry alone when the
    copy fails, in the child or while its files are opened (``fetch_sqlite``)."""
    if not any(q.copy for q in queries.values()):
        return opening(_read_child(path, queries, folder))
    try:
        return opening(_read_child(path, queries, folder))
    except (OSError, pa.ArrowInvalid, _CopyFailed) as exc:
        if not isinstance(exc, OSError):  # damaged, or the disk refused it
            _drop_copies(path)
        plain = {n: replace(q, copy=None) for n, q in queries.items()}
        return opening(_read_child(path, plain, folder))


class _CopyFailed(ListguardError):
    """The reading child failed on a columnar copy, not on the registry."""


def _read_child(path: str, queries: Mapping[str, Query], folder: Path) -> dict[str, list[str]]:
    import pickle

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
    return files


def drop_copies(bind: Connection | Engine) -> None:
    """Remove the columnar copies kept beside a SQLite registry (after an erasure, so that
    no copy of the erased records stays on disk; the next read makes them again)."""
    path = sqlite_file(bind)
    if path is not None:
        _drop_copies(path)


def _drop_copies(path: str) -> None:
    shutil.rmtree(f"{path}-arrow", ignore_errors=True)


def fetch_rows(conn: Connection, q: Query) -> pa.Table:
    """The rows of ``q`` through ``conn`` (a registry in memory, which no child can open)."""
    rows = conn.execute(text(q.sql), dict(q.params or {})).all()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in q.schema]
    return pa.table(
        [pa.array(col, type=f.type) for col, f in zip(columns, q.schema, strict=True)],
        schema=q.schema,
    )


class Scratch:
    """A scratch SQLite file filled by ADBC before any transaction of the registry begins
    (tables created by their first ``append``), then made readable to a registry
    connection by ``attach``. Nothing in it needs recovering: no journal, no sync."""

    def __init__(self) -> None:
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
def attach(conn: Connection, scratch: Scratch) -> Iterator[Callable[[str], str]]:
    """The tables of ``scratch`` readable from ``conn`` (a SQLite registry's); yields the
    name each table has there. The file is attached, which is refused inside a
    transaction: enter this before the transaction's first write, and commit or roll
    back before leaving it."""
    scratch.close_writer()  # ADBC's SQLite lets go of the file before Python's opens it
    dbapi: Any = conn.connection.driver_connection
    if dbapi.in_transaction:
        raise RuntimeError("attach() must be entered before the transaction's first write")
    conn.exec_driver_sql(f"ATTACH DATABASE '{scratch.path}' AS {STAGE_SCHEMA}")
    try:
        yield lambda name: f"{STAGE_SCHEMA}.{name}"
    finally:
        if dbapi.in_transaction:
            dbapi.rollback()
        conn.exec_driver_sql(f"DETACH DATABASE {STAGE_SCHEMA}")


def as_reader(
    batches: pa.Table | Iterable[pa.RecordBatch], schema: pa.Schema
) -> pa.RecordBatchReader:
    """``batches`` cast to ``schema``, as a reader."""
    if isinstance(batches, pa.Table):
        return pa.RecordBatchReader.from_batches(schema, batches.cast(schema).to_batches())
    return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in batches))


__all__ = [
    "STAGE_SCHEMA",
    "Scratch",
    "as_reader",
    "attach",
    "drop_copies",
    "fetch_rows",
    "fetch_sqlite",
    "sqlite_file",
    "stream_sqlite",
]
