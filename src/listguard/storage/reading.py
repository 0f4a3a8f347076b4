"""Getting a registry ready to be read, before a command loads what it needs.

Imports only the standard library: a command calls ``prepare_reading`` first
thing, and whatever the backend starts (on SQLite, the reading child) starts
while the command goes on loading its modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from listguard.db.url import database_url, sqlite_path
from listguard.storage.sqlite.ahead import start_reading


@contextmanager
def prepare_reading(url: str | None) -> Iterator[None]:
    """Within the block, the first read of the registry at ``url`` (see
    ``database_url``) finds its backend ready; what was made ready and not used is
    let go at the end."""
    path = sqlite_path(database_url(url))
    if path is None:  # PostgreSQL reads in the caller's connection: nothing to start
        yield
        return
    with start_reading(path):
        yield


__all__ = ["prepare_reading"]
