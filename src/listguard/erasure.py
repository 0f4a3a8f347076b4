"""Erasure (GDPR art. 17): one service for every route.

An ``erasure`` event erases the person it names, whichever route recorded it: a
file of events (``import events``), ``rights erase`` on the command line, an erasure
received from a partner or source (``inbound``). ``erase_events`` erases, in the
caller's transaction and set-based (a file of ten thousand erasures is a handful of
statements), every person named by the erasure events a SQL condition selects, once
their messages to the partners are queued:

- a keyed digest of each of their identifiers (contact ids, emails, numbers, those
  named and those of the contacts holding them) goes to ``erased``, so that a
  re-import is refused;
- their contact records, versions, clusters and collection proofs are deleted, and
  the superseded versions of other contacts lose the erased emails and numbers;
- the Bloctel screening results of their numbers are deleted;
- the events naming them keep what happened, not who;
- the ledger keeps which partner received which channel under which reference, not
  the coordinate; acknowledged messages forget the coordinates and corrected values;
- one audit entry records the erasure, naming the person by keyed digest.

``after_erasure`` then takes the deleted content out of the files around the
registry, once the transaction is committed: the columnar copies of the contacts
are removed, SQLite's write-ahead log is checkpointed and emptied (the registry
runs with ``secure_delete``, so the freed pages hold zeros), PostgreSQL's tables
are vacuumed.

Past delivery folders are the owner's proof of past lawful processing: they are
not touched; the erasure lists those the ledger says hold the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text

from listguard import audit
from listguard.identifiers import identifier_secret, keyed_digest
from listguard.storage.open import open_storage
from listguard.timeutil import now_ts, to_iso

# the identifiers being erased, by kind (contact_id, email, phone)
_TEMP = "lg_erasing"
_IDS = f"(SELECT v FROM {_TEMP} WHERE kind = 'contact_id')"
_EMAILS = f"(SELECT v FROM {_TEMP} WHERE kind = 'email')"
_PHONES = f"(SELECT v FROM {_TEMP} WHERE kind = 'phone')"
_COORDINATES = f"(SELECT v FROM {_TEMP} WHERE kind IN ('email', 'phone'))"
# the ledger rows of the persons erased: delivered from their contacts, or one of their
# coordinates delivered from a contact that had it in a superseded version
_LEDGER = (
    f"(l.contact_id IN {_IDS} OR (l.coordinate IN {_COORDINATES} AND l.contact_id IN ("
    f"SELECT contact_id FROM contact_versions WHERE email_norm IN {_EMAILS} "
    f"OR phone_e164 IN {_PHONES} OR mobile_e164 IN {_PHONES})))"
)
# tables whose rows belong to a contact, children first
_CONTACT_TABLES = ("contact_versions", "contact_clusters", "collection_proofs", "contacts")
# tables an erasure deletes or rewrites rows of (vacuumed afterwards on PostgreSQL)
_TOUCHED = (
    *_CONTACT_TABLES,
    "events",
    "ledger",
    "outbox_items",
    "bloctel_results",
    "erased",
)


@dataclass(frozen=True)
class HeldIn:
    """A past delivery whose folder holds some of the person's coordinates."""

    delivery: int
    partner_id: str
    delivered_at: str
    folder: str
    coordinates: int


@dataclass(frozen=True)
class Erasure:
    """What an erasure did."""

    persons: int  # erasure events applied
    contacts: int  # contact records deleted
    identifiers: int  # keyed digests kept (contact ids, emails, numbers)
    folders: list[HeldIn] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "persons": self.persons,
            "contacts": self.contacts,
            "identifiers": self.identifiers,
            "delivery_folders": [f.__dict__ for f in self.folders],
        }


def erase_events(
    conn: Connection,
    events_where: str,
    params: dict[str, Any],
    *,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Erasure:
    """Erase, in ``conn``'s transaction, every person named by the ``erasure`` events of
    ``events_where`` (SQL on ``events e``). Their messages to the partners must be
    queued first. ``subject`` and ``detail``: what the audit entry adds (the keyed
    digest of the person asked about, how the request came)."""
    conn.execute(text(f"DROP TABLE IF EXISTS {_TEMP}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {_TEMP} (kind TEXT NOT NULL, v TEXT NOT NULL)"))
    conn.execute(text(f"CREATE INDEX {_TEMP}_kv ON {_TEMP} (kind, v)"))
    try:
        return _erase(conn, events_where, params, subject, detail or {})
    finally:
        conn.execute(text(f"DROP TABLE {_TEMP}"))


def _erase(
    conn: Connection,
    events_where: str,
    params: dict[str, Any],
    subject: str | None,
    detail: dict[str, Any],
) -> Erasure:
    def run(sql: str, bound: dict[str, Any] | None = None) -> Any:
        return conn.execute(text(sql), bound or {})

    chosen = f"e.event = 'erasure' AND ({events_where})"
    persons = int(run(f"SELECT count(*) FROM events e WHERE {chosen}", params).scalar_one())
    if not persons:
        return Erasure(0, 0, 0)
    # the identifiers named, then the contacts holding them, then those contacts' own
    named = " UNION ".join(
        f"SELECT '{kind}', e.{column} FROM events e WHERE {chosen} AND e.{column} IS NOT NULL"
        for kind, column in (
            ("contact_id", "contact_id"),
            ("email", "email_norm"),
            ("phone", "phone_e164"),
        )
    )
    run(f"INSERT INTO {_TEMP} (kind, v) {named}", params)
    run(
        f"INSERT INTO {_TEMP} (kind, v) SELECT 'contact_id', c.contact_id FROM contacts c "
        f"WHERE (c.email_norm IN {_EMAILS} OR c.phone_e164 IN {_PHONES} "
        f"OR c.mobile_e164 IN {_PHONES}) AND c.contact_id NOT IN {_IDS}"
    )
    held = " UNION ".join(
        f"SELECT '{kind}' AS kind, {column} AS v FROM {table} WHERE contact_id IN {_IDS} "
        f"AND {column} IS NOT NULL"
        for table in ("contacts", "contact_versions")
        for kind, column in (
            ("email", "email_norm"),
            ("phone", "phone_e164"),
            ("phone", "mobile_e164"),
        )
    )
    run(
        f"INSERT INTO {_TEMP} (kind, v) SELECT DISTINCT x.kind, x.v FROM ({held}) x "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_TEMP} t WHERE t.kind = x.kind AND t.v = x.v)"
    )
    contacts = int(run(f"SELECT count(*) FROM contacts WHERE contact_id IN {_IDS}").scalar_one())
    folders = [
        HeldIn(int(r.id), str(r.partner_id), to_iso(int(r.created_at)), str(r.out_dir), int(r.n))
        for r in run(
            "SELECT d.id, d.partner_id, d.created_at, d.out_dir, count(*) AS n FROM ledger l "
            f"JOIN deliveries d ON d.id = l.delivery_id WHERE {_LEDGER} "
            "GROUP BY d.id, d.partner_id, d.created_at, d.out_dir ORDER BY d.id"
        )
    ]
    # the keyed digests kept, so that a re-import is refused
    secret = identifier_secret(conn, create=True)
    assert secret is not None
    now = now_ts()
    identifiers = run(f"SELECT DISTINCT kind, v FROM {_TEMP}").all()
    if identifiers:
        conn.execute(
            text(
                "INSERT INTO erased (kind, digest, erased_at) VALUES (:k, :d, :t) "
                "ON CONFLICT (kind, digest) DO NOTHING"
            ),
            [{"k": k, "d": keyed_digest(secret, k, v), "t": now} for k, v in identifiers],
        )
    # what happened stays, not who: identifiers, free text and content key go
    run(
        "UPDATE events SET contact_id = NULL, email_norm = NULL, phone_e164 = NULL, "
        "detail = NULL, event_key = 'erased:' || CAST(id AS TEXT) "
        f"WHERE contact_id IN {_IDS} OR email_norm IN {_EMAILS} OR phone_e164 IN {_PHONES}"
    )
    # messages the partners already acknowledged need the person no more: the items
    # naming them (by coordinate, or by the delivered row the ledger has for them, which
    # finds an address too) lose the coordinate and a rectification's corrected values
    run(
        "UPDATE outbox_items SET coordinate = 'erased', corrected = NULL "
        "WHERE message_id IN (SELECT id FROM outbox WHERE status = 'acknowledged') "
        f"AND (coordinate IN {_COORDINATES} OR EXISTS (SELECT 1 FROM ledger l "
        "WHERE l.delivery_id = outbox_items.delivery_id "
        f"AND l.contact_ref = outbox_items.contact_ref AND {_LEDGER}))"
    )
    run(
        "UPDATE ledger SET contact_id = 'erased', coordinate = 'erased' WHERE id IN "
        f"(SELECT l.id FROM ledger l WHERE {_LEDGER})"
    )
    for table in _CONTACT_TABLES:
        run(f"DELETE FROM {table} WHERE contact_id IN {_IDS}")
    # a screening result is about a number, and the number is the person's
    run(f"DELETE FROM bloctel_results WHERE phone_e164 IN {_PHONES}")
    # another contact's superseded versions may still hold an erased email or number
    # (its current record no longer does, so it is not the person's): they lose it
    for value, norm, kind in (
        ("email", "email_norm", _EMAILS),
        ("phone", "phone_e164", _PHONES),
        ("mobile", "mobile_e164", _PHONES),
    ):
        run(f"UPDATE contact_versions SET {value} = NULL, {norm} = NULL WHERE {norm} IN {kind}")
    # a cluster named after an erased contact is named after one of those left in it
    run(
        "UPDATE contact_clusters SET cluster_id = (SELECT min(k.contact_id) FROM "
        "contact_clusters k WHERE k.cluster_id = contact_clusters.cluster_id) "
        f"WHERE cluster_id IN {_IDS}"
    )
    done = Erasure(persons, contacts, len(identifiers), folders)
    audit.append(
        conn,
        "erasure",
        subject,
        {
            **detail,
            "persons": persons,
            "contacts": contacts,
            "identifiers": len(identifiers),
            "delivery_folders": len(folders),
        },
        now,
    )
    return done


def folder_lines(folders: list[HeldIn]) -> list[str]:
    """The past delivery folders holding the erased persons, for the owner (kept: they are
    the proof of past lawful processing)."""
    if not folders:
        return ["no past delivery folder holds them"]
    return [
        f"past delivery folders holding them (kept as proof; the ledger no longer names "
        f"them): {len(folders)}",
        *(
            f"  {f.folder} (delivery {f.delivery} to {f.partner_id}, {f.delivered_at[:10]}: "
            f"{f.coordinates} coordinate(s))"
            for f in folders
        ),
    ]


def erasure_lines(erasure: Erasure) -> list[str]:
    """What a file of events erased, for the owner."""
    return [
        f"erased: {erasure.persons} erasure(s), {erasure.contacts} contact record(s) deleted",
        *folder_lines(erasure.folders),
    ]


def after_erasure(engine: Engine) -> None:
    """Once an erasure is committed, take what it deleted out of the files around the
    registry (``Storage.purge_deleted``: on SQLite the columnar copies and the
    write-ahead log, on PostgreSQL the freed space of the touched tables)."""
    open_storage(engine).purge_deleted(_TOUCHED)


__all__ = [
    "Erasure",
    "HeldIn",
    "after_erasure",
    "erase_events",
    "erasure_lines",
    "folder_lines",
]
