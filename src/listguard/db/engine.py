"""Connecting to the registry (SQLite by default, PostgreSQL for a shared server)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.sql import ClauseElement

from listguard.db.ahead import database_url
from listguard.errors import InputError

# the last migration (``listguard.db.migrations``); a test holds it equal to Alembic's head
HEAD_REVISION = "0020"

try:
    import fcntl  # advisory file locks between processes (not on Windows)
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


PAGE_SIZE = 16384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
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
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction (``engine.begin()``). On SQLite, writers take turns first:
    the threads of a process on a lock, the processes on an advisory lock of a file
    beside the database. SQLite lets one writer in at a time and makes the others poll
    with growing sleeps (up to 100 ms), which under many short concurrent writes (a
    web server's) costs far more than the writes; a waiter on these locks is woken as
    soon as the writer before it is done."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    lock, fd = _writer_lock(engine)
    with lock:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)


def make_engine(url: str | None = None) -> Engine:
    """An engine for the registry at ``url``; errors in the URL are reported, not raised raw."""
    url = database_url(url)
    try:
        if url.startswith("sqlite"):
            # threads of a web server each hold a connection while they work
            engine = create_engine(url, connect_args={"timeout": 30}, pool_size=16, max_overflow=16)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise InputError(f"cannot use database URL {url!r}: {exc}") from None
    return engine


def one_snapshot(conn: Connection) -> Connection:
    """``conn`` reading one snapshot of the registry for its whole transaction (call it
    before the first statement). PostgreSQL reads committed data statement by
    statement unless asked; SQLite's transactions are snapshots already."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def bulk_insert(conn: Connection) -> str:
    """The start of a large ``INSERT ... SELECT`` in a transaction that may have written
    already. SQLite would otherwise keep a statement journal: a temporary copy of every
    page the statement changes, so that the statement alone can be undone after a
    constraint error, as large as the change itself. Here any error undoes the whole
    transaction, so the copy is useless; foreign keys are then checked at commit."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until the transaction ends
        return "INSERT OR ROLLBACK INTO"
    return "INSERT INTO"


# executes a statement with its parameters, in a transaction held by the caller (a
# connection's, or a writer process's), and returns its rows (none for a statement that
# returns none)
Run = Callable[[ClauseElement, dict[str, Any]], list[Any]]


def runner(conn: Connection) -> Run:
    """``Run`` in ``conn``'s transaction."""

    def run(statement: ClauseElement, params: dict[str, Any]) -> list[Any]:
        result = conn.execute(statement, params)  # type: ignore[call-overload]
        return list(result.all()) if result.returns_rows else []

    return run


def positional(
    statement: ClauseElement, dialect: Dialect, params: dict[str, Any] | None = None
) -> tuple[str, tuple[Any, ...]]:
    """A SQLAlchemy statement (Core or ``text``) as SQL with ``?`` parameters and their
    values in order, for a connection SQLAlchemy does not hold (``BulkWriter``); the
    scalar defaults of an insert's table are filled in, as SQLAlchemy does when it runs."""
    compiled: Any = statement.compile(dialect=dialect)  # positional: has ``positiontup``
    values = compiled.construct_params(params)
    for column in getattr(getattr(statement, "table", None), "columns", ()):
        default = column.default
        if values.get(column.name) is None and default is not None and default.is_scalar:
            values[column.name] = default.arg
    return compiled.string, tuple(values[name] for name in compiled.positiontup or ())


def check_initialised(engine: Engine) -> None:
    """Refuse to work on a registry that ``listguard init`` has not created or upgraded.

    The revision is read by SQL and compared with ``HEAD_REVISION``: loading Alembic and
    its scripts to learn the head would add about half a second to every command."""
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            current = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in tables
                else None
            )
    except OperationalError as exc:
        raise InputError(f"cannot open the registry {engine.url!r}: {exc.orig}") from None
    if current is None:
        if not tables:
            raise InputError(f"the registry {engine.url!r} is empty: run `listguard init` first")
        raise InputError(f"the registry {engine.url!r} is not a listguard registry")
    if current != HEAD_REVISION:
        raise InputError(
            f"the registry {engine.url!r} is at revision {current}: run `listguard init` to upgrade"
        )
