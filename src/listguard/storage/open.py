"""The storage of a registry, by its database."""

from __future__ import annotations

from sqlalchemy import Engine

from listguard.errors import InputError
from listguard.storage.base import Storage
from listguard.storage.postgres.backend import PostgresStorage
from listguard.storage.sqlite.backend import SqliteStorage


def open_storage(engine: Engine) -> Storage:
    """The storage interface over ``engine``'s database (SQLite or PostgreSQL)."""
    name = engine.dialect.name
    if name == "sqlite":
        return SqliteStorage(engine)
    if name == "postgresql":
        return PostgresStorage(engine)
    raise InputError(f"listguard does not run on {name}: use SQLite or PostgreSQL")


__all__ = ["open_storage"]
