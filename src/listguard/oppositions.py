"""Recording an opposition (one service function for every route).

The opposition is an event in the registry: it takes effect for every later
rental at once. In the same transaction, a message is queued for every
partner whose deliveries hold a covered coordinate (``propagation``), and the
opposition is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, text

from listguard import audit
from listguard.domain.contact_rows import normalise_row
from listguard.domain.coverage import PERSON_CONTACTS
from listguard.domain.events import event_key
from listguard.domain.retention import DEFAULT_RETENTION, Retention
from listguard.domain.scopes import parse_scope, parse_via, partner_of_scope
from listguard.domain.vocabulary import EVENT_CHANNELS
from listguard.errors import InputError
from listguard.identifiers import subjects
from listguard.normalise.email import normalise_email
from listguard.normalise.phone import normalise_phone
from listguard.normalise.text import text_key
from listguard.propagation.outbox import enqueue, enqueue_per_event
from listguard.storage.engine import writing
from listguard.timeutil import now_ts

# how many contacts of the base a person named by (:c, :e, :p) covers now
_HOLDING_COUNT = text(f"SELECT COUNT(*) FROM contacts WHERE {PERSON_CONTACTS}")


@dataclass(frozen=True)
class Recorded:
    covered: int  # contacts of the base it covers now
    messages: int  # messages queued for partners holding a covered coordinate
    event: int = 0  # the event recorded (or the same opposition's, recorded before)


@dataclass(frozen=True)
class OppositionRequest:
    """One opposition to record: the person by contact id, email or phone."""

    channel: str
    scope: str = "all"
    via: str = "api"
    contact_id: str | None = None
    email: str | None = None
    phone: str | None = None
    detail: str | None = None
    at: int | None = None


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
    retention: Retention = DEFAULT_RETENTION,
) -> Recorded:
    """Record an opposition and queue its messages to the partners, in one transaction."""
    asked = OppositionRequest(channel, scope, via, contact_id, email, phone, detail, at)
    done = record_oppositions(engine, [asked], retention)[0]
    if isinstance(done, InputError):
        raise done
    return done


def _keys_of(r: OppositionRequest) -> tuple[str | None, str | None]:
    """The request checked: (normalised email, E.164 number), or ``InputError``."""
    if r.channel not in EVENT_CHANNELS:
        raise InputError(
            f"unknown channel {r.channel!r}: expected one of {', '.join(EVENT_CHANNELS)}"
        )
    parse_scope(r.scope)
    parse_via(r.via)
    return person_keys(r.contact_id, r.email, r.phone)


def record_oppositions(
    engine: Engine,
    requests: Sequence[OppositionRequest],
    retention: Retention = DEFAULT_RETENTION,
) -> list[Recorded | InputError]:
    """Record several oppositions and queue their messages in one transaction (a group
    commit: the write lock and the commit are paid once); a request that names nobody
    valid gets its ``InputError`` alone. A failure of the registry fails them all."""
    results: list[Recorded | InputError | None] = [None] * len(requests)
    keys: dict[int, tuple[str | None, str | None]] = {}
    for i, r in enumerate(requests):
        try:
            keys[i] = _keys_of(r)
        except InputError as exc:
            results[i] = exc
    if keys:
        with writing(engine) as conn:
            events: dict[int, int] = {}  # request -> its event
            for i, (email_norm, phone_e164) in keys.items():
                r = requests[i]
                events[i] = record_event(
                    conn,
                    "opposition",
                    channel=r.channel,
                    scope=r.scope,
                    via=r.via,
                    keys=(r.contact_id, email_norm, phone_e164),
                    detail=r.detail,
                    at=r.at,
                )
            subject = subjects(conn)  # the audit log names the person by keyed digest
            audit.append_many(
                conn,
                [
                    (
                        "opposition_recorded",
                        subject(requests[i].contact_id, email_norm, phone_e164),
                        {
                            "event": events[i],
                            "channel": requests[i].channel,
                            "scope": requests[i].scope,
                            "via": requests[i].via,
                        },
                        None,
                    )
                    for i, (email_norm, phone_e164) in keys.items()
                ],
            )
            # the messages of the whole batch in one pass: by a range when its events are
            # consecutive (new ones; the statement is then the same for every batch), by
            # their list when an opposition recorded before gave its old event
            ids = sorted(set(events.values()))
            if ids[-1] - ids[0] + 1 == len(ids):
                where = "e.id >= :first_event AND e.id <= :last_event"
                bounds = {"first_event": ids[0], "last_event": ids[-1]}
            else:  # integers of the registry's own ids
                where, bounds = f"e.id IN ({', '.join(str(int(i)) for i in ids)})", {}
            messages = enqueue_per_event(conn, where, bounds, retention)
            for i, (email_norm, phone_e164) in keys.items():
                covered = conn.execute(
                    _HOLDING_COUNT,
                    {"c": requests[i].contact_id, "e": email_norm, "p": phone_e164},
                ).scalar_one()
                results[i] = Recorded(int(covered), messages.get(events[i], 0), events[i])
    return [r if r is not None else InputError("not recorded") for r in results]


@dataclass(frozen=True)
class PostalAddress:
    """A person named by name and postal address (an opposition received by letter, or
    given on the form by someone the owner writes to)."""

    last_name: str
    address_line4: str  # number and street
    postal_code: str
    city: str
    first_name: str = ""
    address_line5: str = ""  # locality, PO box


def _name_keys(values: list[str | None]) -> list[str]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return [k or "" for k in frame.select(text_key("v"))["v"].to_list()]


def check_postal_address(who: PostalAddress) -> str:
    """The address key of ``who`` (normalised and keyed as an import does), or
    ``InputError`` when the name or address cannot name anybody."""
    row = normalise_row(
        {
            "contact_id": "-",
            "collected_at": "2000-01-01",
            "last_name": who.last_name,
            "first_name": who.first_name,
            "address_line4": who.address_line4,
            "address_line5": who.address_line5,
            "postal_code": who.postal_code,
            "city": who.city,
        }
    )
    if not who.last_name.strip() or row["address_status"] != "valid" or not row["address_key"]:
        raise InputError("give the last name, the street (or locality), the postal code and city")
    return str(row["address_key"])


def record_postal_opposition(
    engine: Engine,
    who: PostalAddress,
    *,
    channel: str = "postal",
    scope: str = "all",
    via: str = "web_form",
    retention: Retention = DEFAULT_RETENTION,
) -> Recorded:
    """An opposition from a person named by name and postal address, in one transaction.

    The address is normalised and keyed as an import keys it; every contact at that
    address whose last name is the same (and first name, when both are known) is the
    person: an opposition event is recorded for each, and forwarded to the partners
    holding them. When nobody matches, the address goes on the suppression list
    ``opposition`` (postal only), so that a later import of the person is not rented
    by post; it covers the address, the only thing the person gave.
    """
    if channel not in EVENT_CHANNELS:
        raise InputError(f"unknown channel {channel!r}")
    key = check_postal_address(who)
    with writing(engine) as conn:
        here = conn.execute(
            text("SELECT contact_id, first_name, last_name FROM contacts WHERE address_key = :k"),
            {"k": key},
        ).all()
        # a handful of contacts at one address, compared on their keyed names
        last = _name_keys([who.last_name, *[h.last_name for h in here]])
        first = _name_keys([who.first_name, *[h.first_name for h in here]])
        matched = [
            str(h.contact_id)
            for h, ln, fn in zip(here, last[1:], first[1:], strict=True)
            if ln == last[0] and (not first[0] or not fn or fn == first[0])
        ]
        messages = 0
        subject = subjects(conn)
        for contact_id in matched:
            event_id = record_event(
                conn,
                "opposition",
                channel=channel,
                scope=scope,
                via=via,
                keys=(contact_id, None, None),
            )
            audit.append(
                conn,
                "opposition_recorded",
                subject(contact_id),
                {
                    "event": event_id,
                    "channel": channel,
                    "scope": scope,
                    "via": via,
                    "by": "address",
                },
            )
            messages += enqueue(conn, "e.id = :event_id", {"event_id": event_id}, retention)
        if not matched and channel in ("postal", "all"):
            exists = conn.execute(
                text(
                    "SELECT 1 FROM suppressions WHERE list = 'opposition' AND kind = 'address' "
                    "AND value = :k"
                ),
                {"k": key},
            ).first()
            if exists is None:
                conn.execute(
                    text(
                        "INSERT INTO suppressions (list, partner_id, kind, value, added_at) "
                        "VALUES ('opposition', NULL, 'address', :k, :t)"
                    ),
                    {"k": key, "t": now_ts()},
                )
            audit.append(conn, "opposition_recorded", None, {"suppressed": "address", "via": via})
    return Recorded(len(matched), messages)


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
            raise InputError(
                f"{email!r} is not a valid email address",
                fr=f"{email!r} n'est pas une adresse email valide",
            )
        return email_norm, None
    if phone is not None:
        phone_e164, _ = normalise_phone(phone)
        if phone_e164 is None:
            raise InputError(
                f"{phone!r} is not a valid phone number",
                fr=f"{phone!r} n'est pas un numéro de téléphone valide",
            )
        return None, phone_e164
    raise InputError(
        "name the person by contact id, email or phone",
        fr="désignez la personne par son identifiant de contact, son email ou son téléphone",
    )


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
        "partner_id": partner_of_scope(scope),
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
