"""Signed links a person follows to object: one-click unsubscribe (RFC 8058).

A link names the person (the owner's contact id, else an email or a number), the
channel and the scope, signed with a key the registry makes for itself; nothing else
is stored. The owner puts it in its own mailings (``List-Unsubscribe`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` headers, and a link in the body).
A contact id is preferred: the link then carries no coordinate of the person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import Connection

from listguard.errors import InputError
from listguard.imports.events import CHANNEL_VALUES
from listguard.rights import registry_secret

LINK_SECRET = "links"


@dataclass(frozen=True)
class Unsubscribe:
    channel: str
    scope: str
    contact_id: str | None = None
    email: str | None = None
    phone: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18])


def make_token(conn: Connection, request: Unsubscribe) -> str:
    if request.channel not in CHANNEL_VALUES:
        raise InputError(
            f"unknown channel {request.channel!r}: expected one of {', '.join(CHANNEL_VALUES)}"
        )
    if request.scope not in ("own", "partners", "all"):
        raise InputError(f"unknown scope {request.scope!r}: expected own, partners or all")
    who = {"c": request.contact_id, "e": request.email, "p": request.phone}
    who = {k: v for k, v in who.items() if v}
    if len(who) != 1:
        raise InputError("a link names the person by one of contact id, email or phone")
    body = {**who, "ch": request.channel, "s": request.scope}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    secret = registry_secret(conn, LINK_SECRET, create=True)
    assert secret is not None
    return f"{payload}.{_mac(secret, payload)}"


def read_token(conn: Connection, token: str) -> Unsubscribe | None:
    """What a link asks, or None if it was not made by this registry."""
    payload, _, mac = token.partition(".")
    secret = registry_secret(conn, LINK_SECRET, create=False)
    if not payload or not mac or secret is None:
        return None
    if not hmac.compare_digest(_mac(secret, payload), mac):
        return None
    try:
        body = json.loads(_unb64(payload))
    except ValueError:
        return None
    return Unsubscribe(
        channel=str(body["ch"]),
        scope=str(body["s"]),
        contact_id=body.get("c"),
        email=body.get("e"),
        phone=body.get("p"),
    )


__all__ = ["Unsubscribe", "make_token", "read_token"]
