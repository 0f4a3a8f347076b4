"""The facts of a consent proof: each consent and objection a person gave, with what
was shown to them (R223-2, reported décret n° 2026-662; CNIL on proving consent).

``gather`` finds the person as the right of access does (by contact id, email or
phone, normalised the same way; every contact record holding it) and lists:

- the choices made at collection (the ``partners_*`` / ``own_*`` columns of each
  contact), with the form's evidence when the collection API recorded it
  (``collection_proofs``: notice hash, IP address, user agent, partner list version);
- every later consent and opposition (``events``), with the form's evidence when the
  event came from a form.

Each consent to partners carries the partner list version shown (as recorded by the
form, else the version in force at that instant) and the partners of that version by
name and category. A phone consent carries the last day it counts: it lasts
``phone_consent_max_age_days`` and is never renewed tacitly. The document also says
how to withdraw. A person the registry does not hold, or erased, gets no document.

``proof_json`` is the JSON form (keys documented in ``docs/rights.md``; stable, so a
document issued twice from the same registry state is byte for byte the same but for
``issued_at``); its SHA-256 is printed on the PDF (``listguard.proof.document``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, text

from listguard import audit
from listguard.config import Settings
from listguard.db import schema
from listguard.domain.coverage import PERSON_CONTACTS
from listguard.errors import InputError
from listguard.identifiers import KINDS, identifier_secret, keyed_digest, subjects
from listguard.oppositions import person_keys
from listguard.proof.expiring import valid_until
from listguard.renting.partner_list import partner_list_version, published_list
from listguard.rules.packs import applicable_packs
from listguard.timeutil import now_ts, to_day, to_iso

FORMAT = 1  # the version of the JSON's shape; raised when a key changes meaning

Kind = Literal["consent", "objection", "opposition"]
Source = Literal["collection", "event"]


class UnknownPerson(InputError):
    """Nobody the registry holds is named so (or the person was erased)."""


@dataclass(frozen=True)
class PartnerShown:
    id: str
    name: str
    category: str


@dataclass(frozen=True)
class PartnerList:
    version: int
    # True: the version the form recorded; False: the version in force at that instant
    recorded: bool
    partners: tuple[PartnerShown, ...]


@dataclass(frozen=True)
class Choice:
    """One consent or objection: ``consent`` and ``objection`` made at collection or
    later, ``opposition`` an objection made after collection."""

    kind: Kind
    channel: str  # postal, phone, automated_call, sms, email or all
    scope: str  # partners, own, all or partner:<id>
    given_at: str  # ISO 8601, Paris time
    source: Source
    contact_id: str | None  # the contact record; None for an event naming a coordinate
    via: str | None  # how an event was received (web_form, letter, phone...)
    collection_source: str | None  # where the contact was collected (a form's address)
    notice_version: str | None
    notice_sha256: str | None
    ip: str | None
    user_agent: str | None
    partner_list: PartnerList | None  # consents to partners only
    valid_until: str | None  # a phone consent: the last day (YYYY-MM-DD) it counts


@dataclass(frozen=True)
class Withdrawal:
    """How the person withdraws a consent (as easily as it was given)."""

    rights_contact: str
    opposition_page: str | None
    privacy_policy_url: str | None


@dataclass(frozen=True)
class Owner:
    name: str
    legal_name: str
    address: str


@dataclass(frozen=True)
class ConsentProof:
    issued_at: str
    owner: Owner
    person: dict[str, str | None]  # as asked: contact_id, email (normalised), phone (E.164)
    contacts: tuple[str, ...]  # the contact records found
    phone_consent_max_age_days: int | None  # None: no maximum age in force
    choices: tuple[Choice, ...]
    withdrawal: Withdrawal


def _rows(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    statement = text(sql)
    for name, value in params.items():
        if isinstance(value, list):
            statement = statement.bindparams(bindparam(name, expanding=True))
    return [dict(r._mapping) for r in conn.execute(statement, params)]


def _erased(conn: Connection, keys: tuple[str | None, str | None, str | None]) -> bool:
    """Whether one of the identifiers given names a person erased (``erased``)."""
    secret = identifier_secret(conn, create=False)
    if secret is None:
        return False
    digests = [keyed_digest(secret, k, v) for k, v in zip(KINDS, keys, strict=True) if v]
    found = conn.execute(
        text("SELECT 1 FROM erased WHERE digest IN :d").bindparams(bindparam("d", expanding=True)),
        {"d": digests or [""]},
    ).first()
    return found is not None


class _Lists:
    """The partner lists of the consents, each version read once."""

    def __init__(self, conn: Connection, now: int) -> None:
        self.conn, self.now = conn, now
        self.seen: dict[int, tuple[PartnerShown, ...]] = {}

    def shown(self, at: int, recorded: int | None, scope: str) -> PartnerList | None:
        if scope == "own":
            return None
        version = recorded if recorded is not None else partner_list_version(self.conn, at)[0]
        if version not in self.seen:
            published = published_list(self.conn, self.now, version) if version else None
            self.seen[version] = tuple(
                PartnerShown(p["id"], p["name"], p["category"])
                for p in (published["partners"] if published else [])
            )
        partners = self.seen[version]
        if scope.startswith("partner:"):
            partners = tuple(p for p in partners if p.id == scope.split(":", 1)[1])
        return PartnerList(version, recorded is not None, partners)


def gather(
    engine: Engine,
    settings: Settings,
    *,
    contact_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    now: int | None = None,
) -> ConsentProof:
    """The consent proof of a person named by contact id, email or phone (see the
    module's doc). Raises ``UnknownPerson`` when nobody held is named so; the request
    is written to the audit log."""
    email_norm, phone_e164 = person_keys(contact_id, email, phone)
    issued = now if now is not None else now_ts()
    day = to_day(issued)
    applied = applicable_packs(day, day, day, settings.rules, "commercial")
    with engine.begin() as conn:
        keys = (contact_id, email_norm, phone_e164)
        contacts = _rows(
            conn,
            f"SELECT * FROM contacts WHERE {PERSON_CONTACTS} ORDER BY contact_id",
            c=contact_id,
            e=email_norm,
            p=phone_e164,
        )
        if not contacts or _erased(conn, keys):
            raise UnknownPerson("no person held under this identifier: no proof can be issued")
        ids = [c["contact_id"] for c in contacts]
        emails = sorted({c["email_norm"] for c in contacts if c["email_norm"]} | {email_norm or ""})
        numbers = {c[k] for c in contacts for k in ("phone_e164", "mobile_e164") if c[k]}
        phones = sorted(numbers | {phone_e164 or ""})
        proofs = _rows(
            conn,
            "SELECT contact_id, outcome, collected_at, collection_source, notice_version, "
            "notice_sha256, partner_list_version, ip, user_agent FROM collection_proofs "
            "WHERE contact_id IN :ids ORDER BY collected_at, id",
            ids=ids,
        )
        events = _rows(
            conn,
            "SELECT id, contact_id, event, channel, scope, at, via FROM events "
            "WHERE event IN ('consent', 'opposition') AND (contact_id IN :ids "
            "OR email_norm IN :emails OR phone_e164 IN :phones) ORDER BY at, id",
            ids=ids,
            emails=emails,
            phones=phones,
        )
        lists = _Lists(conn, issued)

        def choice(
            kind: Kind, channel: str, scope: str, at: int, source: Source, **facts: Any
        ) -> Choice:
            form = facts.pop("form", None) or {}
            until = valid_until(applied, channel, at) if kind == "consent" else None
            return Choice(
                kind=kind,
                channel=channel,
                scope=scope,
                given_at=to_iso(at),
                source=source,
                contact_id=facts.get("contact_id"),
                via=facts.get("via"),
                collection_source=facts.get("collection_source") or form.get("collection_source"),
                notice_version=facts.get("notice_version") or form.get("notice_version"),
                notice_sha256=form.get("notice_sha256"),
                ip=form.get("ip"),
                user_agent=form.get("user_agent"),
                partner_list=lists.shown(at, form.get("partner_list_version"), scope)
                if kind == "consent"
                else None,
                valid_until=until.isoformat() if until else None,
            )

        found: list[tuple[int, int, Choice]] = []
        for c in contacts:
            form = next(
                (
                    p
                    for p in proofs
                    if p["contact_id"] == c["contact_id"] and p["outcome"] == "created"
                ),
                None,
            )
            for scope in ("partners", "own"):
                for ch in schema.CHANNELS:
                    state = c[f"{scope}_{ch}"]
                    if state in ("consent", "objection"):
                        found.append(
                            (
                                int(c["collected_at"]),
                                0,
                                choice(
                                    state,
                                    ch,
                                    scope,
                                    int(c["collected_at"]),
                                    "collection",
                                    contact_id=c["contact_id"],
                                    collection_source=c["collection_source"],
                                    notice_version=c["notice_version"],
                                    form=form,
                                ),
                            )
                        )
        for e in events:
            form = None
            if e["via"] == "web_form":  # recorded by a form for a person already held
                form = next(
                    (
                        p
                        for p in proofs
                        if p["contact_id"] == e["contact_id"]
                        and p["outcome"] == "events"
                        and p["collected_at"] == e["at"]
                    ),
                    None,
                )
            kind: Kind = "consent" if e["event"] == "consent" else "opposition"
            found.append(
                (
                    int(e["at"]),
                    int(e["id"]),
                    choice(
                        kind,
                        e["channel"],
                        e["scope"],
                        int(e["at"]),
                        "event",
                        contact_id=e["contact_id"],
                        via=e["via"],
                        form=form,
                    ),
                )
            )
        subject = subjects(conn)  # the audit log names people by keyed digest only
        audit.append(
            conn,
            "consent_proof",
            subject(contact_id, email_norm, phone_e164),
            {"contacts": [subject(i) for i in ids], "choices": len(found)},
            issued,
        )
    found.sort(key=lambda f: (f[0], f[1], f[2].contact_id or "", f[2].scope, f[2].channel))
    owner = settings.owner
    return ConsentProof(
        issued_at=to_iso(issued),
        owner=Owner(owner.name, owner.legal_name or owner.name, owner.address),
        person={"contact_id": contact_id, "email": email_norm, "phone": phone_e164},
        contacts=tuple(ids),
        phone_consent_max_age_days=applied.consent_max_age_days("phone"),
        choices=tuple(f[2] for f in found),
        withdrawal=Withdrawal(
            rights_contact=owner.rights_contact,
            opposition_page=settings.web.link("/opposition") if settings.web.public_url else None,
            privacy_policy_url=owner.privacy_policy_url or None,
        ),
    )


def proof_dict(proof: ConsentProof) -> dict[str, Any]:
    """The proof as JSON-ready data, with ``document`` and ``format`` first."""
    return {"document": "consent_proof", "format": FORMAT, **dataclasses.asdict(proof)}


def proof_json(proof: ConsentProof) -> str:
    """The proof as JSON text (UTF-8, keys in a fixed order, indented)."""
    return json.dumps(proof_dict(proof), ensure_ascii=False, indent=2) + "\n"


def json_sha256(json_text: str) -> str:
    """The SHA-256 of the JSON text as written (UTF-8): printed on the PDF to tie them."""
    return hashlib.sha256(json_text.encode("utf-8")).hexdigest()


__all__ = [
    "FORMAT",
    "Choice",
    "ConsentProof",
    "Owner",
    "PartnerList",
    "PartnerShown",
    "UnknownPerson",
    "Withdrawal",
    "gather",
    "json_sha256",
    "proof_dict",
    "proof_json",
]
