"""Which contacts, and which delivered coordinates, an event covers: one definition.

An event names a person by contact id, or (without one) by email or phone number; it
covers every contact of the base holding that identifier, now or later, and a
number covers a contact's landline as its mobile. What a partner must be told of is
what it received of those contacts within the retention period (``:since``, from
``domain.retention``), and also a coordinate delivered before the contact changed it:
a superseded version of the contact that had it still names the contact.

The statements are plain SQL that SQLite, PostgreSQL and DuckDB read alike: the
forwarding of oppositions (the outbox), the person's rights (access, erasure) and
the opposition service build their queries here.
"""

from __future__ import annotations

import functools

from listguard.domain.vocabulary import CHANNELS, PROPAGATED

# how an event ``e`` names a contact ``c``: (join condition, what the event must lack)
NAMED_BY = (
    ("c.contact_id = e.contact_id", ""),
    ("c.email_norm = e.email_norm", " AND e.contact_id IS NULL"),
    ("c.phone_e164 = e.phone_e164", " AND e.contact_id IS NULL"),
    ("c.mobile_e164 = e.phone_e164", " AND e.contact_id IS NULL"),
)
# the identifiers a superseded version kept: (its column, the event's)
_SUPERSEDED_BY = (
    ("email_norm", "e.email_norm"),
    ("phone_e164", "e.phone_e164"),
    ("mobile_e164", "e.phone_e164"),
)
_SUPERSEDED_ON = "l.contact_id = x.contact_id AND l.coordinate = x.v"

# the contacts a person named by (contact id :c, email :e, number :p) covers, on
# ``contacts`` (one person, not an event: the rights and the opposition service)
PERSON_CONTACTS = "contact_id = :c OR email_norm = :e OR phone_e164 = :p OR mobile_e164 = :p"

# the ledger rows (``l``) of a person: delivered from their contacts (ids :ids), or a
# coordinate of theirs (:emails, :phones) delivered from a contact that had it, now or in
# a superseded version (a ledger coordinate always comes from the contact's own record)
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


def forwarded_events(events_where: str) -> str:
    """SQL condition on ``events e``: the events of ``events_where`` that partners are
    told of (oppositions, erasures, rectifications not scoped to the owner alone)."""
    kinds = ", ".join(f"'{k}'" for k in PROPAGATED)
    return f"e.event IN ({kinds}) AND e.scope <> 'own' AND ({events_where})"


# the same, for a count of events per contact: a person is named by contact id, else by
# email, else by number (an event carries one), and a contact whose landline and mobile
# are the same number is covered once
_RESOLVED_BY = (
    ("c.contact_id = e.contact_id", ""),
    ("c.email_norm = e.email_norm", " AND e.contact_id IS NULL AND e.email_norm IS NOT NULL"),
    ("c.phone_e164 = e.phone_e164", " AND e.contact_id IS NULL AND e.email_norm IS NULL"),
    (
        "c.mobile_e164 = e.phone_e164",
        " AND e.contact_id IS NULL AND e.email_norm IS NULL"
        " AND (c.phone_e164 IS NULL OR c.phone_e164 <> c.mobile_e164)",
    ),
)


def resolved_events_sql(columns: str, where: str = "TRUE", contact: str = "c.contact_id") -> str:
    """SQL: each event of ``where`` (a condition on ``events e``) once for every contact
    of the base it covers, as ``contact`` (a column of ``contacts c``) and ``columns``
    (of ``e``): what the rules engine decides from, and what the expiring consents are
    read from. No row is counted twice (``UNION ALL`` of disjoint parts)."""
    return "\nUNION ALL\n".join(
        f"SELECT {contact}, {columns} FROM events e JOIN contacts c ON {on} WHERE ({where}){extra}"
        for on, extra in _RESOLVED_BY
    )


def covered_contacts_sql(selected: str) -> str:
    """SQL: (event_id, contact_id) for each contact of the base that an event of
    ``selected`` (a condition on ``events e``) covers, by id, email or number."""
    return "\nUNION\n".join(
        f"SELECT e.id AS event_id, c.contact_id FROM events e JOIN contacts c ON {on} "
        f"WHERE {selected}{extra}"
        for on, extra in NAMED_BY
    )


def superseded_sql(selected: str) -> str:
    """SQL: (event_id, contact_id, v) for each superseded version of a contact that held
    the email or number ``v`` an event of ``selected`` names (events naming a contact id
    cover its current record only)."""
    return "\nUNION\n".join(
        f"SELECT e.id AS event_id, v.contact_id, {key} AS v FROM events e "
        f"JOIN contact_versions v ON v.{column} = {key} WHERE {selected} AND e.contact_id IS NULL"
        for column, key in _SUPERSEDED_BY
    )


@functools.lru_cache(maxsize=64)
def delivered_items_sql(events_where: str, channels: tuple[str, ...] | None = None) -> str:
    """SQL: what the opposition, erasure and rectification events of ``events_where`` (on
    ``events e``) must be forwarded about: one row (event_id, partner_id, delivery_id,
    contact_ref, channel, coordinate) per coordinate they cover in a delivery made within
    the retention period (``:since``). ``channels``: only coordinates delivered on these."""
    selected = forwarded_events(events_where)
    delivered = (
        "SELECT x.event_id, d.partner_id, l.delivery_id, l.contact_ref, l.channel, l.coordinate "
        "FROM {source} JOIN ledger l ON {on} JOIN deliveries d ON d.id = l.delivery_id "
        "JOIN events e ON e.id = x.event_id "
        "WHERE d.created_at >= :since AND (e.channel = 'all' OR e.channel = l.channel) "
        "AND (e.partner_id IS NULL OR e.partner_id = d.partner_id)"
    )
    if channels is not None:
        delivered += " AND l.channel IN ({})".format(
            ", ".join(f"'{c}'" for c in channels if c in CHANNELS) or "''"
        )
    return "\nUNION\n".join(
        [
            delivered.format(
                source=f"({covered_contacts_sql(selected)}) x", on="l.contact_id = x.contact_id"
            ),
            # a coordinate delivered before the contact changed it is still covered: the
            # superseded versions that had it name the contact
            delivered.format(source=f"({superseded_sql(selected)}) x", on=_SUPERSEDED_ON),
        ]
    )


__all__ = [
    "NAMED_BY",
    "PERSON_CONTACTS",
    "PERSON_LEDGER",
    "covered_contacts_sql",
    "delivered_items_sql",
    "forwarded_events",
    "resolved_events_sql",
    "superseded_sql",
]
