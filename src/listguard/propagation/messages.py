"""The messages as partners receive them: read from the outbox, one JSON body each."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, bindparam, text

from listguard.propagation.acks import ack_url
from listguard.propagation.outbox import message_key
from listguard.propagation.transports.base import Message
from listguard.timeutil import to_iso


def load_messages(
    conn: Connection, ids: list[int], ack_base: str = "", ack_secret: str | None = None
) -> dict[int, Message]:
    """The messages ``ids`` as they are sent, read in two set-based queries; with
    ``ack_base`` and ``ack_secret``, each carries its signed acknowledgement link."""
    if not ids:
        return {}
    heads = conn.execute(
        text(
            "SELECT o.id, o.partner_id, o.event_id, o.created_at, e.event, e.channel, e.at "
            "FROM outbox o "
            "JOIN events e ON e.id = o.event_id WHERE o.id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": ids},
    ).all()
    items: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for message_id, contact_ref, channel, coordinate, corrected in conn.execute(
        text(
            "SELECT message_id, contact_ref, channel, coordinate, corrected FROM outbox_items "
            "WHERE message_id IN :ids ORDER BY message_id, contact_ref, channel, coordinate"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": ids},
    ):
        item: dict[str, Any] = {
            "contact_ref": contact_ref,
            "channel": channel,
            "coordinate": coordinate,
        }
        if corrected:
            item["corrected"] = json.loads(corrected)
        items[message_id].append(item)
    out = {}
    for h in heads:
        key = message_key(int(h.id), int(h.event_id), int(h.created_at))
        payload: dict[str, Any] = {
            "type": h.event,
            "message_id": key,
            "occurred_at": to_iso(int(h.at)),
            "channel": h.channel,
            "contacts": items[int(h.id)],
        }
        if ack_base and ack_secret:
            payload["ack_url"] = ack_url(ack_base, ack_secret, key)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        out[int(h.id)] = Message(int(h.id), key, h.partner_id, body)
    return out


__all__ = ["load_messages"]
