"""Acknowledgements: the partner says it applied a message.

Each message carries a signed link (``ack_url``, when the owner's site has a public
address); the partner follows it (a page with a button) or posts to it, or
acknowledges through the API. An acknowledged erasure's coordinates are then
forgotten from every message that kept them.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Connection, Engine, text

from listguard import audit
from listguard.constant_time import same
from listguard.db.keys import registry_secret
from listguard.propagation.outbox import message_key
from listguard.storage.engine import writing
from listguard.timeutil import now_ts

ACK_SECRET = "acks"  # the registry key acknowledgement links are signed with
ACK_PATH = "/accuse-reception"


def ack_signature(secret: str, key: str) -> str:
    """What proves an acknowledgement link was made by the registry for message ``key``."""
    return hmac.new(secret.encode(), f"ack:{key}".encode(), hashlib.sha256).hexdigest()[:32]


def ack_url(base: str, secret: str, key: str) -> str:
    """The link a partner follows (GET: a page with a button) or posts to (POST: done)
    to acknowledge message ``key``, without an API key."""
    return f"{base}{ACK_PATH}/{key}?s={ack_signature(secret, key)}"


def check_ack_signature(conn: Connection, key: str, signature: str) -> bool:
    secret = registry_secret(conn, ACK_SECRET, create=False)
    return secret is not None and same(ack_signature(secret, key), signature)


def acknowledge(
    engine: Engine, key: str, at: int | None = None, partner_id: str | None = None
) -> bool:
    """Record the partner's acknowledgement of the message ``key``; False if unknown (or,
    given ``partner_id``, addressed to another partner)."""
    try:
        message_id = int(key.split("-")[1])
    except (IndexError, ValueError):
        return False
    when = at if at is not None else now_ts()
    with writing(engine) as conn:
        row = conn.execute(
            text(
                "SELECT o.id, o.partner_id, o.status, o.event_id, o.created_at FROM outbox o "
                "WHERE o.id = :i"
            ),
            {"i": message_id},
        ).first()
        if row is None or not same(
            message_key(int(row.id), int(row.event_id), int(row.created_at)), key
        ):
            return False
        if partner_id is not None and row.partner_id != partner_id:
            return False
        if row.status != "acknowledged":
            conn.execute(
                text(
                    "UPDATE outbox SET status = 'acknowledged', acknowledged_at = :at WHERE id = :i"
                ),
                {"at": when, "i": message_id},
            )
            audit.append(conn, "message_acknowledged", row.partner_id, {"message": key}, when)
            # an erased person's coordinates were kept only for the partner to act on:
            # once it has, no message to it keeps them (nor an earlier opposition's)
            conn.execute(
                text(
                    "UPDATE outbox_items SET coordinate = 'erased', corrected = NULL "
                    "WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = :e "
                    "AND e.event = 'erasure') AND EXISTS (SELECT 1 FROM outbox_items a "
                    "WHERE a.message_id = :i AND a.delivery_id = outbox_items.delivery_id "
                    "AND a.contact_ref = outbox_items.contact_ref)"
                ),
                {"i": message_id, "e": row.event_id},
            )
    return True


__all__ = [
    "ACK_PATH",
    "ACK_SECRET",
    "ack_signature",
    "ack_url",
    "acknowledge",
    "check_ack_signature",
]
