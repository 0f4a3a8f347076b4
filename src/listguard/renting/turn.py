"""One rental decided at a time through the web application: a delivery (or a preview)
asked while another runs is refused at once (``Busy``), not queued behind it.

A rental at a million contacts holds a handler thread, DuckDB's memory and, on
SQLite, the registry's writer for ten seconds or more (``docs/benchmarks.md``); a
second one would wait for the first anyway, holding another thread the whole time.
The turn is an exclusive ``flock`` of a file in the deliveries folder: held by one
thread of one process at a time, whichever worker of the server it runs in, and
released by the system if the process dies. Where ``flock`` does not exist (Windows),
a lock of the process stands in.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from listguard.errors import ListguardError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".listguard-rental.lock"
_PROCESS = threading.Lock()  # stands in for flock where there is none


class Busy(ListguardError):
    """Another rental is being decided or delivered: try again once it is done."""


@contextlib.contextmanager
def rental_turn(folder: Path) -> Iterator[None]:
    """Hold the rental turn of ``folder`` (made if missing) for the block, or raise
    ``Busy`` at once when another rental holds it."""
    busy = Busy(
        "another rental is being decided or delivered: try again when it is done",
        fr="une autre location est en cours de décision ou de livraison : réessayez "
        "quand elle sera finie",
    )
    if fcntl is None:  # pragma: no cover
        if not _PROCESS.acquire(blocking=False):
            raise busy
        try:
            yield
        finally:
            _PROCESS.release()
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)  # releases the lock


__all__ = ["LOCK_FILE", "Busy", "rental_turn"]
