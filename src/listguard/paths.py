"""Paths built from data (a partner id, a stamp) stay inside the folder meant for them."""

from __future__ import annotations

from pathlib import Path

from listguard.errors import InputError


def confined(base: Path, *names: str) -> Path:
    """``base / names...``, refused (``InputError``) unless every name is one plain
    component (no separator, not ``.`` or ``..``, no NUL) and the result, symbolic
    links resolved, is inside ``base``."""
    for name in names:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise InputError(f"{name!r} cannot name a file or folder inside {base}")
    path = base.joinpath(*names)
    root = base.resolve()
    if not path.resolve().is_relative_to(root):
        raise InputError(f"{path} is outside {base}")
    return path


__all__ = ["confined"]
