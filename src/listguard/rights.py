"""The rights of the person: access (GDPR art. 15) and erasure (art. 17, 19).

``access_report`` gathers, for a person named by contact id, email or phone,
every contact record that holds it (current data and every earlier version,
with the import that brought each), the events concerning them (consents,
oppositions, notices), every delivery of their coordinates to a partner, the
messages that forwarded their oppositions, and the suppression entries that
name their coordinates. The request is written to the audit log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from listguard import audit
from listguard.config import RuleSettings
from listguard.db import schema
from listguard.domain.contact_rows import FIELDS, KNOWN, normalise_row
from listguard.domain.coverage import PERSON_CONTACTS, PERSON_LEDGER
from listguard.domain.retention import DEFAULT_RETENTION, Retention
from listguard.erasure import HeldIn, after_erasure, erase_events
from listguard.errors import InputError
from listguard.identifiers import identifier_secret, keyed_digest, person_subject, subjects
from listguard.oppositions import person_keys, record_event
from listguard.proof.expiring import valid_until
from listguard.propagation.outbox import enqueue
from listguard.rules.packs import applicable_packs
from listguard.storage.engine import writing
from listguard.timeutil import now_ts, to_day, to_iso

_PERSONAL = (
    "civility",
    "first_name",
    "last_name",
    "company",
    *schema.ADDRESS_COLUMNS,
    "country",
    "phone",
    "mobile",
    "email",
    "birth_date",
)
_CHOICES = tuple(f"{scope}_{ch}" for scope in ("partners", "own") for ch in schema.CHANNELS)


def _rows(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    statement = text(sql)
    for name, value in params.items():
        if isinstance(value, list):
            statement = statement.bindparams(bindparam(name, expanding=True))
    return [dict(r._mapping) for r in conn.execute(statement, params)]


def _when(value: Any) -> str | None:
    return to_iso(int(value)) if value is not None else None


def access_report(
    engine: Engine,
    *,
    contact_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    rules: RuleSettings | None = None,
) -> dict[str, Any]:
    """Everything held about the person, as a JSON-ready dict. A consent on a channel
    with a maximum age (phone canvassing under ``fr-2026``) carries ``valid_until``,
    the last day it counts, under ``rules`` (the defaults when not given)."""
    email_norm, phone_e164 = person_keys(contact_id, email, phone)
    today = to_day(now_ts())
    applied = applicable_packs(today, today, today, rules or RuleSettings(), "commercial")

    def until(channel: str, at: Any) -> str | None:
        """The last day a consent given at ``at`` on ``channel`` counts (ISO), if any."""
        day = valid_until(applied, channel, int(at)) if at is not None else None
        return day.isoformat() if day else None

    with engine.begin() as conn:
        contacts = _rows(
            conn,
            f"SELECT * FROM contacts WHERE {PERSON_CONTACTS} ORDER BY contact_id",
            c=contact_id,
            e=email_norm,
            p=phone_e164,
        )
        ids = [c["contact_id"] for c in contacts] or [""]
        emails = sorted({c["email_norm"] for c in contacts if c["email_norm"]} | {email_norm or ""})
        numbers = {c[k] for c in contacts for k in ("phone_e164", "mobile_e164") if c[k]}
        phones = sorted(numbers | {phone_e164 or ""})
        versions = _rows(
            conn,
            "SELECT h.*, i.file_name, i.file_sha256 FROM contact_history h "
            "JOIN imports i ON i.id = h.import_id WHERE h.contact_id IN :ids "
            "ORDER BY h.contact_id, h.version",
            ids=ids,
        )
        events = _rows(
            conn,
            "SELECT id, contact_id, email_norm, phone_e164, event, channel, scope, at, via "
            "FROM events WHERE contact_id IN :ids OR email_norm IN :emails "
            "OR phone_e164 IN :phones ORDER BY at, id",
            ids=ids,
            emails=emails,
            phones=phones,
        )
        deliveries = _rows(
            conn,
            "SELECT d.id AS delivery_id, d.partner_id, p.name AS partner_name, d.created_at, "
            "l.contact_id, l.channel, l.coordinate, l.contact_ref FROM ledger l "
            "JOIN deliveries d ON d.id = l.delivery_id "
            "JOIN partners p ON p.partner_id = d.partner_id "
            f"WHERE {PERSON_LEDGER} ORDER BY d.created_at, d.id, l.channel",
            ids=ids,
            emails=emails,
            phones=phones,
        )
        messages = _rows(
            conn,
            "SELECT o.id, o.event_id, o.partner_id, o.status, o.created_at, o.sent_at, "
            "o.acknowledged_at FROM outbox o WHERE o.event_id IN :events ORDER BY o.id",
            events=[int(e["id"]) for e in events] or [0],
        )
        same: dict[str, list[str]] = {}
        for row in _rows(
            conn,
            "SELECT a.contact_id AS one, b.contact_id AS other FROM contact_clusters a "
            "JOIN contact_clusters b ON b.cluster_id = a.cluster_id "
            "AND b.contact_id <> a.contact_id WHERE a.contact_id IN :ids ORDER BY 1, 2",
            ids=ids,
        ):
            same.setdefault(str(row["one"]), []).append(str(row["other"]))
        collections: dict[str, list[dict[str, Any]]] = {}
        for row in _rows(
            conn,
            "SELECT contact_id, outcome, collected_at, received_at, collection_source, "
            "notice_version, notice_sha256, partner_list_version, choices, ip, user_agent "
            "FROM collection_proofs WHERE contact_id IN :ids ORDER BY collected_at, id",
            ids=ids,
        ):
            proof = {k: v for k, v in row.items() if k != "contact_id"}
            proof["collected_at"] = _when(proof["collected_at"])
            proof["received_at"] = _when(proof["received_at"])
            proof["choices"] = json.loads(proof["choices"])
            collections.setdefault(str(row["contact_id"]), []).append(proof)
        suppressions = _rows(
            conn,
            "SELECT list, partner_id, kind, value, added_at FROM suppressions "
            "WHERE (kind = 'email' AND value IN :emails) OR (kind = 'phone' AND value IN :phones) "
            "ORDER BY added_at",
            emails=emails,
            phones=phones,
        )
        subject = subjects(conn)  # the audit log names people by keyed digest only
        audit.append(
            conn,
            "access_request",
            subject(contact_id, email_norm, phone_e164),
            {"contacts": [subject(c["contact_id"]) for c in contacts]},
        )
    return {
        "request": {"contact_id": contact_id, "email": email_norm, "phone": phone_e164},
        "contacts": [
            {
                "contact_id": c["contact_id"],
                "data": {k: c[k] for k in _PERSONAL if c[k] is not None},
                "collected_at": _when(c["collected_at"]),
                "source": c["collection_source"],
                "notice_version": c["notice_version"],
                "choices_at_collection": {k: c[k] for k in _CHOICES if c[k] is not None},
                # the last day each consent given at collection counts, where it lapses
                "consents_valid_until": {
                    k: day
                    for k in _CHOICES
                    if c[k] == "consent"
                    and (day := until(k.split("_", 1)[1], c["collected_at"])) is not None
                },
                "other_data": json.loads(c["attributes"]) if c["attributes"] else {},
                # other records found to be the same person (dedupe --base)
                "same_person_as": same.get(c["contact_id"], []),
                # forms submitted through the collection API, with their proof
                "collections": collections.get(c["contact_id"], []),
                "versions": [
                    {
                        "version": v["version"],
                        "recorded_at": _when(v["recorded_at"]),
                        "file": v["file_name"],
                        "file_sha256": v["file_sha256"],
                        "data": {k: v[k] for k in _PERSONAL if v[k] is not None},
                    }
                    for v in versions
                    if v["contact_id"] == c["contact_id"]
                ],
            }
            for c in contacts
        ],
        "events": [
            {
                "event": e["event"],
                "channel": e["channel"],
                "scope": e["scope"],
                "at": _when(e["at"]),
                "via": e["via"],
                "names": e["contact_id"] or e["email_norm"] or e["phone_e164"],
                **(
                    {"valid_until": until(e["channel"], e["at"])}
                    if e["event"] == "consent" and until(e["channel"], e["at"])
                    else {}
                ),
            }
            for e in events
        ],
        "deliveries": [
            {
                "partner_id": d["partner_id"],
                "partner": d["partner_name"],
                "delivered_at": _when(d["created_at"]),
                "delivery": d["delivery_id"],
                "contact_id": d["contact_id"],
                "channel": d["channel"],
                "coordinate": d["coordinate"],
            }
            for d in deliveries
        ],
        "messages_to_partners": [
            {
                "partner_id": m["partner_id"],
                "status": m["status"],
                "queued_at": _when(m["created_at"]),
                "sent_at": _when(m["sent_at"]),
                "acknowledged_at": _when(m["acknowledged_at"]),
            }
            for m in messages
        ],
        "suppression_lists": [
            {
                "list": s["list"],
                "kind": s["kind"],
                "value": s["value"],
                "since": _when(s["added_at"]),
            }
            for s in suppressions
        ],
    }


_LABELS = {
    "civility": "Civilité",
    "first_name": "Prénom",
    "last_name": "Nom",
    "company": "Société",
    "address_line2": "Adresse (ligne 2)",
    "address_line3": "Adresse (ligne 3)",
    "address_line4": "Adresse (ligne 4)",
    "address_line5": "Adresse (ligne 5)",
    "postal_code": "Code postal",
    "city": "Commune",
    "country": "Pays",
    "phone": "Téléphone",
    "mobile": "Mobile",
    "email": "Courriel",
    "birth_date": "Date de naissance",
}
_EVENTS = {
    "consent": "consentement",
    "opposition": "opposition",
    "erasure": "demande d'effacement",
    "rectification": "rectification",
    "informed_partner_list": "information sur la liste des partenaires",
    "interaction": "échange",
}


def access_text(report: dict[str, Any], owner: str) -> str:
    """The report as a document in French, for the person."""
    out = [
        f"Réponse de {owner} à votre demande d'accès (RGPD, article 15)",
        "",
    ]
    if not report["contacts"] and not report["events"] and not report["deliveries"]:
        out.append("Nous ne détenons aucune donnée vous concernant sous cet identifiant.")
        return "\n".join(out) + "\n"
    for c in report["contacts"]:
        out += [f"Fiche {c['contact_id']}", ""]
        if c["same_person_as"]:
            out += [
                "Reconnue comme la même personne que la ou les fiches "
                f"{', '.join(c['same_person_as'])} : le choix le plus restrictif de ces "
                "fiches s'applique à chacune.",
                "",
            ]
        out += [f"  {_LABELS.get(k, k)} : {v}" for k, v in c["data"].items()]
        out.append(
            f"  Collectée le {c['collected_at'][:10]}"
            + (f" (source : {c['source']})" if c["source"] else "")
        )
        if c["other_data"]:
            out += [f"  {k} : {v}" for k, v in c["other_data"].items()]
        out += [
            f"  Consentement donné à la collecte ({k}) valable jusqu'au {day}"
            for k, day in c.get("consents_valid_until", {}).items()
        ]
        if len(c["versions"]) > 1:
            out.append(f"  Versions successives : {len(c['versions'])}")
        for f in c["collections"]:
            out.append(
                f"  Formulaire du {f['collected_at'][:10]} (mentions {f['notice_version']}"
                + (f", adresse IP {f['ip']}" if f["ip"] else "")
                + ") : "
                + ", ".join(f"{k} {v}" for k, v in f["choices"].items())
            )
        out.append("")
    if report["events"]:
        out += ["Vos choix et nos échanges", ""]
        out += [
            f"  {e['at'][:10]} : {_EVENTS.get(e['event'], e['event'])} "
            f"({'tous canaux' if e['channel'] == 'all' else e['channel']})"
            + (f", valable jusqu'au {e['valid_until']}" if e.get("valid_until") else "")
            for e in report["events"]
        ]
        out.append("")
    if report["deliveries"]:
        out += ["Partenaires à qui vos coordonnées ont été louées", ""]
        out += [
            f"  {d['delivered_at'][:10]} : {d['partner']} ({d['channel']} : {d['coordinate']})"
            for d in report["deliveries"]
        ]
        out.append("")
    if report["messages_to_partners"]:
        out += ["Transmission de vos oppositions aux partenaires", ""]
        out += [
            f"  {m['partner_id']} : {m['status']} (le {(m['sent_at'] or m['queued_at'])[:10]})"
            for m in report["messages_to_partners"]
        ]
        out.append("")
    return "\n".join(out)


def erasure_secret(conn: Connection, *, create: bool) -> str | None:
    """The key erasure digests are made with (``identifiers``)."""
    return identifier_secret(conn, create=create)


def erasure_digest(secret: str, kind: str, value: str) -> str:
    """The keyed digest kept of an erased identifier (``kind``: contact_id, email, phone).
    DuckDB's ``sha256`` computes the same over the text ``secret:kind:value``."""
    return keyed_digest(secret, kind, value)


@dataclass(frozen=True)
class Erased:
    contacts: int  # contact records deleted
    messages: int  # erasure messages queued for the partners that received them
    # past delivery folders the ledger says hold the person (kept: the owner's proof)
    folders: list[HeldIn] = field(default_factory=list)


def erase(
    engine: Engine,
    *,
    contact_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    via: str = "api",
    retention: Retention = DEFAULT_RETENTION,
) -> Erased:
    """Erase a person (GDPR art. 17), in one transaction.

    An ``erasure`` event is recorded and forwarded, like an opposition, to every
    partner that received the person's coordinates (the messages keep the
    coordinates the partners must find until they are sent); then the person is
    erased as every erasure event is (``erasure.erase_events``), and the files
    around the registry lose what was deleted (``erasure.after_erasure``).
    """
    person_keys(contact_id, email, phone)  # a person not named is refused before writing
    with writing(engine) as conn:
        done = erase_in(
            conn,
            contact_id=contact_id,
            email=email,
            phone=phone,
            via=via,
            retention=retention,
        )
    after_erasure(engine)
    return done


def erase_in(
    conn: Connection,
    *,
    contact_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    via: str = "api",
    retention: Retention = DEFAULT_RETENTION,
) -> Erased:
    """``erase`` in the caller's transaction (which then calls
    ``erasure.after_erasure`` once it is committed): an erasure received from a source
    is applied in the transaction that records the message."""
    email_norm, phone_e164 = person_keys(contact_id, email, phone)
    event_id = record_event(
        conn,
        "erasure",
        channel="all",
        scope="all",
        via=via,
        keys=(contact_id, email_norm, phone_e164),
    )
    messages = enqueue(conn, "e.id = :event_id", {"event_id": event_id}, retention)
    done = erase_events(
        conn,
        "e.id = :event_id",
        {"event_id": event_id},
        subject=person_subject(conn, contact_id, email_norm, phone_e164),
        detail={"messages": messages, "via": via},
    )
    return Erased(done.contacts, messages, done.folders)


# what a person may have corrected (GDPR art. 16), and which of it each channel's
# recipients received: names and company with every channel, the rest with its own
RECTIFIABLE = _PERSONAL
_NAMES = ("civility", "first_name", "last_name", "company")
_RECEIVED = {
    "postal": (*_NAMES, *schema.ADDRESS_COLUMNS, "country"),
    "email": (*_NAMES, "email_norm"),
    "phone": (*_NAMES, "phone_e164", "mobile_e164"),
    "automated_call": (*_NAMES, "phone_e164", "mobile_e164"),
    "sms": (*_NAMES, "mobile_e164"),
}
_SHOWN = {"email_norm": "email", "phone_e164": "phone", "mobile_e164": "mobile"}


@dataclass(frozen=True)
class Rectified:
    changed: tuple[str, ...]  # the stored fields that changed
    messages: int  # rectification messages queued for the partners that received them


def rectify(
    engine: Engine,
    contact_id: str,
    changes: dict[str, str],
    *,
    via: str = "letter",
    retention: Retention = DEFAULT_RETENTION,
) -> Rectified:
    """Correct a person's data (GDPR art. 16) and tell every partner that received it
    (art. 19), in one transaction.

    The corrected row is checked and normalised exactly as an import would; it becomes
    a new version of the contact (the previous one is kept). A ``rectification`` event
    is recorded and, for each partner whose deliveries hold the person on a channel
    where something it received changed, a message gives the new values under the
    partner's own reference (``corrected``).
    """
    unknown = sorted(set(changes) - set(RECTIFIABLE))
    if unknown:
        raise InputError(
            f"cannot rectify {', '.join(unknown)}: expected among {', '.join(RECTIFIABLE)}",
            fr=f"impossible de rectifier ici {', '.join(unknown)} ; valeurs possibles : "
            f"{', '.join(RECTIFIABLE)}",
        )
    if not changes:
        raise InputError(
            "nothing to rectify: give at least one field=value",
            fr="rien à rectifier : donnez au moins un champ et sa valeur",
        )
    with writing(engine) as conn:
        found = conn.execute(
            text("SELECT * FROM contacts WHERE contact_id = :c"), {"c": contact_id}
        ).first()
        if found is None:
            raise InputError(
                f"no contact {contact_id!r} in the registry",
                fr=f"aucun contact {contact_id!r} dans le registre",
            )
        old = dict(found._mapping)
        raw = {c: "" if old.get(c) is None else str(old[c]) for c in KNOWN if c in old}
        raw["civility"] = old["civility_given"] or old["civility"] or ""
        raw["collected_at"] = to_iso(int(old["collected_at"]))
        raw.update(json.loads(old["attributes"]) if old["attributes"] else {})
        raw.update(changes)
        new = normalise_row(raw)
        # an import keeps an invalid coordinate (flagged); a correction must be usable
        for given, normalised in (
            ("email", "email_norm"),
            ("phone", "phone_e164"),
            ("mobile", "mobile_e164"),
        ):
            unusable = new[normalised] is None or (
                given == "email" and new.get("email_status") == "invalid"
            )
            if changes.get(given, "").strip() and unusable:
                raise InputError(
                    f"{changes[given]!r} is not a valid {given}",
                    where=given,
                    fr=f"{given} : {changes[given]!r} n'est pas une valeur valide",
                )
        changed = tuple(f for f in FIELDS if f in new and new[f] != old.get(f))
        if not changed:
            return Rectified((), 0)
        now = now_ts()
        import_id = conn.execute(
            text(
                "INSERT INTO imports (kind, file_name, file_sha256, started_at, finished_at, "
                "rows_read, rows_new, rows_changed, rows_unchanged, rows_rejected) "
                "VALUES ('rectification', :f, :h, :t, :t, 1, 0, 1, 0, 0) RETURNING id"
            ),
            {
                "f": f"rectification of {contact_id} ({via})",
                "h": hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest(),
                "t": now,
            },
        ).scalar_one()
        stored = [c.name for c in schema.contact_versions.columns if c.name != "id"]
        conn.execute(
            text(
                f"INSERT INTO contact_versions ({', '.join(stored)}) "
                f"SELECT {', '.join(stored)} FROM contacts WHERE contact_id = :c"
            ),
            {"c": contact_id},
        )
        conn.execute(
            text(
                f"UPDATE contacts SET {', '.join(f'{f} = :{f}' for f in changed)}, "
                "import_id = :import_id, recorded_at = :now, version = version + 1 "
                "WHERE contact_id = :contact_id"
            ),
            {
                **{f: new[f] for f in changed},
                "import_id": import_id,
                "now": now,
                "contact_id": contact_id,
            },
        )
        corrected = {
            channel: {_SHOWN.get(f, f): new[f] for f in fields if f in changed}
            for channel, fields in _RECEIVED.items()
        }
        channels = tuple(ch for ch, values in corrected.items() if values)
        event_id = record_event(
            conn,
            "rectification",
            channel="all",
            scope="all",
            via=via,
            keys=(contact_id, None, None),
            detail=",".join(changed),
        )
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
        messages = enqueue(conn, "e.id = :event_id", {"event_id": event_id}, retention, channels)
        for channel in channels:
            conn.execute(
                text(
                    "UPDATE outbox_items SET corrected = :v WHERE message_id > :last "
                    "AND channel = :ch"
                ),
                {
                    "v": json.dumps(corrected[channel], ensure_ascii=False, sort_keys=True),
                    "last": last,
                    "ch": channel,
                },
            )
        audit.append(
            conn,
            "rectification",
            person_subject(conn, contact_id),
            {"fields": list(changed), "messages": messages, "via": via},
            now,
        )
    return Rectified(changed, messages)


__all__ = [
    "Erased",
    "Rectified",
    "access_report",
    "access_text",
    "erase",
    "erase_in",
    "erasure_digest",
    "rectify",
]
