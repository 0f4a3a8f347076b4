"""The owners a partner's registry rents from, as this registry names them: the
deliveries received from an owner (``calls receive``) and the signed messages accepted
from it (``inbound``) both say which owner by this name."""

from __future__ import annotations

import re

from listguard.errors import InputError

SOURCE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_source(source: str) -> None:
    """Refuse an owner's name other than 1 to 64 letters, digits, '.', '_' or '-'."""
    if not SOURCE_NAME.match(source):
        raise InputError(f"source {source!r}: letters, digits, '.', '_' or '-' (at most 64)")


__all__ = ["SOURCE_NAME", "check_source"]
