"""How a person obtains their consent proof without an account: a signed, expiring link
sent to their email address, or a one-time code sent to their mobile by SMS.

A link's token is ``<identifier>.<expiry>.<signature>``: the identifier (the person's
normalised email, encrypted with AES-256-GCM under a key derived from
the link key, base64url), the Unix second it expires, and an HMAC-SHA256, with a
key the registry makes for itself (``registry_secrets``, name ``proof_links``), of
the person's keyed digest (``listguard.identifiers``) and the expiry. It cannot be
forged nor altered, nothing is stored per link, and it is checked in constant time.

A code is 6 digits, valid 10 minutes, 5 attempts, used once; the registry keeps
only a keyed hash of it and a keyed digest of the number (``proof_codes``).

Neither tells whether the registry holds the person: a link is made for a known
address only, but the caller answers the same either way (``proof_link`` does the
same work for both); a code is stored for any valid number, and sent only to a
number the registry holds, through the owner's SMS adapter (``SmsSender``), whose
``send`` must hand the message over without waiting for delivery (a queue), so that
both answers take the same time.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, text

from listguard.constant_time import same
from listguard.db.keys import registry_secret
from listguard.domain.coverage import PERSON_CONTACTS
from listguard.errors import InputError
from listguard.identifiers import identifier_secret, keyed_digest
from listguard.oppositions import person_keys
from listguard.storage.engine import writing
from listguard.timeutil import now_ts
from listguard.tokens import token_bytes, token_text

LINK_SECRET = "proof_links"
LINK_DAYS = 7  # a link sent by email works for a week
CODE_SECONDS = 600  # a code sent by SMS works for 10 minutes
CODE_ATTEMPTS = 5
CODE_TEXT = "Votre code pour obtenir la preuve de vos consentements : {code} (valable 10 minutes)."


class SmsSender(Protocol):
    """The owner's SMS adapter: hands one message to the provider (queued, not awaited)."""

    def send(self, number: str, body: str) -> None: ...


@dataclass(frozen=True)
class Person:
    """Who a link or a code names: give it to ``listguard.proof.gather``."""

    email: str | None = None
    phone: str | None = None


def _keys(conn: Connection) -> tuple[str, str]:
    """(link key, identifier digest key), made on first use."""
    link = registry_secret(conn, LINK_SECRET, create=True)
    ident = identifier_secret(conn, create=True)
    assert link is not None and ident is not None
    return link, ident


def _signature(link_key: str, digest: str, expires_at: int) -> str:
    return hmac.new(
        bytes.fromhex(link_key), f"proof:{digest}:{expires_at}".encode(), hashlib.sha256
    ).hexdigest()


def _held(conn: Connection, email_norm: str | None, phone_e164: str | None) -> bool:
    row = conn.execute(
        text(f"SELECT 1 FROM contacts WHERE {PERSON_CONTACTS} LIMIT 1"),
        {"c": None, "e": email_norm, "p": phone_e164},
    ).first()
    return row is not None


def _cipher(link_key: str) -> AESGCM:
    """The cipher that hides the address in a link (a key of its own, derived from the
    link key): a link travels in mail, server logs and browser histories, and must not
    show whose it is."""
    key = hmac.new(bytes.fromhex(link_key), b"proof-link-address", hashlib.sha256).digest()
    return AESGCM(key)


def make_link_token(conn: Connection, email_norm: str, expires_at: int) -> str:
    """The token of a link for the person of ``email_norm`` (normalised), until
    ``expires_at``: the address encrypted, the expiry, and a signature of both."""
    link_key, ident = _keys(conn)
    digest = keyed_digest(ident, "email", email_norm)
    signature = _signature(link_key, digest, expires_at)
    nonce = secrets.token_bytes(12)
    hidden = nonce + _cipher(link_key).encrypt(nonce, email_norm.encode(), b"proof")
    return f"{token_text(hidden)}.{expires_at}.{signature}"


def proof_link(
    engine: Engine, email: str, *, days: int = LINK_DAYS, now: int | None = None
) -> str | None:
    """The token to send to ``email`` (normalised as everywhere in listguard) when the
    registry holds that address, else None; the same work is done either way. Raises
    ``InputError`` for what is not an email address (the form says so, as for any
    typing error)."""
    email_norm, _ = person_keys(None, email, None)
    assert email_norm is not None
    expires_at = (now if now is not None else now_ts()) + days * 86400
    with writing(engine) as conn:
        token = make_link_token(conn, email_norm, expires_at)
        held = _held(conn, email_norm, None)
    return token if held else None


def read_link_token(conn: Connection, token: str, now: int | None = None) -> Person | None:
    """The person a link names, or None when it was not made by this registry, was
    altered or has expired."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 1000 or not parts[1].isdigit():
        return None
    expires_at = int(parts[1])
    link_key = registry_secret(conn, LINK_SECRET, create=False)
    ident = identifier_secret(conn, create=False)
    if link_key is None or ident is None:
        return None
    try:
        hidden = token_bytes(parts[0])
        email_norm = _cipher(link_key).decrypt(hidden[:12], hidden[12:], b"proof").decode()
    except (ValueError, binascii.Error, InvalidTag):
        return None
    expected = _signature(link_key, keyed_digest(ident, "email", email_norm), expires_at)
    if not same(expected, parts[2]):
        return None
    if expires_at <= (now if now is not None else now_ts()):
        return None
    return Person(email=email_norm)


def _code_hash(link_key: str, person: str, code: str) -> str:
    return hmac.new(
        bytes.fromhex(link_key), f"code:{person}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def send_code(
    engine: Engine,
    phone: str,
    sender: SmsSender,
    *,
    now: int | None = None,
    body: str = CODE_TEXT,
) -> None:
    """Make a code for ``phone`` (normalised to E.164) and send it by SMS when the
    registry holds that number; stored either way, so that the answer and its time do
    not tell. ``body``: the text, ``{code}`` where the code goes (a rights request's
    confirmation says so). Raises ``InputError`` for what is not a phone number."""
    _, phone_e164 = person_keys(None, None, phone)
    assert phone_e164 is not None
    at = now if now is not None else now_ts()
    code = f"{secrets.randbelow(1_000_000):06d}"
    with writing(engine) as conn:
        link_key, ident = _keys(conn)
        person = keyed_digest(ident, "phone", phone_e164)
        conn.execute(
            text(
                "INSERT INTO proof_codes (person, code_hash, created_at, expires_at, attempts) "
                "VALUES (:p, :h, :t, :x, 0)"
            ),
            {"p": person, "h": _code_hash(link_key, person, code), "t": at, "x": at + CODE_SECONDS},
        )
        held = _held(conn, None, phone_e164)
    if held:
        sender.send(phone_e164, body.format(code=code))


def check_code(engine: Engine, phone: str, code: str, *, now: int | None = None) -> Person | None:
    """The person of ``phone`` when ``code`` is the latest code sent to it, unused,
    unexpired and within its attempts; else None. Each check counts as an attempt, and
    a code that matched cannot be used again."""
    try:
        _, phone_e164 = person_keys(None, None, phone)
    except InputError:
        return None
    assert phone_e164 is not None
    at = now if now is not None else now_ts()
    with writing(engine) as conn:
        link_key, ident = _keys(conn)
        person = keyed_digest(ident, "phone", phone_e164)
        row = conn.execute(
            text(
                "SELECT id, code_hash FROM proof_codes WHERE person = :p ORDER BY id DESC LIMIT 1"
            ),
            {"p": person},
        ).first()
        if row is None:
            return None
        # each condition is checked by the update itself: two checks at once cannot both
        # take the last attempt, nor both use the code
        counted = conn.execute(
            text(
                "UPDATE proof_codes SET attempts = attempts + 1 WHERE id = :i "
                "AND attempts < :most AND used_at IS NULL AND expires_at > :t"
            ),
            {"i": row.id, "most": CODE_ATTEMPTS, "t": at},
        )
        if counted.rowcount != 1:
            return None
        if not same(str(row.code_hash), _code_hash(link_key, person, code.strip())):
            return None
        used = conn.execute(
            text("UPDATE proof_codes SET used_at = :t WHERE id = :i AND used_at IS NULL"),
            {"i": row.id, "t": at},
        )
        matched = used.rowcount == 1
    return Person(phone=phone_e164) if matched else None


def forget_codes(engine: Engine, *, now: int | None = None) -> int:
    """Delete the codes expired for a day (nothing is kept longer than it serves)."""
    at = now if now is not None else now_ts()
    with writing(engine) as conn:
        done = conn.execute(
            text("DELETE FROM proof_codes WHERE expires_at < :t"), {"t": at - 86400}
        )
    return int(done.rowcount or 0)


__all__ = [
    "CODE_ATTEMPTS",
    "CODE_SECONDS",
    "LINK_DAYS",
    "Person",
    "SmsSender",
    "check_code",
    "forget_codes",
    "make_link_token",
    "proof_link",
    "read_link_token",
    "send_code",
]
