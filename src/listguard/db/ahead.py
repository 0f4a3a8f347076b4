"""The reading child of a SQLite registry, started ahead of the first read.

A rental's first read of the registry is by a child process (``arrow._fetch_sqlite``),
which takes half a second to start: Python, pyarrow and ADBC. Started as the command
begins, it starts while the command loads its own modules, on the other core, and
waits for its request. The module imports only the standard library, so that nothing
delays the start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_URL = "sqlite:///listguard.db"

_AHEAD: dict[str, subprocess.Popen[bytes]] = {}
_LOCK = threading.Lock()


def database_url(url: str | None = None) -> str:
    """The registry URL: the option, else ``$LISTGUARD_DATABASE_URL``, else ./listguard.db."""
    return url or os.environ.get("LISTGUARD_DATABASE_URL") or DEFAULT_URL


def file_database(database: str | None) -> str | None:
    """The SQLite database named ``database`` (a URL's database part) if it is a file;
    None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL as SQLAlchemy reads the usual ones (``sqlite:///rel.db``,
    ``sqlite:////abs.db``); None for anything else. A URL read otherwise than
    SQLAlchemy reads it only leaves the child unused."""
    if not url.startswith("sqlite:///"):
        return None
    database = file_database(url[len("sqlite:///") :].partition("?")[0])
    return os.path.abspath(database) if database else None


def spawn_reader() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "listguard.db.sqlite_read"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@contextmanager
def reader_ahead(url: str | None) -> Iterator[None]:
    """Start the reading child of the registry at ``url`` (see ``database_url``) now; the
    first read of that file in this process takes it. Stopped at the end if none did."""
    path = _sqlite_path(database_url(url))
    if path is None:
        yield
        return
    child = spawn_reader()
    with _LOCK:
        _AHEAD[path] = child
    try:
        yield
    finally:
        with _LOCK:
            unused = _AHEAD.get(path) is child
            if unused:
                del _AHEAD[path]
        if unused:
            child.kill()
            child.communicate()


def take_reader(path: str) -> subprocess.Popen[bytes] | None:
    """The child started ahead for the SQLite file at ``path``, if any (once)."""
    with _LOCK:
        return _AHEAD.pop(os.path.abspath(path), None)


__all__ = [
    "DEFAULT_URL",
    "database_url",
    "file_database",
    "reader_ahead",
    "spawn_reader",
    "take_reader",
]
