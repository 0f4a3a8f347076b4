"""Oppositions through the API: recorded by the owner's systems (a form of the owner's,
a letter keyed in, a call), by an SMS provider's STOP webhook, or reported by a
partner that received them."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from listguard import reads
from listguard.domain.scopes import SCOPE_PATTERN
from listguard.domain.vocabulary import EventChannel
from listguard.oppositions import OppositionRequest
from listguard.oppositions import Recorded as RecordedOpposition
from listguard.web.deps import (
    ERRORS,
    OwnerGrant,
    PartnerGrant,
    W,
    owner_scope,
    partner_scope,
)
from listguard.web.state import Web

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)
# the first word of the reply: STOP, STOP SMS, ARRET, ARRÊT, désabonnement, désabonner...
STOP_WORDS = re.compile(
    r"^\W*(stop|arr[eê]t|d[eé]sabonn(e|er|ement)|d[eé]sinscri(re|ption)|unsubscribe)\b",
    re.IGNORECASE,
)
Channel = EventChannel


class Recorded(BaseModel):
    covered: int = Field(description="contacts of the base the opposition covers now")
    messages: int = Field(description="messages queued for the partners holding them")


async def _recorded(w: Web, **request: Any) -> RecordedOpposition:
    """An opposition recorded by the server's writer, with whatever else arrived
    meanwhile (one transaction). A person nobody can be (a bad email...) is an
    ``InputError``: the client's mistake (400), not the server's."""
    done = await asyncio.wrap_future(w.oppositions.submit(OppositionRequest(**request)))
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
    channel: Channel
    scope: str = Field("all", pattern=SCOPE_PATTERN)
    contact_id: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    via: Literal["web_form", "email_link", "letter", "phone", "api"] = "api"


@router.post("/oppositions", status_code=201, response_model=Recorded)
async def post_opposition(
    body: OppositionIn, w: W, _: Annotated[OwnerGrant, owner_scope("oppositions:write")]
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
async def sms_stop(
    body: InboundSms, w: W, _: Annotated[OwnerGrant, owner_scope("sms:stop")]
) -> StopOut:
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


class PartnerReport(BaseModel):
    """An opposition a person made to the partner, reported back to the owner."""

    contact_ref: str | None = Field(
        None, max_length=32, description="The contact's reference in one of your deliveries"
    )
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    channel: Channel = "all"
    scope: Literal["partner", "all"] = Field(
        "partner",
        description="partner: the person objects to your prospecting only (the owner stops "
        "renting them to you); all: to the owner's and every partner's",
    )


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


@router.post("/partner/oppositions", status_code=201, response_model=PartnerRecorded)
async def partner_report(
    body: PartnerReport, w: W, grant: Annotated[PartnerGrant, partner_scope("oppositions:report")]
) -> PartnerRecorded:
    """Report an opposition received by the partner: by the ``contact_ref`` of one of
    its deliveries, or by email or phone. It is recorded like any other (``via`` names
    the partner) and forwarded to every partner holding the person; the answer counts
    only what concerns the calling partner's own deliveries."""
    _one_of("contact_ref, email, phone", body.contact_ref, body.email, body.phone)
    contact_id = None
    if body.contact_ref:
        contact_id = await run_in_threadpool(
            reads.contact_of_ref, w.engine, grant.partner_id, body.contact_ref
        )
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
    covered, messages = await run_in_threadpool(
        reads.queued_for, w.engine, done.event, grant.partner_id
    )
    return PartnerRecorded(recorded=True, covered=covered, messages=messages)


__all__ = ["STOP_WORDS", "router"]
