"""The one text form of the tokens listguard hands out in links (an unsubscribe link, a
rights request's confirmation, a consent proof's link): URL-safe base64 without
padding, read back in that form only."""

from __future__ import annotations

import base64


def token_text(data: bytes) -> str:
    """``data`` as a link carries it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token_bytes(text: str) -> bytes:
    """The bytes of a token written by :func:`token_text`. Raises ``ValueError`` for any
    other text: a character added or changed that decodes to the same bytes (the last
    character's spare bits) is an altered token, not the same one."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if token_text(raw) != text:
        raise ValueError("not a token of ours")
    return raw


__all__ = ["token_bytes", "token_text"]
