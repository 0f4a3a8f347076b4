"""The signature of a webhook's body, the partner's secret it is made with, and the
partner side's check of it.

The header ``Listguard-Signature`` carries ``t=<unix seconds>,v1=<HMAC-SHA256 of
"t." + body>`` under the partner's secret; a signature older (or newer) than
``REPLAY_WINDOW`` seconds is refused, so that a recorded request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Connection, select

from listguard.constant_time import same
from listguard.db import schema
from listguard.errors import InputError
from listguard.timeutil import now_ts

SIGNATURE_HEADER = "Listguard-Signature"
REPLAY_WINDOW = 300  # seconds a signature stays acceptable


def sign(secret: str, body: bytes, at: int) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<HMAC-SHA256 of "t." + body>``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, now: int) -> bool:
    """The partner side's check: the signature matches and is within the replay window."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - at) > REPLAY_WINDOW:
        return False
    return same(sign(secret, body, at), header)


def partner_secret(conn: Connection, partner_id: str) -> str:
    """The partner's webhook secret, made on first use."""
    secret = conn.execute(
        select(schema.partner_secrets.c.secret).where(
            schema.partner_secrets.c.partner_id == partner_id
        )
    ).scalar_one_or_none()
    if secret is None:
        if (
            conn.execute(
                select(schema.partners.c.partner_id).where(
                    schema.partners.c.partner_id == partner_id
                )
            ).first()
            is None
        ):
            raise InputError(f"unknown partner {partner_id!r}")
        secret = secrets.token_hex(32)
        conn.execute(
            schema.partner_secrets.insert().values(
                partner_id=partner_id, secret=secret, created_at=now_ts()
            )
        )
    return str(secret)


__all__ = ["REPLAY_WINDOW", "SIGNATURE_HEADER", "partner_secret", "sign", "verify_signature"]
