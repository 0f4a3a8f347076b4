"""What a partner's key reads and does: its deliveries and their files, the messages
queued for it (oppositions, erasures, rectifications) and their acknowledgement, and
where and how it receives them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from listguard import reads
from listguard.propagation.acks import acknowledge
from listguard.propagation.endpoints import get_endpoint, set_endpoint
from listguard.propagation.signing import partner_secret
from listguard.storage.engine import writing
from listguard.timeutil import to_iso
from listguard.web.deps import ERRORS, PartnerGrant, Problem, W, partner_scope
from listguard.web.state import Web

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)
# per kind of delivery, the files that are the partner's (the owner's own stay with the owner)
PARTNER_FILES = {
    "rental": ("contacts.csv", "notice.txt"),
    "enrichment": ("enriched.csv", "notice.txt"),
}


class DeliveryOut(BaseModel):
    delivery_id: int
    kind: Literal["rental", "enrichment"]
    delivered_at: str
    channels: list[str]
    contacts_delivered: int
    files: list[str]


@router.get("/partner/deliveries", response_model=list[DeliveryOut])
def partner_deliveries(
    w: W, grant: Annotated[PartnerGrant, partner_scope("deliveries:read")]
) -> list[DeliveryOut]:
    """The partner's own deliveries."""
    return [
        DeliveryOut(
            delivery_id=int(r.id),
            kind=r.kind,
            delivered_at=to_iso(int(r.created_at)),
            channels=str(r.channels).split("|"),
            contacts_delivered=int(r.contacts_delivered),
            files=list(PARTNER_FILES[r.kind]),
        )
        for r in reads.deliveries(w.engine, partner_id=grant.partner_id, newest_first=False)
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
    grant: Annotated[PartnerGrant, partner_scope("deliveries:read")],
) -> Response:
    """One file of a delivery: the contacts (a rental) or the enriched client file (an
    enrichment), or the notice to give each person."""
    rows = reads.deliveries(w.engine, partner_id=grant.partner_id, delivery_id=delivery_id)
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
    grant: Annotated[PartnerGrant, partner_scope("oppositions:read")],
    pending: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[OppositionMessage]:
    """The oppositions and erasures concerning the partner's contacts, oldest first:
    by default those not acknowledged yet. Each must be applied, then acknowledged."""
    return [
        OppositionMessage(
            message_id=m.key,
            status=m.status,
            queued_at=to_iso(m.queued_at),
            content=m.content,
        )
        for m in reads.partner_messages(w.engine, grant.partner_id, pending=pending, limit=limit)
    ]


class Ack(BaseModel):
    acknowledged: bool


@router.post("/partner/oppositions/{message_id}/ack", response_model=Ack)
def partner_ack(
    message_id: Annotated[str, PathParam(max_length=64)],
    w: W,
    grant: Annotated[PartnerGrant, partner_scope("oppositions:ack")],
) -> Ack:
    """The partner has applied the message to its own files."""
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
def partner_endpoint(
    w: W, grant: Annotated[PartnerGrant, partner_scope("oppositions:read")]
) -> EndpointOut:
    """Where and how the partner receives its messages, and the key they are signed with."""
    return _endpoint_out(w, grant.partner_id)


@router.put("/partner/endpoint", response_model=EndpointOut)
def put_partner_endpoint(
    body: EndpointIn, w: W, grant: Annotated[PartnerGrant, partner_scope("endpoint:write")]
) -> EndpointOut:
    """Change where the partner receives its messages (webhook URL, digest address) or
    asks for keyed hashes in file drops. The change is versioned and audited."""
    given = body.model_fields_set
    changes: dict[str, Any] = {
        k: getattr(body, k) for k in ("notify_url", "notify_email") if k in given
    }
    if "file_identifiers" in given and body.file_identifiers is not None:
        changes["file_identifiers"] = body.file_identifiers
    # a wrong address is an InputError: answered 400 with its message
    set_endpoint(w.engine, grant.partner_id, by=f"partner:{grant.partner_id}", **changes)
    return _endpoint_out(w, grant.partner_id)


__all__ = ["PARTNER_FILES", "router"]
