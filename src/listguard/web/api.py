"""The API: the owner's systems record oppositions (forms, SMS STOP); partners fetch
their deliveries and the oppositions that concern them, and acknowledge them.

Every route takes an API key (``Authorization: Bearer lg_...``) with the scope it
needs; a partner's key sees that partner's data only, and anything else answers 404,
as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import text, update

from listguard.accounts import GRANTS, ApiKey
from listguard.db import schema
from listguard.db.engine import writing
from listguard.domain.retention import Retention
from listguard.domain.scopes import SCOPE_PATTERN
from listguard.domain.vocabulary import EventChannel
from listguard.errors import InputError
from listguard.oppositions import OppositionRequest
from listguard.oppositions import Recorded as RecordedOpposition
from listguard.propagation import (
    SIGNATURE_HEADER,
    acknowledge,
    get_endpoint,
    load_messages,
    partner_secret,
    set_endpoint,
)
from listguard.timeutil import now_ts, to_iso
from listguard.web.app import Web, web


class Problem(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request names nobody, or nobody valid"},
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The key lacks the scope of this route"},
    404: {"model": Problem, "description": "Not found (or another partner's)"},
}
router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)
bearer = HTTPBearer(auto_error=False)
W = Annotated[Web, Depends(web)]
# per kind of delivery, the files that are the partner's (the owner's own stay with the owner)
PARTNER_FILES = {
    "rental": ("contacts.csv", "notice.txt"),
    "enrichment": ("enriched.csv", "notice.txt"),
}
# the first word of the reply: STOP, STOP SMS, ARRET, ARRÊT, désabonnement, désabonner...
STOP_WORDS = re.compile(
    r"^\W*(stop|arr[eê]t|d[eé]sabonn(e|er|ement)|d[eé]sinscri(re|ption)|unsubscribe)\b",
    re.IGNORECASE,
)


async def _key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The grant of the request's key. Async: a key checked within the last second is
    answered from memory in the event loop; only a look-up or the last-use stamp (once
    a minute) goes to a thread."""
    w: Web = request.app.state.web
    if credentials is None:
        w.refused(request, "no_api_key")
        raise HTTPException(401, "an API key is required (Authorization: Bearer lg_...)")
    key = credentials.credentials
    held, grant = GRANTS.peek(w.engine, key)
    if not held:
        grant = await run_in_threadpool(GRANTS.check, w.engine, key)
    now = now_ts()
    if grant is not None and (grant.last_used_at or 0) < now - 60:  # to the minute: no write
        await run_in_threadpool(_stamp_use, w, grant.id, now)
        GRANTS.keep(w.engine, key, replace(grant, last_used_at=now))
    if grant is None:
        w.refused(request, "bad_api_key")
        raise HTTPException(401, "unknown or revoked API key")
    return grant


def _stamp_use(w: Web, key_id: int, now: int) -> None:
    with writing(w.engine) as conn:
        conn.execute(
            update(schema.api_keys).where(schema.api_keys.c.id == key_id).values(last_used_at=now)
        )


def scope(needed: str) -> Any:
    async def check(grant: Annotated[ApiKey, Depends(_key)]) -> ApiKey:
        if needed not in grant.scopes:
            raise HTTPException(403, f"this key lacks the scope {needed}")
        return grant

    return Depends(check)


class Recorded(BaseModel):
    covered: int = Field(description="contacts of the base the opposition covers now")
    messages: int = Field(description="messages queued for the partners holding them")


async def _recorded(w: Web, **request: Any) -> RecordedOpposition:
    """An opposition recorded by the server's writer, with whatever else arrived
    meanwhile (one transaction): a person nobody can be (a bad email...) is the
    client's mistake (400), not the server's."""
    import asyncio

    try:
        done = await asyncio.wrap_future(w.oppositions.submit(OppositionRequest(**request)))
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    if not done.covered:  # recorded all the same: it applies if the person comes later
        w.refusals.add("(recorded)", "covers_no_contact")
    return done


async def _record(w: Web, **request: Any) -> Recorded:
    done = await _recorded(w, **request)
    return Recorded(covered=done.covered, messages=done.messages)


def _one_of(names: str, *values: str | None) -> None:
    if sum(1 for v in values if v) != 1:
        raise HTTPException(400, f"name the person by exactly one of {names}")


class OppositionIn(BaseModel):
    channel: EventChannel
    scope: str = Field("all", pattern=SCOPE_PATTERN)
    contact_id: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    via: Literal["web_form", "email_link", "letter", "phone", "api"] = "api"


@router.post("/oppositions", status_code=201, response_model=Recorded)
async def post_opposition(
    body: OppositionIn, w: W, _: Annotated[ApiKey, scope("oppositions:write")]
) -> Recorded:
    """Record an opposition (a form of the owner's, a letter keyed in, a call)."""
    _one_of("contact_id, email, phone", body.contact_id, body.email, body.phone)
    return await _record(
        w,
        channel=body.channel,
        scope=body.scope,
        via=body.via,
        contact_id=body.contact_id,
        email=body.email,
        phone=body.phone,
    )


class InboundSms(BaseModel):
    """What an SMS provider posts for a reply received."""

    from_number: str = Field(alias="from", max_length=40, examples=["+33612345678"])
    text: str = Field(max_length=2000, examples=["STOP"])
    received_at: dt.datetime | None = Field(
        None, description="When the reply was received (ISO 8601); default: now"
    )


class StopOut(BaseModel):
    stopped: bool
    messages: int = 0


@router.post("/sms/stop", response_model=StopOut)
async def sms_stop(body: InboundSms, w: W, _: Annotated[ApiKey, scope("sms:stop")]) -> StopOut:
    """An SMS provider's inbound webhook: a reply STOP (or ARRET, STOP SMS,
    désabonnement...) from a number is an opposition to SMS for that number, towards
    the owner and every partner, dated when it was received."""
    if not STOP_WORDS.match(body.text):  # answered, changes nothing, counted
        w.refusals.add("/api/v1/sms/stop", "not_a_stop_word")
        return StopOut(stopped=False)
    at = None
    if body.received_at is not None:
        received = body.received_at
        if received.tzinfo is None:
            raise HTTPException(400, "received_at needs its offset (e.g. +01:00 or Z)")
        at = int(received.timestamp())
    done = await _record(
        w, channel="sms", scope="all", via="sms_stop", phone=body.from_number, at=at
    )
    return StopOut(stopped=True, messages=done.messages)


class DeliveryOut(BaseModel):
    delivery_id: int
    kind: Literal["rental", "enrichment"]
    delivered_at: str
    channels: list[str]
    contacts_delivered: int
    files: list[str]


def _deliveries(w: Web, partner_id: str, delivery_id: int | None = None) -> list[Any]:
    where = "partner_id = :p" + (" AND id = :d" if delivery_id is not None else "")
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT id, kind, created_at, channels, contacts_delivered, out_dir "
                    f"FROM deliveries WHERE {where} ORDER BY id"
                ),
                {"p": partner_id, "d": delivery_id},
            )
        )


@router.get("/partner/deliveries", response_model=list[DeliveryOut])
def partner_deliveries(
    w: W, grant: Annotated[ApiKey, scope("deliveries:read")]
) -> list[DeliveryOut]:
    """The partner's own deliveries."""
    assert grant.partner_id is not None
    return [
        DeliveryOut(
            delivery_id=int(r.id),
            kind=r.kind,
            delivered_at=to_iso(int(r.created_at)),
            channels=str(r.channels).split("|"),
            contacts_delivered=int(r.contacts_delivered),
            files=list(PARTNER_FILES[r.kind]),
        )
        for r in _deliveries(w, grant.partner_id)
    ]


@router.get(
    "/partner/deliveries/{delivery_id}/{name}",
    responses={
        200: {"content": {"text/csv": {}, "text/plain": {}}, "description": "The file"},
        410: {"model": Problem, "description": "The owner no longer keeps the files"},
    },
)
def partner_file(
    delivery_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    name: Literal["contacts.csv", "enriched.csv", "notice.txt"],
    w: W,
    grant: Annotated[ApiKey, scope("deliveries:read")],
) -> Response:
    """One file of a delivery: the contacts (a rental) or the enriched client file (an
    enrichment), or the notice to give each person."""
    assert grant.partner_id is not None
    rows = _deliveries(w, grant.partner_id, delivery_id)
    if not rows:
        raise HTTPException(404, "no such delivery")
    if name not in PARTNER_FILES[rows[0].kind]:
        raise HTTPException(404, f"a delivery of kind {rows[0].kind} has no {name}")
    path = Path(rows[0].out_dir) / name
    if not path.is_file():
        raise HTTPException(410, "this delivery's files are no longer kept by the owner")
    media = "text/csv; charset=utf-8" if name.endswith(".csv") else "text/plain; charset=utf-8"
    return FileResponse(path, media_type=media, filename=f"delivery-{delivery_id}-{name}")


class OppositionMessage(BaseModel):
    message_id: str
    status: str
    queued_at: str
    content: dict[str, Any]


@router.get("/partner/oppositions", response_model=list[OppositionMessage])
def partner_oppositions(
    w: W,
    grant: Annotated[ApiKey, scope("oppositions:read")],
    pending: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[OppositionMessage]:
    """The oppositions and erasures concerning the partner's contacts, oldest first:
    by default those not acknowledged yet. Each must be applied, then acknowledged."""
    assert grant.partner_id is not None
    where = "partner_id = :p" + (" AND status <> 'acknowledged'" if pending else "")
    with w.engine.connect() as conn:
        heads = conn.execute(
            text(f"SELECT id, status, created_at FROM outbox WHERE {where} ORDER BY id LIMIT :n"),
            {"p": grant.partner_id, "n": limit},
        ).all()
        bodies = load_messages(conn, [int(h.id) for h in heads])
    return [
        OppositionMessage(
            message_id=bodies[int(h.id)].key,
            status=str(h.status),
            queued_at=to_iso(int(h.created_at)),
            content=json.loads(bodies[int(h.id)].body),
        )
        for h in heads
    ]


class PartnerReport(BaseModel):
    """An opposition a person made to the partner, reported back to the owner."""

    contact_ref: str | None = Field(
        None, max_length=32, description="The contact's reference in one of your deliveries"
    )
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    channel: EventChannel = "all"
    scope: Literal["partner", "all"] = Field(
        "partner",
        description="partner: the person objects to your prospecting only (the owner stops "
        "renting them to you); all: to the owner's and every partner's",
    )


def _delivery_of(contact_ref: str) -> int:
    """The delivery id of a reference ``D<delivery>-<n>`` (0 for anything else)."""
    head = contact_ref[1:].split("-", 1)[0]
    digits = head.isascii() and head.isdigit() and len(head) < 10
    return int(head) if contact_ref.startswith("D") and digits else 0


def _contact_of_ref(w: Web, partner_id: str, contact_ref: str) -> str | None:
    with w.engine.connect() as conn:
        found = conn.execute(
            text(
                # the delivery named by the reference's prefix, its own rows only
                "SELECT l.contact_id FROM deliveries d JOIN ledger l "
                "ON l.id BETWEEN d.ledger_first_id AND d.ledger_last_id "
                "WHERE d.id = :d AND d.partner_id = :p AND l.contact_ref = :r "
                "AND l.contact_id <> 'erased'"
            ),
            {"d": _delivery_of(contact_ref), "p": partner_id, "r": contact_ref},
        ).scalar()
    return None if found is None else str(found)


class PartnerRecorded(BaseModel):
    """What a partner learns of an opposition it reported: only what concerns its own
    deliveries. Whether the owner holds the person, or another partner does, is not
    said: the answer is the same for every person the partner never received."""

    recorded: bool = Field(description="always true: the opposition is recorded")
    covered: int = Field(
        description="coordinates of your own deliveries it covers (0 for anyone else)"
    )
    messages: int = Field(
        description="messages about it queued for you (the coordinates to apply, under "
        "your references), as for any opposition"
    )


def _yours(w: Web, event: int, partner_id: str) -> tuple[int, int]:
    """(coordinates, messages) of the event queued for ``partner_id``."""
    with w.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(i.id), count(DISTINCT o.id) FROM outbox o "
                "JOIN outbox_items i ON i.message_id = o.id "
                "WHERE o.event_id = :e AND o.partner_id = :p"
            ),
            {"e": event, "p": partner_id},
        ).one()
    return int(row[0]), int(row[1])


@router.post("/partner/oppositions", status_code=201, response_model=PartnerRecorded)
async def partner_report(
    body: PartnerReport, w: W, grant: Annotated[ApiKey, scope("oppositions:report")]
) -> PartnerRecorded:
    """Report an opposition received by the partner: by the ``contact_ref`` of one of
    its deliveries, or by email or phone. It is recorded like any other (``via`` names
    the partner) and forwarded to every partner holding the person; the answer counts
    only what concerns the calling partner's own deliveries."""
    from starlette.concurrency import run_in_threadpool

    assert grant.partner_id is not None
    _one_of("contact_ref, email, phone", body.contact_ref, body.email, body.phone)
    contact_id = None
    if body.contact_ref:
        contact_id = await run_in_threadpool(_contact_of_ref, w, grant.partner_id, body.contact_ref)
        if contact_id is None:
            raise HTTPException(404, "no such contact_ref in your deliveries")
    done = await _recorded(
        w,
        channel=body.channel,
        scope=f"partner:{grant.partner_id}" if body.scope == "partner" else "all",
        via=f"partner:{grant.partner_id}",
        contact_id=contact_id,
        email=body.email,
        phone=body.phone,
    )
    covered, messages = await run_in_threadpool(_yours, w, done.event, grant.partner_id)
    return PartnerRecorded(recorded=True, covered=covered, messages=messages)


class Ack(BaseModel):
    acknowledged: bool


@router.post("/partner/oppositions/{message_id}/ack", response_model=Ack)
def partner_ack(
    message_id: Annotated[str, PathParam(max_length=64)],
    w: W,
    grant: Annotated[ApiKey, scope("oppositions:ack")],
) -> Ack:
    """The partner has applied the message to its own files."""
    assert grant.partner_id is not None
    if not acknowledge(w.engine, message_id, partner_id=grant.partner_id):
        raise HTTPException(404, "no such message for this partner")
    return Ack(acknowledged=True)


class EndpointOut(BaseModel):
    notify_url: str | None = Field(description="Where messages are posted (webhook)")
    notify_email: str | None = Field(description="Where the email digest goes")
    file_identifiers: Literal["clear", "hashed"] = Field(
        description="In file drops: the coordinates, or keyed hashes of them"
    )
    signing_secret: str = Field(
        description="The key webhooks are signed with (HMAC-SHA256) and file-drop hashes "
        "are keyed with"
    )


class EndpointIn(BaseModel):
    """Fields left out stay as they are; an empty string removes an address."""

    notify_url: str | None = Field(None, max_length=2000, examples=["https://crm.example/hook"])
    notify_email: str | None = Field(None, max_length=320)
    file_identifiers: Literal["clear", "hashed"] | None = None


def _endpoint_out(w: Web, partner_id: str) -> EndpointOut:
    with writing(w.engine) as conn:  # the secret is made on first use
        secret = partner_secret(conn, partner_id)
        now = get_endpoint(conn, partner_id)
    return EndpointOut(
        notify_url=now.notify_url,
        notify_email=now.notify_email,
        file_identifiers="hashed" if now.file_identifiers == "hashed" else "clear",
        signing_secret=secret,
    )


@router.get("/partner/endpoint", response_model=EndpointOut)
def partner_endpoint(w: W, grant: Annotated[ApiKey, scope("oppositions:read")]) -> EndpointOut:
    """Where and how the partner receives its messages, and the key they are signed with."""
    assert grant.partner_id is not None
    return _endpoint_out(w, grant.partner_id)


@router.put("/partner/endpoint", response_model=EndpointOut)
def put_partner_endpoint(
    body: EndpointIn, w: W, grant: Annotated[ApiKey, scope("endpoint:write")]
) -> EndpointOut:
    """Change where the partner receives its messages (webhook URL, digest address) or
    asks for keyed hashes in file drops. The change is versioned and audited."""
    assert grant.partner_id is not None
    given = body.model_fields_set
    changes: dict[str, Any] = {
        k: getattr(body, k) for k in ("notify_url", "notify_email") if k in given
    }
    if "file_identifiers" in given and body.file_identifiers is not None:
        changes["file_identifiers"] = body.file_identifiers
    try:
        set_endpoint(w.engine, grant.partner_id, by=f"partner:{grant.partner_id}", **changes)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return _endpoint_out(w, grant.partner_id)


class InboundOut(BaseModel):
    message_id: str
    type: str
    applied: int = Field(description="coordinates put on the suppression list, or persons erased")
    repeat: bool = Field(description="already received: nothing applied again")


@router.post(
    "/inbound/{source}",
    response_model=InboundOut,
    tags=["partner side"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def inbound(
    source: Annotated[str, PathParam(max_length=64)],
    request: Request,
    w: W,
    background: BackgroundTasks,
) -> InboundOut:
    """The partner side: an owner's signed webhook (header ``Listguard-Signature``),
    applied to this registry's suppression list (or erasing the person), then
    acknowledged to the owner through the message's link once answered."""
    from starlette.concurrency import run_in_threadpool

    from listguard.inbound import Refused, acknowledge_pending, receive

    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    try:
        got = await run_in_threadpool(
            receive, w.engine, source, body, signature, retention=Retention.of(w.settings)
        )
    except Refused as exc:
        w.refused(request, exc.reason)
        raise HTTPException(exc.status, str(exc)) from None
    if not got.repeat:
        background.add_task(acknowledge_pending, w.engine, source, got.key)
    return InboundOut(message_id=got.key, type=got.type, applied=got.applied, repeat=got.repeat)


_Choice = Literal["consent", "objection", "informed"]
_Text = Annotated[str | None, Field(None, max_length=200)]


class PersonIn(BaseModel):
    """The person, in the fields of the contacts format."""

    contact_id: str = Field(min_length=1, max_length=200, description="the owner's id")
    civility: _Text = None
    first_name: _Text = None
    last_name: _Text = None
    company: _Text = None
    audience: Literal["b2c", "b2b"] | None = None
    address_line2: _Text = None
    address_line3: _Text = None
    address_line4: _Text = None
    address_line5: _Text = None
    postal_code: Annotated[str | None, Field(None, max_length=16)] = None  # as its column
    city: _Text = None
    country: Annotated[str | None, Field(None, max_length=2)] = None
    phone: Annotated[str | None, Field(None, max_length=40)] = None
    mobile: Annotated[str | None, Field(None, max_length=40)] = None
    email: Annotated[str | None, Field(None, max_length=320)] = None
    birth_date: Annotated[str | None, Field(None, max_length=30)] = None


class CollectionIn(BaseModel):
    """A collection on one of the owner's forms, with what it showed."""

    idempotency_key: str = Field(
        min_length=8, max_length=200, description="one per submitted form: a retry is one record"
    )
    person: PersonIn
    choices: dict[
        Literal[
            "partners_postal",
            "partners_phone",
            "partners_automated_call",
            "partners_sms",
            "partners_email",
            "own_postal",
            "own_phone",
            "own_automated_call",
            "own_sms",
            "own_email",
        ],
        _Choice,
    ] = Field(description="per scope and channel, as in the contacts format")
    notice_version: str = Field(min_length=1, max_length=100)
    notice_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    partner_list_version: int | None = Field(None, ge=1, le=2**31 - 1)
    collected_at: dt.datetime | None = Field(
        None, description="when the person submitted (ISO 8601 with offset); default: now"
    )
    collection_source: _Text = None
    ip: str | None = Field(None, max_length=45, description="the person's IP address")
    user_agent: str | None = Field(None, max_length=1000)


class CollectedOut(BaseModel):
    contact_id: str
    outcome: Literal["created", "events", "replayed"] = Field(
        description="a new contact; a contact already held (its new choices are events); "
        "or this idempotency key was recorded before"
    )
    proof_id: int


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectedOut,
    responses={409: {"model": Problem, "description": "The key was used for another body"}},
)
async def post_collection(
    body: CollectionIn, w: W, _: Annotated[ApiKey, scope("collections:write")]
) -> CollectedOut:
    """Record what a person chose on one of the owner's forms, with its proof (the
    notice shown and its hash, the partner list version, when, IP and user agent).
    The form's owner-side code calls it with a machine key, never the browser."""
    import asyncio
    import ipaddress

    from listguard.collection import Collection, ConflictError

    if body.collected_at is not None and body.collected_at.tzinfo is None:
        raise HTTPException(400, "collected_at needs its offset (e.g. +01:00 or Z)")
    if body.ip is not None:
        try:
            ipaddress.ip_address(body.ip)
        except ValueError:
            raise HTTPException(400, "ip: not an IP address") from None
    person = {k: v for k, v in body.person.model_dump().items() if v is not None}
    collection = Collection(
        idempotency_key=body.idempotency_key,
        contact=person,
        choices={str(k): str(v) for k, v in body.choices.items()},
        notice_version=body.notice_version,
        collected_at=int(body.collected_at.timestamp()) if body.collected_at else None,
        notice_sha256=body.notice_sha256,
        partner_list_version=body.partner_list_version,
        collection_source=body.collection_source,
        ip=body.ip,
        user_agent=body.user_agent,
    )
    try:  # written with whatever else arrived meanwhile (one transaction)
        done = await asyncio.wrap_future(w.collections.submit(collection))
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return CollectedOut.model_validate(
        {"contact_id": done.contact_id, "outcome": done.outcome, "proof_id": done.proof_id}
    )
