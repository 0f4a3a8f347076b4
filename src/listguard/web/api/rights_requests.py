"""Rights requests through the API (``listguard.rights_requests``): the owner's systems
(its CRM, a letter or call keyed in) record the requests they receive, and follow every
request, those made on the public rights page included, to its deadline. A machine
key of this registry with the scope ``rights:read`` or ``rights:write``.

A request recorded here is not confirmed by the person through a link: the owner's
system has identified them. Its answer is made in the back office, as any other's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from listguard.domain.vocabulary import EventChannel
from listguard.rights_requests import RightsRequest, check, list_requests, read_request, record
from listguard.timeutil import now_ts, to_iso, today
from listguard.web.deps import ERRORS, OwnerGrant, W, owner_scope

router = APIRouter(prefix="/api/v1/rights-requests", tags=["api"], responses=ERRORS)
Kind = Literal["access", "rectification", "erasure", "objection", "portability", "proof"]
Status = Literal["received", "in_progress", "answered", "refused"]
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class RequestOut(BaseModel):
    id: int
    kind: Kind
    via: str
    status: Status
    received_at: str = Field(description="ISO 8601, Paris time")
    due_on: dt.date = Field(
        description="the last day to answer (received + 1 month; 2 months later once "
        "extended and the person told)"
    )
    overdue: bool = Field(description="still open after its due day")
    status_at: str
    channel: str | None = Field(description="an objection's channel")
    reference: str | None = Field(description="the owner's own reference, as recorded")
    reason: str | None = Field(description="a refusal's reason")
    outcome: dict[str, object] = Field(description="what answering did (counts, fields)")
    extended_at: str | None = Field(
        description="when the deadline's extension by two months was decided (art. 12(3))"
    )
    extension_reason: str | None = Field(description="why, as the person is told")
    extension_told_at: str | None = Field(
        description="when the person was told of it: the deadline moved then"
    )


class RequestDetail(RequestOut):
    email: str | None = Field(description="the person's, until the request is closed and done")
    phone: str | None
    changes: dict[str, str] = Field(description="a rectification's fields and values")


def _out(r: RightsRequest) -> dict[str, object]:
    return {
        "id": r.id,
        "kind": r.kind,
        "via": r.via,
        "status": r.status,
        "received_at": to_iso(r.received_at),
        "due_on": r.due_on,
        "overdue": r.overdue(today()),
        "status_at": to_iso(r.status_at),
        "channel": r.channel,
        "reference": r.reference,
        "reason": r.reason,
        "outcome": r.outcome,
        "extended_at": None if r.extended_at is None else to_iso(r.extended_at),
        "extension_reason": r.extension_reason,
        "extension_told_at": None if r.extension_told_at is None else to_iso(r.extension_told_at),
    }


@router.get("", response_model=list[RequestOut])
async def requests_list(
    w: W,
    _: Annotated[OwnerGrant, owner_scope("rights:read")],
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[RequestOut]:
    """The requests, open ones first by due day (the overdue first), then the closed
    ones, latest first; without the persons' identifiers."""
    rows = await run_in_threadpool(lambda: list_requests(w.engine, status=status, limit=limit))
    return [RequestOut.model_validate(_out(r)) for r in rows]


@router.get("/{request_id}", response_model=RequestDetail)
async def request_read(
    request_id: RequestId, w: W, _: Annotated[OwnerGrant, owner_scope("rights:read")]
) -> RequestDetail:
    """One request, with the person's address or number (kept until the request is
    closed and its answer's link has expired)."""
    made = await run_in_threadpool(read_request, w.engine, request_id)
    if made is None:
        raise HTTPException(404, "no such request")
    return RequestDetail.model_validate(
        {**_out(made), "email": made.email, "phone": made.phone, "changes": made.changes}
    )


class RequestIn(BaseModel):
    kind: Kind
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    channel: EventChannel | None = Field(None, description="an objection's (default: all)")
    changes: dict[str, str] = Field(
        default_factory=dict, description="a rectification's fields and their right values"
    )
    via: Literal["letter", "phone", "web_form", "api"] = "api"
    reference: str | None = Field(None, max_length=200, description="your own (a CRM's)")
    received_at: dt.datetime | None = Field(
        None, description="when the owner received it (ISO 8601 with its offset); default: now"
    )


@router.post("", status_code=201, response_model=RequestDetail)
async def request_record(
    body: RequestIn, w: W, _: Annotated[OwnerGrant, owner_scope("rights:write")]
) -> RequestDetail:
    """Record a request the owner received (its deadline runs from ``received_at``)."""
    asked = check(
        body.kind, email=body.email, phone=body.phone, channel=body.channel, changes=body.changes
    )
    at = None
    if body.received_at is not None:
        if body.received_at.tzinfo is None:
            raise HTTPException(400, "received_at needs its offset (e.g. +01:00 or Z)")
        at = int(body.received_at.timestamp())
        if at > now_ts() + 3600:
            raise HTTPException(400, "received_at is to come: a request is recorded once received")
    made_id = await run_in_threadpool(
        lambda: record(w.engine, asked, via=body.via, reference=body.reference, at=at)
    )
    return await request_read(made_id, w, _)


__all__ = ["router"]
