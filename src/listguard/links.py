"""Signed links a person follows to object: one-click unsubscribe (RFC 8058).

A link carries, encrypted and authenticated (AES-256-GCM, with a key the registry
makes for itself), who the person is (the owner's contact id, else an email or a
number), the channel, the scope and an expiry date: it reveals nothing to whoever
reads it, cannot be forged or altered, and nothing is stored per link. The owner puts
it in its own mailings (``List-Unsubscribe`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` headers, and a link in the body).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from listguard.db.keys import registry_secret
from listguard.domain.vocabulary import EVENT_CHANNELS
from listguard.errors import InputError
from listguard.timeutil import now_ts
from listguard.tokens import token_bytes, token_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LINK_SECRET = "links"
DEFAULT_DAYS = 400  # a mailing's link keeps working for more than a year


@dataclass(frozen=True)
class Unsubscribe:
    channel: str
    scope: str
    contact_id: str | None = None
    email: str | None = None
    phone: str | None = None
    expires_at: int | None = None


def _cipher(conn: Connection, *, create: bool) -> AESGCM | None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    secret = registry_secret(conn, LINK_SECRET, create=create)
    return None if secret is None else AESGCM(bytes.fromhex(secret))


def make_token(conn: Connection, request: Unsubscribe, days: int = DEFAULT_DAYS) -> str:
    if request.channel not in EVENT_CHANNELS:
        raise InputError(
            f"unknown channel {request.channel!r}: expected one of {', '.join(EVENT_CHANNELS)}"
        )
    if request.scope not in ("own", "partners", "all"):
        raise InputError(f"unknown scope {request.scope!r}: expected own, partners or all")
    who = {"c": request.contact_id, "e": request.email, "p": request.phone}
    who = {k: v for k, v in who.items() if v}
    if len(who) != 1:
        raise InputError("a link names the person by one of contact id, email or phone")
    if days < 1:
        raise InputError("a link must be valid at least one day")
    body = {**who, "ch": request.channel, "s": request.scope, "x": now_ts() + days * 86400}
    plain = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    cipher = _cipher(conn, create=True)
    assert cipher is not None  # made just now if it did not exist
    nonce = secrets.token_bytes(12)
    return token_text(nonce + cipher.encrypt(nonce, plain, b"unsubscribe"))


def read_token(conn: Connection, token: str) -> Unsubscribe | None:
    """What a link asks, or None if this registry did not make it (or it was altered).
    An expired link is returned with its ``expires_at`` in the past."""
    from cryptography.exceptions import InvalidTag

    cipher = _cipher(conn, create=False)
    if cipher is None or len(token) > 1000:
        return None
    try:
        raw = token_bytes(token)
        body = json.loads(cipher.decrypt(raw[:12], raw[12:], b"unsubscribe"))
    except (ValueError, InvalidTag):
        return None
    return Unsubscribe(
        channel=str(body["ch"]),
        scope=str(body["s"]),
        contact_id=body.get("c"),
        email=body.get("e"),
        phone=body.get("p"),
        expires_at=int(body["x"]),
    )


__all__ = ["DEFAULT_DAYS", "Unsubscribe", "make_token", "read_token"]
