"""Connecting to the registry (SQLite by default, PostgreSQL for a shared server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, OperationalError

from listguard.db.url import database_url
from listguard.errors import InputError
from listguard.storage.sqlite.connect import bulk_insert as sqlite_bulk_insert
from listguard.storage.sqlite.connect import sqlite_pragmas, writer_turn

# the last migration (``listguard.db.migrations``); a test holds it equal to Alembic's head
HEAD_REVISION = "0024"


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction (``engine.begin()``). On SQLite, writers take turns first
    (``storage.sqlite.connect.writer_turn``)."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with writer_turn(engine), engine.begin() as conn:
        yield conn


def make_engine(url: str | None = None) -> Engine:
    """An engine for the registry at ``url``; errors in the URL are reported, not raised raw."""
    url = database_url(url)
    try:
        if url.startswith("sqlite"):
            # threads of a web server each hold a connection while they work
            engine = create_engine(url, connect_args={"timeout": 30}, pool_size=16, max_overflow=16)
            event.listen(engine, "connect", sqlite_pragmas)
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
        return sqlite_bulk_insert(conn)
    return "INSERT INTO"


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
