"""Delivery folders in the making, and what a stopped rental leaves behind.

A delivery is written into a hidden folder beside the one asked for,
``.<name>.partial-<hex>``, locked (``flock``) by the rental writing it, and
moved in place only once the registry has recorded the delivery: a folder that
looks like a delivery is one the registry knows. A rental killed before its
commit leaves that hidden folder, which holds ``decisions.csv`` and
``contacts.csv`` (personal data) under references the registry never recorded;
one killed between its commit and the move leaves the folder of a recorded
delivery. ``sweep`` finds both (an unlocked folder: its rental has stopped):
it removes the first, moves the second in place, and names any folder whose
manifest is not that of a delivery the registry recorded.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from listguard.errors import InputError, ListguardError

try:  # POSIX: a folder in the making is locked by its rental
    import fcntl
except ImportError:  # pragma: no cover - Windows: leftovers are named, never touched
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
# each recorded delivery's manifest digest and folder, by id
Recorded = dict[int, tuple[str | None, str]]
PARTIAL = re.compile(r"\..+\.partial-[0-9a-f]{8}")


@dataclass
class Partial:
    """The hidden folder a delivery is written into, locked while this rental runs."""

    path: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the folder releases its lock
            self.fd = None


def _lock(path: Path, *, wait: bool) -> int | None:
    """A descriptor of the folder ``path`` holding its exclusive lock; ``None`` when
    locks are not available here. Raises ``BlockingIOError`` when another process
    holds it and ``wait`` is false."""
    if fcntl is None:  # pragma: no cover
        return None
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BaseException:
        os.close(fd)
        raise
    return fd


def claim(out: Path) -> Partial:
    """The locked hidden folder to write the delivery ``out`` into. It is made under a
    name ``sweep`` ignores and renamed once locked, so that no sweep can take it
    for a leftover in between."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            "the delivery folder already exists and is not empty: choose a new folder "
            "(a delivery is never overwritten)",
            where=str(out),
        )
    token = secrets.token_hex(4)
    making = out.with_name(f".{out.name}.new-{token}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        making.mkdir()
    except OSError as exc:
        file = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        reason = f"{file} is a file, not a folder" if file else exc.strerror or str(exc)
        raise InputError(f"cannot make the delivery folder: {reason}", where=str(out)) from None
    try:
        fd = _lock(making, wait=True)
    except BaseException:
        making.rmdir()
        raise
    tmp = out.with_name(f".{out.name}.partial-{token}")
    try:
        making.rename(tmp)
    except BaseException:
        Partial(making, fd).release()
        making.rmdir()
        raise
    return Partial(tmp, fd)


def move_in(tmp: Path, out: Path) -> None:
    """Move the folder ``tmp`` to ``out``: renamed when ``out`` does not exist, else
    its files moved into it, the manifest last (a folder holding a manifest is
    complete)."""
    if not out.exists():
        tmp.rename(out)
        return
    items = sorted(tmp.iterdir(), key=lambda p: p.name == MANIFEST)
    for item in items:  # a rename would replace a file of the same name
        if (out / item.name).exists():
            raise FileExistsError(
                errno.EEXIST, "a file of the delivery is there already", str(out / item.name)
            )
    for item in items:
        item.rename(out / item.name)
    tmp.rmdir()


def settle(engine: Engine, tmp: Path, out: Path, *, committing: bool) -> None:
    """The folder of a delivery that did not end well: removed, unless it stopped
    while committing and the registry did record it (an interruption as the commit
    ended), in which case it is moved in place. When the registry cannot tell, it is
    left for the next ``rent`` to settle."""
    recorded = is_recorded(engine, tmp) if committing else False
    if recorded:
        with contextlib.suppress(OSError):
            move_in(tmp, out)
    elif recorded is not None:
        shutil.rmtree(tmp, ignore_errors=True)


def check_still_free(out: Path, existed: bool) -> None:
    """Refuse, before the commit, a folder ``out`` that another process filled or made
    while this delivery was being written."""
    if (out.is_dir() and any(out.iterdir())) if existed else out.exists():
        raise InputError(
            "the delivery folder was made or filled while this delivery was being "
            "written: nothing was delivered and nothing recorded; choose a new folder",
            where=str(out),
        )


def put_in_place(tmp: Path, out: Path, delivery_id: int) -> None:
    """Move the folder of the recorded delivery ``delivery_id`` from ``tmp`` to ``out``;
    if that fails, the folder stays where it is, and the message says where."""
    try:
        move_in(tmp, out)
    except OSError as exc:
        raise ListguardError(
            f"delivery {delivery_id} was recorded, but its folder could not be moved to "
            f"{out} ({exc.strerror or exc}): it is in {tmp}; the next listguard rent moves "
            "it in place"
        ) from None


def _manifest(folder: Path) -> tuple[int, str] | None:
    """The delivery id and SHA-256 of ``folder``'s listguard manifest, if it has one."""
    try:
        body = (folder / MANIFEST).read_bytes()
        data = json.loads(body)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("delivery_id"), int):
        return None
    software = data.get("software")
    if not isinstance(software, dict) or software.get("name") != "listguard":
        return None
    return data["delivery_id"], hashlib.sha256(body).hexdigest()


def is_recorded(engine: Engine, folder: Path) -> bool | None:
    """Whether ``folder`` holds the manifest of a delivery the registry recorded;
    ``None`` when the registry cannot be read."""
    found = _manifest(folder)
    if found is None:
        return False
    try:
        with engine.connect() as conn:
            digest = conn.execute(
                text("SELECT manifest_sha256 FROM deliveries WHERE id = :id"), {"id": found[0]}
            ).scalar()
    except Exception:  # the registry failed: whoever reads it next will tell
        return None
    return digest == found[1]


def _places(engine: Engine, out: Path) -> tuple[list[Path], Recorded]:
    """The folders deliveries are made in (``out``'s, and those of every recorded
    delivery), and each recorded delivery's manifest digest and folder."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, manifest_sha256, out_dir FROM deliveries")).all()
    recorded = {int(r[0]): (r[1], str(r[2])) for r in rows}
    places = {out.resolve().parent, *(Path(d).parent for _sha, d in recorded.values())}
    return sorted(places), recorded


def sweep(engine: Engine, out: Path) -> list[str]:
    """Deal with what stopped rentals left beside ``out`` and beside every recorded
    delivery's folder; a message per folder found."""
    places, recorded = _places(engine, out)
    notes: list[str] = []
    for place in places:
        try:
            entries = sorted(p for p in place.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:  # gone, or not readable: nothing of a rental to find there
            continue
        for folder in entries:
            if PARTIAL.fullmatch(folder.name):
                note = _stopped(folder, recorded)
            else:
                note = _unrecorded(engine, folder, recorded)
            if note:
                notes.append(note)
    return notes


def _is_recorded(found: tuple[int, str] | None, recorded: Recorded) -> bool:
    return found is not None and found[0] in recorded and recorded[found[0]][0] == found[1]


def _stopped(folder: Path, recorded: Recorded) -> str | None:
    """A hidden folder of a rental: left as it is while its rental runs; moved in
    place if its delivery was recorded; else removed."""
    try:
        fd = _lock(folder, wait=False)
    except (BlockingIOError, FileNotFoundError):
        return None  # a rental is writing it, or has just ended
    except OSError as exc:
        return f"{folder}: a folder left by a stopped rental could not be examined ({exc})"
    try:
        if fd is None:  # pragma: no cover - no locks: it may be in use, only name it
            return f"{folder}: a folder left by a rental (it holds personal data)"
        found = _manifest(folder)
        if found is not None and _is_recorded(found, recorded):
            delivery_id, target = found[0], Path(recorded[found[0]][1])
            try:
                move_in(folder, target)
            except OSError as exc:
                return (
                    f"{folder}: the folder of delivery {delivery_id}, recorded, was not moved "
                    f"in place by its rental, and cannot be now ({exc.strerror}): move its "
                    f"files to {target}"
                )
            return (
                f"{target}: delivery {delivery_id} was recorded but its rental stopped before "
                "moving its folder in place; it is now in place"
            )
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            return (
                f"{folder}: a rental stopped before it was recorded left this folder, which "
                "holds personal data, and it could not be removed: remove it"
            )
        return (
            f"{folder}: removed the folder of a rental stopped before it was recorded "
            "(it held personal data; nothing of it was delivered or recorded)"
        )
    finally:
        if fd is not None:
            os.close(fd)


def _unrecorded(engine: Engine, folder: Path, recorded: Recorded) -> str | None:
    """A folder holding a listguard manifest that is not the one of the delivery it names."""
    found = _manifest(folder)
    if found is None or _is_recorded(found, recorded):
        return None
    if is_recorded(engine, folder) is not False:  # recorded since the sweep began
        return None
    delivery_id = found[0]
    what = (
        "which the registry recorded with another manifest"
        if delivery_id in recorded
        else "which the registry never recorded"
    )
    return (
        f"{folder}: its manifest names delivery {delivery_id}, {what}: this folder is not a "
        "delivery, must not be sent, and holds personal data (remove it)"
    )


__all__ = [
    "Partial",
    "check_still_free",
    "claim",
    "is_recorded",
    "move_in",
    "put_in_place",
    "settle",
    "sweep",
]
