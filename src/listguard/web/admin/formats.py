"""How the back office writes what it shows."""

from __future__ import annotations

from listguard.timeutil import to_iso


def minute(at: int, *, seconds: bool = False) -> str:
    """An instant as the team reads it: ``2026-11-28 12:38`` (Paris time)."""
    return to_iso(int(at))[: 19 if seconds else 16].replace("T", " ")


__all__ = ["minute"]
