"""Collections through the API: what a person chose on one of the owner's forms, with
its proof, recorded by the owner's systems."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from listguard.collection import Collection
from listguard.web.deps import ERRORS, OwnerGrant, Problem, W, owner_scope

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)


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
    body: CollectionIn, w: W, _: Annotated[OwnerGrant, owner_scope("collections:write")]
) -> CollectedOut:
    """Record what a person chose on one of the owner's forms, with its proof (the
    notice shown and its hash, the partner list version, when, IP and user agent).
    The form's owner-side code calls it with a machine key, never the browser."""
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
    # written with whatever else arrived meanwhile (one transaction); a key used before
    # for another body is a ConflictError (409), a wrong person an InputError (400)
    done = await asyncio.wrap_future(w.collections.submit(collection))
    return CollectedOut.model_validate(
        {"contact_id": done.contact_id, "outcome": done.outcome, "proof_id": done.proof_id}
    )


__all__ = ["router"]
