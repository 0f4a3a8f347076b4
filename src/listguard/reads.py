"""What the back office and the API read from the registry, one query each: the
partners and their state, the deliveries (a partner's own, or all), the oppositions
recorded and the messages queued for a partner, the contact behind a partner's
reference, the audit log's last entries.

Nothing here writes, and nothing knows of HTTP: the pages and the API routes shape
what they read for their readers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, text

from listguard.domain.partner_rows import KNOWN
from listguard.propagation.messages import load_messages

PartnerState = Literal["listed", "future", "delisted"]


def partners(engine: Engine, now: int) -> list[dict[str, Any]]:
    """Every partner, by id: the columns of the partners format (the listing dates as
    instants), its ``version``, and its ``state`` at ``now``."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(KNOWN)}, version FROM partners ORDER BY partner_id")
        ).mappings()
        out = []
        for r in rows:
            listed = r["listed_from"] is not None and r["listed_from"] <= now
            gone = r["listed_until"] is not None and r["listed_until"] <= now
            state: PartnerState = "delisted" if gone else "listed" if listed else "future"
            out.append({**r, "state": state})
    return out


@dataclass(frozen=True)
class Delivery:
    """A delivery (a rental or an enrichment) as the registry holds it."""

    id: int
    kind: Literal["rental", "enrichment"]
    partner_id: str
    name: str  # the partner's
    created_at: int
    as_of: str
    channels: str  # "postal|email"
    contacts_delivered: int
    packs: str
    out_dir: str
    order_text: str
    partner_list_version: int


def deliveries(
    engine: Engine,
    *,
    partner_id: str | None = None,
    delivery_id: int | None = None,
    newest_first: bool = True,
    limit: int | None = None,
) -> list[Delivery]:
    """The deliveries, or one (``delivery_id``), of one partner or of all."""
    where = [
        *(["d.partner_id = :p"] if partner_id is not None else []),
        *(["d.id = :d"] if delivery_id is not None else []),
    ]
    sql = (
        "SELECT d.id, d.kind, d.partner_id, p.name, d.created_at, d.as_of, d.channels, "
        "d.contacts_delivered, d.packs, d.out_dir, d.order_text, d.partner_list_version "
        "FROM deliveries d JOIN partners p ON p.partner_id = d.partner_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + (" ORDER BY d.id DESC" if newest_first else " ORDER BY d.id")
        + (" LIMIT :n" if limit is not None else "")
    )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), {"p": partner_id, "d": delivery_id, "n": limit}).all()
    return [
        Delivery(
            id=int(r.id),
            kind=r.kind,
            partner_id=str(r.partner_id),
            name=str(r.name),
            created_at=int(r.created_at),
            as_of=str(r.as_of),
            channels=str(r.channels),
            contacts_delivered=int(r.contacts_delivered),
            packs=str(r.packs),
            out_dir=str(r.out_dir),
            order_text=str(r.order_text),
            partner_list_version=int(r.partner_list_version),
        )
        for r in rows
    ]


def delivery_ledger(engine: Engine, delivery_id: int) -> list[dict[str, Any]]:
    """Per channel of a delivery: the coordinates delivered and the persons they are."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT channel, count(*) AS n, count(DISTINCT contact_ref) AS persons "
                "FROM ledger WHERE delivery_id = :d GROUP BY channel ORDER BY channel"
            ),
            {"d": delivery_id},
        ).all()
    return [{"channel": r.channel, "n": int(r.n), "persons": int(r.persons)} for r in rows]


def delivery_of(contact_ref: str) -> int:
    """The delivery id of a reference ``D<delivery>-<n>`` (0 for anything else)."""
    head = contact_ref[1:].split("-", 1)[0]
    digits = head.isascii() and head.isdigit() and len(head) < 10
    return int(head) if contact_ref.startswith("D") and digits else 0


def contact_of_ref(engine: Engine, partner_id: str, contact_ref: str) -> str | None:
    """The contact a partner's reference names, in that partner's own deliveries."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                # the delivery named by the reference's prefix, its own rows only
                "SELECT l.contact_id FROM deliveries d JOIN ledger l "
                "ON l.id BETWEEN d.ledger_first_id AND d.ledger_last_id "
                "WHERE d.id = :d AND d.partner_id = :p AND l.contact_ref = :r "
                "AND l.contact_id <> 'erased'"
            ),
            {"d": delivery_of(contact_ref), "p": partner_id, "r": contact_ref},
        ).scalar()
    return None if found is None else str(found)


def opposition_events(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    """The last oppositions, erasures and rectifications, newest first, each with its
    messages to partners: how many, acknowledged, failed."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.id, e.at, e.event, e.channel, e.scope, e.via, "
                "count(o.id) AS messages, "
                "sum(CASE WHEN o.status = 'acknowledged' THEN 1 ELSE 0 END) AS acknowledged, "
                "sum(CASE WHEN o.status = 'failed' THEN 1 ELSE 0 END) AS failed "
                "FROM events e LEFT JOIN outbox o ON o.event_id = e.id "
                "WHERE e.event IN ('opposition', 'erasure', 'rectification') "
                "GROUP BY e.id, e.at, e.event, e.channel, e.scope, e.via "
                "ORDER BY e.id DESC LIMIT :n"
            ),
            {"n": limit},
        ).all()
    return [
        {
            "id": r.id,
            "at": int(r.at),
            "event": r.event,
            "channel": r.channel,
            "scope": r.scope,
            "via": r.via,
            "messages": int(r.messages),
            "acknowledged": int(r.acknowledged or 0),
            "failed": int(r.failed or 0),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class PartnerMessage:
    """A message queued for a partner (an opposition, an erasure, a rectification)."""

    key: str
    status: str
    queued_at: int
    content: dict[str, Any]


def partner_messages(
    engine: Engine, partner_id: str, *, pending: bool = True, limit: int = 500
) -> list[PartnerMessage]:
    """The messages queued for a partner, oldest first; ``pending``: those not
    acknowledged yet."""
    where = "partner_id = :p" + (" AND status <> 'acknowledged'" if pending else "")
    with engine.connect() as conn:
        heads = conn.execute(
            text(f"SELECT id, status, created_at FROM outbox WHERE {where} ORDER BY id LIMIT :n"),
            {"p": partner_id, "n": limit},
        ).all()
        bodies = load_messages(conn, [int(h.id) for h in heads])
    return [
        PartnerMessage(
            key=bodies[int(h.id)].key,
            status=str(h.status),
            queued_at=int(h.created_at),
            content=json.loads(bodies[int(h.id)].body),
        )
        for h in heads
    ]


def queued_for(engine: Engine, event: int, partner_id: str) -> tuple[int, int]:
    """(coordinates, messages) of the event queued for ``partner_id``."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(i.id), count(DISTINCT o.id) FROM outbox o "
                "JOIN outbox_items i ON i.message_id = o.id "
                "WHERE o.event_id = :e AND o.partner_id = :p"
            ),
            {"e": event, "p": partner_id},
        ).one()
    return int(row[0]), int(row[1])


def access_requests(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The last access requests the audit log holds, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT at, subject FROM audit_log WHERE action = 'access_request' "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"n": limit},
        ).all()
    return [{"at": int(r.at), "subject": r.subject or ""} for r in rows]


def audit_entries(engine: Engine, limit: int = 200) -> list[dict[str, Any]]:
    """The audit log's last entries, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, at, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT :n"),
            {"n": limit},
        ).all()
    return [
        {
            "id": r.id,
            "at": int(r.at),
            "action": r.action,
            "subject": r.subject or "",
            "detail": r.detail,
        }
        for r in rows
    ]


__all__ = [
    "Delivery",
    "PartnerMessage",
    "access_requests",
    "audit_entries",
    "contact_of_ref",
    "deliveries",
    "delivery_ledger",
    "delivery_of",
    "opposition_events",
    "partner_messages",
    "partners",
    "queued_for",
]
