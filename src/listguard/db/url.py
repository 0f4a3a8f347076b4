"""Where the registry is: its URL, and the file of a SQLite one. Imports only the
standard library, so that a command learns it before loading anything else."""

from __future__ import annotations

import os

DEFAULT_URL = "sqlite:///listguard.db"


def database_url(url: str | None = None) -> str:
    """The registry URL: the option, else ``$LISTGUARD_DATABASE_URL``, else ./listguard.db."""
    return url or os.environ.get("LISTGUARD_DATABASE_URL") or DEFAULT_URL


def file_database(database: str | None) -> str | None:
    """The SQLite database named ``database`` (a URL's database part) if it is a file;
    None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL as SQLAlchemy reads the usual ones (``sqlite:///rel.db``,
    ``sqlite:////abs.db``); None for anything else. A URL read otherwise than
    SQLAlchemy reads it only leaves a reading child started ahead unused."""
    if not url.startswith("sqlite:///"):
        return None
    database = file_database(url[len("sqlite:///") :].partition("?")[0])
    return os.path.abspath(database) if database else None


__all__ = ["DEFAULT_URL", "database_url", "file_database", "sqlite_path"]
