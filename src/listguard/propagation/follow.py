"""Following the oppositions to the partners, for the back office: per partner, how
many of its messages are pending, sent, acknowledged, failed and overdue, and how it
is reached; per opposition (or erasure, or rectification), each partner's message and
why it waits; and the events of one person, found by contact id, email or phone
number normalised as on import and looked up by the registry's own keys (indexed),
never by scanning.

Overdue: not acknowledged ``OVERDUE_AFTER`` seconds after it was queued, as
``listguard oppositions status`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, text

from listguard.oppositions import person_keys
from listguard.propagation.status import OVERDUE_AFTER

PersonKind = Literal["contact_id", "email", "phone"]
PERSON_KINDS: tuple[PersonKind, ...] = ("email", "phone", "contact_id")
FILTERS = ("pending", "sent", "acknowledged", "failed", "overdue")
# how a partner is reached: a webhook; an email digest; an email address given but no
# SMTP server configured; nothing (it must pull its messages through the API)
Reach = Literal["webhook", "email", "email_unsent", "api"]


def reach_of(notify_url: str | None, notify_email: str | None, smtp: bool) -> Reach:
    """How the worker reaches a partner (``transports.routing`` decides the same way;
    a file drop, when the worker is started with one, serves the last two as well)."""
    if notify_url:
        return "webhook"
    if notify_email:
        return "email" if smtp else "email_unsent"
    return "api"


@dataclass(frozen=True)
class PartnerLine:
    """One partner's messages: how many in each state, overdue, and how it is reached."""

    partner_id: str
    name: str
    reach: Reach
    pending: int
    sent: int
    acknowledged: int
    failed: int
    overdue: int
    oldest_unacknowledged: int | None

    @property
    def to_send(self) -> int:
        """Not sent yet: pending, or failed for good (the owner must still tell it)."""
        return self.pending + self.failed


_COUNTS = (
    "sum(CASE WHEN o.status = 'pending' THEN 1 ELSE 0 END) AS pending, "
    "sum(CASE WHEN o.status = 'sent' THEN 1 ELSE 0 END) AS sent, "
    "sum(CASE WHEN o.status = 'acknowledged' THEN 1 ELSE 0 END) AS acknowledged, "
    "sum(CASE WHEN o.status = 'failed' THEN 1 ELSE 0 END) AS failed, "
    "sum(CASE WHEN o.status <> 'acknowledged' AND o.created_at < :late THEN 1 ELSE 0 END) "
    "AS overdue"
)


def partner_lines(
    engine: Engine,
    now: int,
    *,
    smtp: bool,
    partner_id: str | None = None,
    overdue_after: int = OVERDUE_AFTER,
) -> list[PartnerLine]:
    """Every partner that has messages (or ``partner_id`` alone), by id."""
    only = "WHERE o.partner_id = :p " if partner_id is not None else ""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT o.partner_id, p.name, p.notify_url, p.notify_email, {_COUNTS}, "
                "min(CASE WHEN o.status <> 'acknowledged' THEN o.created_at END) AS oldest "
                f"FROM outbox o JOIN partners p ON p.partner_id = o.partner_id {only}"
                "GROUP BY o.partner_id, p.name, p.notify_url, p.notify_email ORDER BY o.partner_id"
            ),
            {"late": now - overdue_after, "p": partner_id},
        ).all()
    return [
        PartnerLine(
            r.partner_id,
            r.name,
            reach_of(r.notify_url, r.notify_email, smtp),
            int(r.pending or 0),
            int(r.sent or 0),
            int(r.acknowledged or 0),
            int(r.failed or 0),
            int(r.overdue or 0),
            int(r.oldest) if r.oldest is not None else None,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class MessageLine:
    """One message to a partner, and why it stands where it does (``why``: a code and
    its values, worded by the page)."""

    id: int
    event_id: int
    event: str
    partner_id: str
    status: str
    attempts: int
    queued_at: int
    next_attempt_at: int | None
    sent_at: int | None
    acknowledged_at: int | None
    transport: str | None
    last_error: str | None
    coordinates: int  # the delivered coordinates it names
    overdue: bool
    why: str
    reach: Reach


def why(status: str, reach: Reach, attempts: int, due_at: int | None, now: int) -> str:
    """Why a message stands where it does: ``acknowledged``; ``failed`` (given up after
    the last attempt); ``sent`` (waiting for the partner's acknowledgement);
    ``no_endpoint`` (pending: the partner gave no address, it must pull through the
    API); ``no_smtp`` (pending: it gave an email address but no SMTP server is
    configured); ``retrying`` (an attempt failed, another is due); ``waiting`` (behind
    an earlier message of the partner, or the next email digest); ``due`` (the worker
    sends it at its next round)."""
    if status in ("acknowledged", "failed", "sent"):
        return status
    if reach == "api":
        return "no_endpoint"
    if reach == "email_unsent":
        return "no_smtp"
    if attempts:
        return "retrying"
    if due_at is not None and due_at > now:
        return "waiting"
    return "due"


def messages(
    engine: Engine,
    now: int,
    *,
    smtp: bool,
    event_id: int | None = None,
    partner_id: str | None = None,
    state: str | None = None,
    limit: int = 200,
    overdue_after: int = OVERDUE_AFTER,
) -> list[MessageLine]:
    """The messages of one event (by partner) or of one partner (newest first, of one
    ``state`` among ``FILTERS`` if given), with the number of coordinates each names."""
    where, order = [], "o.id DESC"
    params: dict[str, Any] = {"late": now - overdue_after, "n": limit}
    if event_id is not None:
        where.append("o.event_id = :e")
        params["e"] = event_id
        order = "o.partner_id, o.id"
    if partner_id is not None:
        where.append("o.partner_id = :p")
        params["p"] = partner_id
    if state == "overdue":
        where.append("o.status <> 'acknowledged' AND o.created_at < :late")
    elif state is not None:
        where.append("o.status = :s")
        params["s"] = state
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT o.id, o.event_id, e.event, o.partner_id, o.status, o.attempts, "
                "o.created_at, o.next_attempt_at, o.sent_at, o.acknowledged_at, o.transport, "
                "o.last_error, p.notify_url, p.notify_email, "
                "(SELECT count(*) FROM outbox_items i WHERE i.message_id = o.id) AS coordinates "
                "FROM outbox o JOIN events e ON e.id = o.event_id "
                "JOIN partners p ON p.partner_id = o.partner_id "
                f"WHERE {' AND '.join(where) or '1 = 1'} ORDER BY {order} LIMIT :n"
            ),
            params,
        ).all()
    found = []
    for r in rows:
        reach = reach_of(r.notify_url, r.notify_email, smtp)
        nxt = int(r.next_attempt_at) if r.next_attempt_at is not None else None
        found.append(
            MessageLine(
                int(r.id),
                int(r.event_id),
                r.event,
                r.partner_id,
                r.status,
                int(r.attempts),
                int(r.created_at),
                nxt,
                int(r.sent_at) if r.sent_at is not None else None,
                int(r.acknowledged_at) if r.acknowledged_at is not None else None,
                r.transport,
                r.last_error,
                int(r.coordinates),
                r.status != "acknowledged" and int(r.created_at) < now - overdue_after,
                why(r.status, reach, int(r.attempts), nxt, now),
                reach,
            )
        )
    return found


@dataclass(frozen=True)
class EventLine:
    """An opposition, erasure or rectification, and its messages in each state. The
    person is told by the kind of identifier that names them, never by its value."""

    id: int
    at: int
    event: str
    channel: str
    scope: str
    via: str | None
    named_by: PersonKind
    messages: int
    pending: int
    sent: int
    acknowledged: int
    failed: int
    overdue: int


# the contacts of the person named by a key (and those that had it before, as
# delivered coordinates are followed); then every event naming the key itself, one of
# these contacts, or a coordinate they hold: each branch an indexed look-up
_CONTACTS_OF: dict[PersonKind, str] = {
    "email": (
        "SELECT contact_id FROM contacts WHERE email_norm = :e "
        "UNION SELECT contact_id FROM contact_versions WHERE email_norm = :e"
    ),
    "phone": (
        "SELECT contact_id FROM contacts WHERE phone_e164 = :p "
        "UNION SELECT contact_id FROM contacts WHERE mobile_e164 = :p "
        "UNION SELECT contact_id FROM contact_versions WHERE phone_e164 = :p "
        "UNION SELECT contact_id FROM contact_versions WHERE mobile_e164 = :p"
    ),
    "contact_id": "SELECT contact_id FROM contacts WHERE contact_id = :c",
}


def _of_person(kind: PersonKind) -> str:
    """SQL: the ids of the events concerning the person named by ``kind`` (parameters
    ``:c``, ``:e``, ``:p``: the key, normalised, the others null)."""
    ids = _CONTACTS_OF[kind]
    held = f"SELECT {{}} FROM contacts WHERE contact_id IN ({ids})"
    return (
        "SELECT id FROM events WHERE contact_id = :c "
        "UNION SELECT id FROM events WHERE email_norm = :e "
        "UNION SELECT id FROM events WHERE phone_e164 = :p "
        f"UNION SELECT id FROM events WHERE contact_id IN ({ids}) "
        f"UNION SELECT id FROM events WHERE email_norm IN ({held.format('email_norm')}) "
        f"UNION SELECT id FROM events WHERE phone_e164 IN ({held.format('phone_e164')} "
        f"UNION {held.format('mobile_e164')})"
    )


def events(
    engine: Engine,
    now: int,
    *,
    person: tuple[PersonKind, str] | None = None,
    event_id: int | None = None,
    limit: int = 100,
    overdue_after: int = OVERDUE_AFTER,
) -> list[EventLine]:
    """The last oppositions, erasures and rectifications, newest first, with their
    messages in each state: all of them, those of one ``person`` (kind, value as
    typed: ``InputError`` when it names nobody valid; the events naming that key, the
    contacts holding it, or a coordinate these contacts hold), or the event
    ``event_id``."""
    params: dict[str, Any] = {"late": now - overdue_after, "n": limit}
    only = ""
    if person is not None:
        kind, value = person
        value = value.strip()
        email, phone = person_keys(
            value if kind == "contact_id" else None,
            value if kind == "email" else None,
            value if kind == "phone" else None,
        )
        params.update(c=value, e=email, p=phone)
        only = f"AND e.id IN ({_of_person(kind)}) "
    elif event_id is not None:
        params["id"] = event_id
        only = "AND e.id = :id "
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.id, e.at, e.event, e.channel, e.scope, e.via, e.contact_id, "
                f"e.email_norm, count(o.id) AS messages, {_COUNTS} "
                "FROM events e LEFT JOIN outbox o ON o.event_id = e.id "
                f"WHERE e.event IN ('opposition', 'erasure', 'rectification') {only}"
                "GROUP BY e.id, e.at, e.event, e.channel, e.scope, e.via, e.contact_id, "
                "e.email_norm ORDER BY e.id DESC LIMIT :n"
            ),
            params,
        ).all()
    return [
        EventLine(
            int(r.id),
            int(r.at),
            r.event,
            r.channel,
            r.scope,
            r.via,
            "contact_id" if r.contact_id else "email" if r.email_norm else "phone",
            int(r.messages),
            int(r.pending or 0),
            int(r.sent or 0),
            int(r.acknowledged or 0),
            int(r.failed or 0),
            int(r.overdue or 0),
        )
        for r in rows
    ]


__all__ = [
    "FILTERS",
    "OVERDUE_AFTER",
    "PERSON_KINDS",
    "EventLine",
    "MessageLine",
    "PartnerLine",
    "PersonKind",
    "events",
    "messages",
    "partner_lines",
    "reach_of",
    "why",
]
