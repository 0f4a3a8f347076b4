"""The reading child of a SQLite registry, started ahead of the first read.

A rental's first read of the registry is by a child process (``fetch.fetch_sqlite``),
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

_AHEAD: dict[str, subprocess.Popen[bytes]] = {}
_LOCK = threading.Lock()


def spawn_reader() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "listguard.storage.sqlite.reader"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@contextmanager
def start_reading(path: str) -> Iterator[None]:
    """Start the reading child of the registry file at ``path`` now; the first read of
    that file in this process takes it. Stopped at the end if none did."""
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


__all__ = ["spawn_reader", "start_reading", "take_reader"]
