"""Rights requests (GDPR art. 12 to 21): a person asks for access, rectification,
erasure, objection, portability or the proof of their consents; the request is
recorded, tracked to its legal deadline and answered.

How a request arrives. On the public rights page, the person gives the request and
their email address (or mobile number); a signed link valid ``CONFIRM_DAYS`` days is
mailed to that address when the registry holds it (or a code is sent by SMS), and the
request is recorded only once they confirm through it: whoever types someone else's
address records nothing. The owner's systems (its CRM, a letter keyed in) record
requests directly through the API (``via``).

What is kept. The person by keyed digest (``person``, as the audit log names them,
``listguard.identifiers``); what answering needs (their address or number, the
corrections asked) encrypted (AES-256-GCM, a key of the registry's named
``rights_requests``), forgotten once the request is closed and its answer's link has
expired (``forget_answered``). An objection's channel and the owner's reference are
kept in clear (no personal data).

The deadline (art. 12(3): one month of receipt) is ``due_on``: the same day of the
next month, or that month's last day when it has no such day (received on 31 January,
due on 28 or 29 February), days counted in Paris time; two months later once extended
and the person told (``listguard.rights_extension``).

Statuses: ``received``, ``in_progress``, ``answered``, ``refused`` (with its reason).
Answering applies the request with the services that do it everywhere else
(``listguard.rights_answers``) and keeps the answer document, encrypted, for
``ANSWER_DAYS`` days: the person downloads it through a signed link of the same kind.
Every step is written to the audit log, naming the person by keyed digest.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, text

from listguard import audit
from listguard.db.keys import registry_secret
from listguard.domain.coverage import PERSON_CONTACTS
from listguard.domain.vocabulary import EVENT_CHANNELS, VIAS
from listguard.errors import InputError
from listguard.identifiers import person_subject
from listguard.oppositions import person_keys
from listguard.rights import RECTIFIABLE
from listguard.storage.engine import writing
from listguard.timeutil import now_ts, to_day
from listguard.tokens import token_bytes, token_text

KINDS = ("access", "rectification", "erasure", "objection", "portability", "proof")
STATUSES = ("received", "in_progress", "answered", "refused")
OPEN = ("received", "in_progress")
SECRET = "rights_requests"
CONFIRM_DAYS = 7  # the link that confirms a request made on the public page
ANSWER_DAYS = 30  # the link that downloads the answer (and how long the answer is kept)
MAX_TOKEN = 4000
MAX_VALUE = 200  # a corrected value's length


@dataclass(frozen=True)
class Asked:
    """A request, checked: the person by normalised email or E.164 number."""

    kind: str
    email: str | None = None
    phone: str | None = None
    channel: str | None = None  # an objection's
    changes: dict[str, str] = field(default_factory=dict)  # a rectification's


@dataclass(frozen=True)
class RightsRequest:
    id: int
    kind: str
    via: str
    status: str
    received_at: int
    due_on: dt.date
    status_at: int
    channel: str | None
    reference: str | None
    handled_by: str | None
    reason: str | None
    outcome: dict[str, Any]
    answer_until: int | None
    # the deadline's extension by two months (art. 12(3)): when it was decided and why,
    # and when the person was told (``due_on`` moves then, ``listguard.rights_extension``)
    extended_at: int | None
    extension_reason: str | None
    extension_told_at: int | None
    # what answering needs, None once forgotten (or when not read)
    email: str | None = None
    phone: str | None = None
    changes: dict[str, str] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def overdue(self, on: dt.date) -> bool:
        """Still open after its due day."""
        return self.open and self.due_on < on


def due_on(received: dt.date, months: int = 1) -> dt.date:
    """The last day to answer a request received on ``received`` (art. 12(3)): the same
    day ``months`` months later, or that month's last day when it has no such day."""
    year, month = divmod(received.year * 12 + received.month - 1 + months, 12)
    month += 1
    return dt.date(year, month, min(received.day, calendar.monthrange(year, month)[1]))


def check(
    kind: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    channel: str | None = None,
    changes: dict[str, str] | None = None,
) -> Asked:
    """The request checked and its person normalised, or ``InputError`` saying what is
    wrong and where."""
    if kind not in KINDS:
        raise InputError(
            f"unknown request {kind!r}: expected one of {', '.join(KINDS)}",
            where="kind",
            fr=f"demande inconnue {kind!r} ; valeurs possibles : {', '.join(KINDS)}",
        )
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None
    if (email is None) == (phone is None):
        raise InputError(
            "name the person by exactly one of email or phone",
            where="email",
            fr="désignez la personne par son email ou par son téléphone, l'un des deux",
        )
    email_norm, phone_e164 = person_keys(None, email, phone)
    if kind == "objection":
        channel = channel or "all"
        if channel not in EVENT_CHANNELS:
            raise InputError(
                f"unknown channel {channel!r}: expected one of {', '.join(EVENT_CHANNELS)}",
                where="channel",
                fr=f"canal inconnu {channel!r} ; valeurs possibles : {', '.join(EVENT_CHANNELS)}",
            )
    else:
        channel = None
    asked: dict[str, str] = {}
    if kind == "rectification":
        asked = {k.strip(): v.strip() for k, v in (changes or {}).items() if v and v.strip()}
        unknown = sorted(set(asked) - set(RECTIFIABLE))
        if unknown:
            raise InputError(
                f"cannot rectify {', '.join(unknown)}: expected among {', '.join(RECTIFIABLE)}",
                where="field",
                fr=f"impossible de rectifier ici {', '.join(unknown)} ; valeurs possibles : "
                f"{', '.join(RECTIFIABLE)}",
            )
        if not asked:
            raise InputError(
                "a rectification says what to correct: a field and its value",
                where="value",
                fr="une rectification dit quoi corriger : un champ et sa valeur",
            )
        long = [k for k, v in asked.items() if len(v) > MAX_VALUE]
        if long:
            raise InputError(
                f"{long[0]}: at most {MAX_VALUE} characters",
                where="value",
                fr=f"{long[0]} : {MAX_VALUE} caractères au plus",
            )
    return Asked(kind, email_norm, phone_e164, channel, asked)


def _cipher(conn: Connection, *, create: bool) -> AESGCM | None:
    key = registry_secret(conn, SECRET, create=create)
    return None if key is None else AESGCM(bytes.fromhex(key))


def _seal(conn: Connection, purpose: bytes, plain: bytes) -> str:
    cipher = _cipher(conn, create=True)
    assert cipher is not None  # made just now if it did not exist
    nonce = secrets.token_bytes(12)
    return token_text(nonce + cipher.encrypt(nonce, plain, purpose))


def _unseal(conn: Connection, purpose: bytes, sealed: str) -> bytes | None:
    cipher = _cipher(conn, create=False)
    if cipher is None:
        return None
    try:
        raw = token_bytes(sealed)
        return cipher.decrypt(raw[:12], raw[12:], purpose)
    except (ValueError, InvalidTag):
        return None


def _token(conn: Connection, purpose: bytes, body: dict[str, Any]) -> str:
    return _seal(conn, purpose, json.dumps(body, separators=(",", ":"), sort_keys=True).encode())


def _read_token(
    conn: Connection, purpose: bytes, token: str, now: int | None
) -> dict[str, Any] | None:
    """What a link of this registry carries, or None (altered, made elsewhere, expired)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    plain = _unseal(conn, purpose, token)
    if plain is None:
        return None
    body: dict[str, Any] = json.loads(plain)
    if int(body["x"]) <= (now if now is not None else now_ts()):
        return None
    return body


def _asked_body(asked: Asked) -> dict[str, Any]:
    body: dict[str, Any] = {"k": asked.kind}
    for key, value in (("e", asked.email), ("p", asked.phone), ("ch", asked.channel)):
        if value:
            body[key] = value
    if asked.changes:
        body["r"] = asked.changes
    return body


def _asked_of(body: dict[str, Any]) -> Asked:
    return Asked(
        str(body["k"]),
        body.get("e"),
        body.get("p"),
        body.get("ch"),
        {str(k): str(v) for k, v in body.get("r", {}).items()},
    )


def held(conn: Connection, email: str | None, phone: str | None) -> bool:
    """Whether the registry holds a contact with this address or number."""
    row = conn.execute(
        text(f"SELECT 1 FROM contacts WHERE {PERSON_CONTACTS} LIMIT 1"),
        {"c": None, "e": email, "p": phone},
    ).first()
    return row is not None


def confirm_link(
    engine: Engine, asked: Asked, *, days: int = CONFIRM_DAYS, now: int | None = None
) -> str | None:
    """The token of the link that confirms ``asked`` (named by email), when the registry
    holds the address; else None, the same work done either way."""
    assert asked.email is not None
    body = {**_asked_body(asked), "x": (now if now is not None else now_ts()) + days * 86400}
    with writing(engine) as conn:
        token = _token(conn, b"confirm", body)
        known = held(conn, asked.email, None)
    return token if known else None


def read_confirm_link(conn: Connection, token: str, now: int | None = None) -> Asked | None:
    """The request a confirmation link carries, or None when it is not valid."""
    body = _read_token(conn, b"confirm", token, now)
    return None if body is None else _asked_of(body)


def record(
    engine: Engine,
    asked: Asked,
    *,
    via: str,
    reference: str | None = None,
    confirm_key: str | None = None,
    at: int | None = None,
) -> int:
    """Record a request (received now, or ``at``); returns its id. ``confirm_key``: the
    confirmation link's own key, so that the link followed twice records one request."""
    if via not in VIAS:
        raise InputError(
            f"unknown via {via!r}: expected one of {', '.join(VIAS)}",
            where="via",
            fr=f"voie inconnue {via!r} ; valeurs possibles : {', '.join(VIAS)}",
        )
    if reference is not None and len(reference) > 200:
        raise InputError(
            "at most 200 characters", where="reference", fr="référence : 200 caractères au plus"
        )
    received = at if at is not None else now_ts()
    with writing(engine) as conn:
        if confirm_key is not None:
            done = conn.execute(
                text("SELECT id FROM rights_requests WHERE confirm_key = :k"), {"k": confirm_key}
            ).scalar()
            if done is not None:
                return int(done)
        person = person_subject(conn, None, asked.email, asked.phone)
        assert person is not None
        sealed = {"e": asked.email, "p": asked.phone, "r": asked.changes}
        due = due_on(to_day(received)).isoformat()
        request_id = conn.execute(
            text(
                "INSERT INTO rights_requests (kind, via, person, sealed, channel, reference, "
                "confirm_key, received_at, due_on, status, status_at) VALUES (:kind, :via, "
                ":person, :sealed, :channel, :reference, :key, :at, :due, 'received', :at) "
                "RETURNING id"
            ),
            {
                "kind": asked.kind,
                "via": via,
                "person": person,
                "sealed": _seal(conn, b"request", json.dumps(sealed).encode()),
                "channel": asked.channel,
                "reference": reference,
                "key": confirm_key,
                "at": received,
                "due": due,
            },
        ).scalar_one()
        audit.append(
            conn,
            "rights_request_received",
            person,
            {"request": int(request_id), "kind": asked.kind, "via": via, "due_on": due},
            received,
        )
    return int(request_id)


def confirm_key(token: str) -> str:
    """The key a confirmation link is recorded under (its SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


_COLUMNS = (
    "id, kind, via, status, received_at, due_on, status_at, channel, reference, "
    "handled_by, reason, outcome, answer_until, extended_at, extension_reason, "
    "extension_told_at, sealed"
)


def _request(conn: Connection, row: Any, *, personal: bool) -> RightsRequest:
    who: dict[str, Any] = {}
    if personal and row.sealed:
        plain = _unseal(conn, b"request", str(row.sealed))
        who = json.loads(plain) if plain else {}
    return RightsRequest(
        id=int(row.id),
        kind=str(row.kind),
        via=str(row.via),
        status=str(row.status),
        received_at=int(row.received_at),
        due_on=dt.date.fromisoformat(str(row.due_on)),
        status_at=int(row.status_at),
        channel=row.channel,
        reference=row.reference,
        handled_by=row.handled_by,
        reason=row.reason,
        outcome=json.loads(row.outcome) if row.outcome else {},
        answer_until=None if row.answer_until is None else int(row.answer_until),
        extended_at=None if row.extended_at is None else int(row.extended_at),
        extension_reason=row.extension_reason,
        extension_told_at=None if row.extension_told_at is None else int(row.extension_told_at),
        email=who.get("e"),
        phone=who.get("p"),
        changes=dict(who.get("r") or {}),
    )


def list_requests(
    engine: Engine, *, status: str | None = None, limit: int = 500
) -> list[RightsRequest]:
    """Requests, open ones first by due day (the overdue at the top), then the closed
    ones, latest first; without the person's identifiers."""
    if status is not None and status not in STATUSES:
        raise InputError(
            f"unknown status {status!r}: expected one of {', '.join(STATUSES)}",
            fr=f"statut inconnu {status!r} ; valeurs possibles : {', '.join(STATUSES)}",
        )
    where = "WHERE status = :status" if status else ""
    query = text(
        f"SELECT {_COLUMNS} FROM rights_requests {where} ORDER BY "
        "CASE WHEN status IN ('received', 'in_progress') THEN 0 ELSE 1 END, "
        "CASE WHEN status IN ('received', 'in_progress') THEN due_on END, "
        "status_at DESC, id LIMIT :limit"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"status": status, "limit": limit}).all()
        return [_request(conn, r, personal=False) for r in rows]


def get_request(conn: Connection, request_id: int) -> RightsRequest | None:
    """One request, with what answering it needs (while kept)."""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM rights_requests WHERE id = :i"), {"i": request_id}
    ).first()
    return None if row is None else _request(conn, row, personal=True)


def read_request(engine: Engine, request_id: int) -> RightsRequest | None:
    with engine.connect() as conn:
        return get_request(conn, request_id)


def _move(
    conn: Connection,
    request_id: int,
    to: str,
    by: str,
    *,
    reason: str | None = None,
    outcome: dict[str, Any] | None = None,
) -> RightsRequest:
    """Move an open request to ``to``, audited; ``InputError`` when it is closed."""
    at = now_ts()
    moved = conn.execute(
        text(
            "UPDATE rights_requests SET status = :to, status_at = :at, handled_by = :by, "
            "reason = :reason, outcome = :outcome WHERE id = :i "
            "AND status IN ('received', 'in_progress')"
        ),
        {
            "to": to,
            "at": at,
            "by": by,
            "reason": reason,
            "outcome": None if outcome is None else json.dumps(outcome, sort_keys=True),
            "i": request_id,
        },
    )
    if moved.rowcount != 1:
        raise not_open(request_id)
    done = get_request(conn, request_id)
    assert done is not None
    detail: dict[str, Any] = {"request": request_id, "kind": done.kind, "status": to, "by": by}
    if outcome:
        detail["outcome"] = outcome
    audit_request(conn, request_id, f"rights_request_{to}", detail, at)
    return done


def not_open(request_id: int) -> InputError:
    """The error of acting on a request that is closed (or none)."""
    return InputError(
        f"request {request_id} is not open (answered, refused or unknown)",
        fr=f"la demande {request_id} n'est pas ouverte (déjà traitée, refusée ou inconnue)",
    )


def audit_request(
    conn: Connection, request_id: int, action: str, detail: dict[str, Any], at: int
) -> None:
    """Write ``action`` on the request to the audit log, naming its person by digest."""
    person = conn.execute(
        text("SELECT person FROM rights_requests WHERE id = :i"), {"i": request_id}
    ).scalar_one()
    audit.append(conn, action, str(person), detail, at)


def start(engine: Engine, request_id: int, by: str) -> RightsRequest:
    """Mark a request as being handled (by ``by``, the operator)."""
    with writing(engine) as conn:
        return _move(conn, request_id, "in_progress", by)


@dataclass(frozen=True)
class Document:
    """An answer to download: its bytes, file name and media type."""

    body: bytes
    name: str
    media_type: str


def close(
    engine: Engine,
    request_id: int,
    by: str,
    document: Document,
    *,
    reason: str | None = None,
    outcome: dict[str, Any] | None = None,
    days: int = ANSWER_DAYS,
) -> str:
    """Close a request, answered (``reason`` None) or refused, keeping ``document``
    encrypted for ``days``; returns the token of the link that downloads it."""
    until = now_ts() + days * 86400
    with writing(engine) as conn:
        _move(
            conn,
            request_id,
            "refused" if reason is not None else "answered",
            by,
            reason=reason,
            outcome=outcome,
        )
        conn.execute(
            text(
                "UPDATE rights_requests SET answer = :a, answer_name = :n, answer_type = :m, "
                "answer_until = :u WHERE id = :i"
            ),
            {
                "a": _seal(conn, b"answer:%d" % request_id, document.body),
                "n": document.name,
                "m": document.media_type,
                "u": until,
                "i": request_id,
            },
        )
        return _token(conn, b"answer", {"i": request_id, "x": until})


def answer_link(engine: Engine, request_id: int) -> str | None:
    """A new token for a closed request's answer, while it is kept (to send it again)."""
    with writing(engine) as conn:
        until = conn.execute(
            text("SELECT answer_until FROM rights_requests WHERE id = :i AND answer IS NOT NULL"),
            {"i": request_id},
        ).scalar()
        if until is None or int(until) <= now_ts():
            return None
        return _token(conn, b"answer", {"i": request_id, "x": int(until)})


def read_answer(engine: Engine, token: str, now: int | None = None) -> Document | None:
    """The answer a download link names, while valid; None otherwise."""
    with engine.connect() as conn:
        body = _read_token(conn, b"answer", token, now)
        if body is None:
            return None
        request_id = int(body["i"])
        row = conn.execute(
            text(
                "SELECT answer, answer_name, answer_type, answer_until FROM rights_requests "
                "WHERE id = :i AND answer IS NOT NULL"
            ),
            {"i": request_id},
        ).first()
        if row is None or int(row.answer_until) <= (now if now is not None else now_ts()):
            return None
        plain = _unseal(conn, b"answer:%d" % request_id, str(row.answer))
    if plain is None:
        return None
    return Document(plain, str(row.answer_name), str(row.answer_type))


def forget_answered(engine: Engine, *, now: int | None = None) -> int:
    """Forget the answer and the person's identifiers of every closed request whose
    answer's link has expired (the request, its dates and the digest stay, as the
    owner's record of having answered); returns how many."""
    at = now if now is not None else now_ts()
    with writing(engine) as conn:
        done = conn.execute(
            text(
                "UPDATE rights_requests SET answer = NULL, sealed = '' "
                "WHERE status IN ('answered', 'refused') AND answer_until <= :t "
                "AND (answer IS NOT NULL OR sealed <> '')"
            ),
            {"t": at},
        )
    return int(done.rowcount or 0)


__all__ = [
    "ANSWER_DAYS",
    "CONFIRM_DAYS",
    "KINDS",
    "OPEN",
    "STATUSES",
    "Asked",
    "Document",
    "RightsRequest",
    "answer_link",
    "audit_request",
    "check",
    "close",
    "confirm_key",
    "confirm_link",
    "due_on",
    "forget_answered",
    "get_request",
    "held",
    "list_requests",
    "not_open",
    "read_answer",
    "read_confirm_link",
    "read_request",
    "record",
    "start",
]
