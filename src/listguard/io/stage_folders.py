"""The scratch folders of imports (``$TMPDIR/listguard-stage-*``): each names the process
that owns it, is removed by it when it ends, even on SIGTERM or SIGHUP, and is removed by
the next import when that process was killed.

A folder holds the rows of a file being imported (personal data): one left behind by a
killed process (``kill -9``, a machine that stopped) would stay on disk for good.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

PREFIX = "listguard-stage-"
OWNER = "owner"  # the file naming the owning process: its pid and its start time
# a folder without an owner file (made by an earlier version, or being made) is left
# alone while anything in it changed within this many seconds
UNOWNED_GRACE_SECONDS = 3600


def make_folder() -> Path:
    """A new scratch folder owned by this process; stale ones are removed first."""
    remove_stale()
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    pid = os.getpid()
    (folder / OWNER).write_text(f"{pid} {_started(pid)}\n", encoding="ascii")
    return folder


def remove_stale(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders under ``root`` (the temporary folder) whose owning
    process is gone; returns them. Folders of other users are never touched."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{PREFIX}*"):
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            if folder.stat().st_uid != os.getuid():
                continue
            if _alive(folder):
                continue
        except OSError:  # removed meanwhile, or unreadable
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(folder: Path) -> bool:
    try:
        pid_text, _, started = (folder / OWNER).read_text(encoding="ascii").strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        newest = max(
            [folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir())],
        )
        return time.time() - newest < UNOWNED_GRACE_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user: the pid was reused
        return False
    # alive: the same process, unless its pid was reused since (another start time)
    return _started(pid) == started


def _started(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks after boot, Linux), or "" where it
    cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return ""
    # the fields after the command name, which is in parentheses and may hold spaces
    return stat.rpartition(")")[2].split()[19]


@contextlib.contextmanager
def ended_by_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP end the process by ``SystemExit`` (status 128 +
    the signal), so that every ``finally`` runs and scratch folders are removed. Only in
    the main thread, and only where the signal still has its default action."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: list[signal.Signals] = []

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, leave)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            signal.signal(sig, signal.SIG_DFL)
