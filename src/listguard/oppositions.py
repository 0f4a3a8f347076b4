"""Recording an opposition (one service function for every route).

The opposition is an event in the registry: it takes effect for every later
rental at once. In the same transaction, a message is queued for every
partner whose deliveries hold a covered coordinate (``propagation``), and the
opposition is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from listguard import audit
from listguard.db.engine import writing
from listguard.errors import InputError
from listguard.imports.events import CHANNEL_VALUES, VIAS, event_key
from listguard.normalise.email import normalise_email
from listguard.normalise.phone import normalise_phone
from listguard.propagation import enqueue
from listguard.timeutil import now_ts

# the contacts a person named by (contact id :c, email :e, number :p) covers
HOLDING = "contact_id = :c OR email_norm = :e OR phone_e164 = :p OR mobile_e164 = :p"

# the ledger rows of a person: delivered from their contacts (ids :ids), or a coordinate of
# theirs (:emails, :phones) delivered from a contact that had it, now or in a superseded
# version (a ledger coordinate always comes from the contact's own record)
_HAD = "\nUNION\n".join(
    f"SELECT contact_id FROM {table} WHERE {column} IN :{values}"
    for table in ("contacts", "contact_versions")
    for column, values in (
        ("email_norm", "emails"),
        ("phone_e164", "phones"),
        ("mobile_e164", "phones"),
    )
)
PERSON_LEDGER = (
    "(l.contact_id IN :ids OR (l.contact_id IN ("
    + _HAD
    + ") AND (l.coordinate IN :emails OR l.coordinate IN :phones)))"
)


@dataclass(frozen=True)
class Recorded:
    covered: int  # contacts of the base it covers now
    messages: int  # messages queued for partners holding a covered coordinate


def record_opposition(
    engine: Engine,
    *,
    channel: str,
    scope: str = "all",
    via: str = "api",
    contact_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    detail: str | None = None,
    at: int | None = None,
    retention_years: int = 3,
) -> Recorded:
    """Record an opposition and queue its messages to the partners, in one transaction."""
    if channel not in CHANNEL_VALUES:
        raise InputError(
            f"unknown channel {channel!r}: expected one of {', '.join(CHANNEL_VALUES)}"
        )
    if scope not in ("own", "partners", "all") and not (
        scope.startswith("partner:") and len(scope) > 8
    ):
        raise InputError(f"unknown scope {scope!r}: expected own, partners, all or partner:<id>")
    if via not in VIAS and not via.startswith("partner:"):
        raise InputError(f"unknown via {via!r}: expected one of {', '.join(VIAS)} or partner:<id>")
    email_norm, phone_e164 = person_keys(contact_id, email, phone)
    with writing(engine) as conn:
        event_id = record_event(
            conn,
            "opposition",
            channel=channel,
            scope=scope,
            via=via,
            keys=(contact_id, email_norm, phone_e164),
            detail=detail,
            at=at,
        )
        audit.append(
            conn,
            "opposition_recorded",
            contact_id or email_norm or phone_e164,
            {"event": event_id, "channel": channel, "scope": scope, "via": via},
        )
        messages = enqueue(conn, "e.id = :event_id", {"event_id": event_id}, retention_years)
        covered = conn.execute(
            text(f"SELECT COUNT(*) FROM contacts WHERE {HOLDING}"),
            {"c": contact_id, "e": email_norm, "p": phone_e164},
        ).scalar_one()
    return Recorded(int(covered), messages)


def person_keys(
    contact_id: str | None, email: str | None, phone: str | None
) -> tuple[str | None, str | None]:
    """(normalised email, E.164 number) naming a person given by contact id, email or
    phone; a contact id takes precedence. Refuses what cannot name anybody."""
    if contact_id is not None:
        return None, None
    if email is not None:
        email_norm, valid = normalise_email(email)
        if not valid:
            raise InputError(f"{email!r} is not a valid email address")
        return email_norm, None
    if phone is not None:
        phone_e164, _ = normalise_phone(phone)
        if phone_e164 is None:
            raise InputError(f"{phone!r} is not a valid phone number")
        return None, phone_e164
    raise InputError("name the person by contact id, email or phone")


def record_event(
    conn: Connection,
    event: str,
    *,
    channel: str,
    scope: str,
    via: str,
    keys: tuple[str | None, str | None, str | None],
    detail: str | None = None,
    at: int | None = None,
) -> int:
    """Record one event naming a person by (contact id, email, number); returns its id
    (the same event recorded twice is one event)."""
    contact_id, email_norm, phone_e164 = keys
    row = {
        "contact_id": contact_id,
        "email_norm": email_norm,
        "phone_e164": phone_e164,
        "event": event,
        "channel": channel,
        "scope": scope,
        "partner_id": scope[8:] if scope.startswith("partner:") else None,
        "at": at if at is not None else now_ts(),
        "via": via,
        "detail": detail,
    }
    key = event_key(row)
    conn.execute(_INSERT_EVENT, {**row, "event_key": key, "recorded_at": now_ts()})
    return int(conn.execute(_EVENT_ID, {"k": key}).scalar_one())


_INSERT_EVENT = text(
    "INSERT INTO events (contact_id, email_norm, phone_e164, event, channel, scope, partner_id, "
    "at, via, detail, event_key, recorded_at) VALUES (:contact_id, :email_norm, :phone_e164, "
    ":event, :channel, :scope, :partner_id, :at, :via, :detail, :event_key, :recorded_at) "
    "ON CONFLICT (event_key) DO NOTHING"
)
_EVENT_ID = text("SELECT id FROM events WHERE event_key = :k")
