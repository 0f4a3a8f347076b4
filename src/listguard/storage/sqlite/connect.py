"""Connections to a SQLite registry: their pragmas, and the turns writers take."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

try:
    import fcntl  # advisory file locks between processes (not on Windows)
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


PAGE_SIZE = 16384


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # pages of 16 KiB for a new registry (a file without pages yet; no effect on one that
    # has them): bulk writes, checkpoints and scans move a quarter as many pages
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
    # WAL: readers never block the writer, safe with several processes on one machine
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk when it returns (NORMAL may lose the last commits to a
    # power cut): an opposition or erasure acknowledged to the person must survive one.
    # In WAL mode this costs one sync of the log per commit; imports and rentals commit
    # once, so only many small writes pay it
    cur.execute("PRAGMA synchronous=FULL")
    # what a delete frees is overwritten with zeros, not left in the file's free space:
    # an erased person's data must leave the file (some builds of SQLite do it already)
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA temp_store=FILE")  # temporary tables spill to disk: memory stays bounded
    cur.execute("PRAGMA cache_size=-262144")
    cur.close()


_WRITERS: dict[str, tuple[threading.Lock, int | None]] = {}
_WRITERS_LOCK = threading.Lock()


def _writer_lock(engine: Engine) -> tuple[threading.Lock, int | None]:
    """This process's lock for the registry, and an open lock file beside the database
    that processes take turns on (None for an in-memory database)."""
    key = str(engine.url)
    with _WRITERS_LOCK:
        if key not in _WRITERS:
            fd = None
            path = engine.url.database
            if path and path != ":memory:" and fcntl is not None:
                fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            _WRITERS[key] = (threading.Lock(), fd)
        return _WRITERS[key]


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """Wait for this writer's turn on the registry of ``engine``, and hold it: the threads
    of a process on a lock, the processes on an advisory lock of a file beside the
    database. SQLite lets one writer in at a time and makes the others poll with
    growing sleeps (up to 100 ms), which under many short concurrent writes (a web
    server's) costs far more than the writes; a waiter on these locks is woken as soon
    as the writer before it is done."""
    lock, fd = _writer_lock(engine)
    with lock:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)


def bulk_insert(conn: Connection) -> str:
    """The start of a large ``INSERT ... SELECT`` in a transaction that may have written
    already. SQLite would otherwise keep a statement journal: a temporary copy of every
    page the statement changes, so that the statement alone can be undone after a
    constraint error, as large as the change itself. Here any error undoes the whole
    transaction, so the copy is useless; foreign keys are then checked at commit."""
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until the transaction ends
    return "INSERT OR ROLLBACK INTO"


__all__ = ["PAGE_SIZE", "bulk_insert", "sqlite_pragmas", "writer_turn"]
