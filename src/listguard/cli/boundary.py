"""The command line's boundary for operational errors: a full disk, a permission
refused, a read-only file system, a path through a file. Whatever layer meets
them (Python's files, SQLite, PostgreSQL, DuckDB), they reach the person as one
line saying what failed and where, with exit status 1, never as a traceback.
Errors that are not operational (a bug) keep their traceback.

Also a closed standard output (``listguard rent | head``): the work is done, so
the command says so on standard error and ends normally.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from listguard.errors import ListguardError

# what an operating system error means to the person, by errno
_ERRNO = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "this is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.EIO: "input/output error",
    errno.ENAMETOOLONG: "file name too long",
    errno.EMFILE: "too many open files",
}
# SQLite's operational failures, by the start of its message
_SQLITE = {
    "database or disk is full": "the disk holding the registry or its temporary files is full",
    "disk i/o error": "input/output error on the registry's disk",
    "attempt to write a readonly database": (
        "the registry is read-only (file or folder permissions, or a read-only file system)"
    ),
    "unable to open database file": (
        "cannot open the registry (its folder is missing or not writable)"
    ),
    "database is locked": "the registry is locked by another process: try again",
}
# PostgreSQL's SQLSTATE classes of operational failures: insufficient resources
# (disk full, out of memory), system errors (input/output)
_POSTGRES_CLASSES = ("53", "58")
_DUCKDB_FILE = re.compile(r'file \\?"(?P<path>[^"\\]+)\\?"\s*:\s*(?P<reason>[^"\\}]+)')
_DUCKDB_ERRNO = re.compile(r'"errno"\s*:\s*"(\d+)"')


class OperationalError(ListguardError):
    """The system refused what a command had to do (disk, permissions, paths)."""


def _os_error(exc: OSError, doing: str) -> OperationalError:
    what = _ERRNO.get(exc.errno or 0) or exc.strerror or str(exc)
    where = exc.filename
    if exc.errno == errno.EEXIST and where is not None:
        path = Path(os.fsdecode(where))
        what = "this is a file, not a folder" if not path.is_dir() else "it already exists"
    return OperationalError(
        f"{what} ({doing})", where=os.fsdecode(where) if where is not None else None
    )


def _database_error(exc: BaseException, registry: str, doing: str) -> OperationalError | None:
    """``exc`` (a DB-API error, or SQLAlchemy's wrapping of one) if operational."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error):
        text = str(orig).lower()
        for start, what in _SQLITE.items():
            if text.startswith(start):
                return OperationalError(f"{what} ({doing})", where=registry)
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _POSTGRES_CLASSES:
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else sqlstate
        return OperationalError(f"the registry's server failed: {first} ({doing})", where=registry)
    return None


def _duckdb_error(exc: BaseException, doing: str) -> OperationalError | None:
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(exc, (duckdb.IOException, duckdb.OutOfMemoryException)):
        return None
    # DuckDB says it as 'Could not write file "PATH": REASON', at times inside JSON
    text = str(exc)
    named = _DUCKDB_FILE.search(text)
    number = _DUCKDB_ERRNO.search(text)
    what = _ERRNO.get(int(number.group(1))) if number else None
    if named:
        return OperationalError(
            f"{what or named.group('reason').strip()} ({doing})", where=named.group("path")
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return OperationalError(f"{what or first} ({doing})")


def operational(exc: BaseException, registry: str, doing: str) -> OperationalError | None:
    """``exc`` as a message, if it is an operational failure; ``doing``: the command."""
    if isinstance(exc, BrokenPipeError):
        return None
    if isinstance(exc, OSError) and exc.errno is not None:
        return _os_error(exc, doing)
    return _database_error(exc, registry, doing) or _duckdb_error(exc, doing)


def registry_name(argv: Sequence[str]) -> str:
    """The registry a command line names (``--db``, else the environment, else the
    default), as a person reads it: a SQLite file's path, a server's URL without its
    password."""
    from sqlalchemy.engine import make_url

    from listguard.db.url import database_url

    given = None
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            given = argv[i + 1]
        elif arg.startswith("--db="):
            given = arg.removeprefix("--db=")
    try:
        url = make_url(database_url(given))
    except Exception:  # a URL make_engine reports itself
        return "the registry"
    if url.get_backend_name() == "sqlite":
        return url.database or "the registry (in memory)"
    return url.render_as_string(hide_password=True)


def command_name(argv: Sequence[str], groups: set[str]) -> str:
    """``listguard`` and the command a command line runs (``import contacts``)."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--db", "--config"):
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
            if len(words) == 2 or words[0] not in groups:
                break
    return " ".join(["listguard", *words])


@contextlib.contextmanager
def terminated_as_exit() -> Iterator[None]:
    """Make SIGTERM (what service managers send) end the command as an exception would,
    so that what it was doing is undone (a transaction rolled back, a delivery's
    hidden folder removed) instead of left as it was."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def operational_errors(argv: Sequence[str], groups: set[str]) -> Iterator[None]:
    """Turn an operational failure of the command ``argv`` into an ``OperationalError``;
    make a standard output closed early end quietly."""
    try:
        yield
    except SystemExit:
        _flush_stdout()
        raise
    except Exception as exc:
        doing = f"{command_name(argv, groups)} stopped"
        error = operational(exc, registry_name(argv), doing)
        if error is None:
            raise
        raise error from None


def _flush_stdout() -> None:
    """Flush standard output now, and if its reader has gone, stop writing to it
    (rather than fail as the interpreter exits)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()


def _drop_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@contextlib.contextmanager
def report_after(done: str) -> Iterator[None]:
    """Print the report of work already done (``done`` says what): if standard output
    has been closed (``listguard rent | head``), the work stands, and standard error
    says so."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
        print(
            f"{done}; its report was not printed in full: standard output was closed",
            file=sys.stderr,
        )


__all__ = [
    "OperationalError",
    "operational",
    "operational_errors",
    "report_after",
    "terminated_as_exit",
]
