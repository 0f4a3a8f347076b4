"""The owner API: what the owner's own systems (a CRM) do without the command line.
Explain one contact's decision as ``listguard check`` does, preview an order, deliver
it under the hash of what was previewed, list the deliveries and read one's counts,
manifest and files (the owner's own included).

A key of the owner's systems (never a partner's, whatever its scopes) with the scope
of the route: ``decisions:read``, ``rentals:preview``, ``rentals:deliver``,
``deliveries:read``. The work is done by ``listguard.owner_api``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from listguard import owner_api
from listguard.domain.vocabulary import Channel
from listguard.renting.check_order import CheckOptions
from listguard.renting.delivery_files import OWNER_FILES, media_type
from listguard.rules.offers import OFFERS
from listguard.rules.packs import CALL_PURPOSES
from listguard.web.deps import ERRORS, OwnerGrant, Problem, W, owner_scope

router = APIRouter(prefix="/api/v1/owner", tags=["owner"], responses=ERRORS)
DeliveryId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
# the schema lists the values; the lists themselves are the domain's
FileName = Literal[OWNER_FILES]  # type: ignore[valid-type]
OFFER = Literal[OFFERS]  # type: ignore[valid-type]
CALL_PURPOSE = Literal[CALL_PURPOSES]  # type: ignore[valid-type]
BUSY: dict[int | str, dict[str, Any]] = {
    423: {"model": Problem, "description": "Another rental is running: try again later"}
}


def _by(grant: OwnerGrant) -> str:
    return owner_api.by_key(grant.key.prefix)


# --- one decision explained ---------------------------------------------------------


class ExplainIn(BaseModel):
    """As ``listguard check CONTACT_ID --channel ...``'s options."""

    model_config = ConfigDict(extra="forbid")
    contact_id: str = Field(min_length=1, max_length=200, examples=["C0000042"])
    channel: Channel
    partner: str | None = Field(None, max_length=64, description="default: the delivery's")
    as_of: dt.date | None = Field(None, description="delivery date (default: today)")
    campaign_start: dt.date | None = None
    campaign_end: dt.date | None = None
    call_purpose: CALL_PURPOSE | None = None
    offer: OFFER | None = None
    delivery: int | None = Field(
        None, ge=1, le=2**31 - 1, description="explain this past delivery's row"
    )


class ExclusionReason(BaseModel):
    code: str
    rule: str
    source: str = Field(description="the rule's legal source")


class Coordinate(BaseModel):
    coordinate: str | None = Field(description="the email, number or address decided")
    eligible: bool
    reasons: list[ExclusionReason] = Field(description="why it is excluded (none when eligible)")


class Explanation(BaseModel):
    contact_id: str
    audience: str
    partner: str
    partner_name: str
    channel: str
    as_of: str
    delivery: int | None
    campaign_start: str
    campaign_end: str
    call_purpose: str
    offer: str
    packs: list[str]
    regime: str = Field(description="opt-in or opt-out, for this contact on this channel")
    same_person: list[str] = Field(description="the other records of the person (dedupe)")
    coordinates: list[Coordinate] = Field(description="none: collected after the date")
    text: str = Field(description="the explanation as `listguard check` prints it")


@router.post("/decisions/explain", response_model=Explanation)
def explain_decision(
    body: ExplainIn, w: W, grant: Annotated[OwnerGrant, owner_scope("decisions:read")]
) -> dict[str, Any]:
    """One contact's decision on one channel, with each reason's rule and legal source:
    what `listguard check` prints, as data. A POST, so that the contact's id stays out
    of URLs (and of the logs that keep them)."""
    options = CheckOptions(
        partner=body.partner,
        channel=body.channel,
        as_of=body.as_of,
        campaign_start=body.campaign_start,
        campaign_end=body.campaign_end,
        call_purpose=body.call_purpose,
        offer=body.offer,
        delivery=body.delivery,
    )
    return owner_api.explain(w.engine, w.settings, body.contact_id, options, by=_by(grant))


# --- an order previewed, then delivered ---------------------------------------------


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    postal_code_prefix: list[str] | None = Field(None, max_length=1000, examples=[["75", "92"]])
    audience: Literal["b2c", "b2b"] | None = None


class OrderIn(BaseModel):
    """An order's keys, as in an order file (``shared/spec/formats.md``)."""

    model_config = ConfigDict(extra="forbid")
    partner: str = Field(max_length=64, examples=["P0003"])
    channels: list[Channel] = Field(min_length=1, max_length=5, examples=[["postal", "email"]])
    purpose: str = Field(max_length=2000, examples=["Offre d'abonnement"])
    call_purpose: CALL_PURPOSE | None = None
    offer: OFFER | None = None
    campaign_start: dt.date = Field(examples=["2027-01-04"])
    campaign_end: dt.date = Field(examples=["2027-02-28"])
    as_of: dt.date | None = Field(None, description="the delivery date (default: today)")
    limit: int | None = Field(None, ge=1, le=2**31 - 1)
    seeds: int | None = Field(None, ge=0, le=1000)
    segment: SegmentIn | None = None


class RentalIn(BaseModel):
    """The order, as JSON (``order``) or as the text of an order file (``order_toml``):
    exactly one of the two."""

    model_config = ConfigDict(extra="forbid")
    order: OrderIn | None = None
    order_toml: str | None = Field(
        None,
        max_length=20_000,
        examples=['partner = "P0003"\nchannels = ["email"]\npurpose = "Offre"\n'],
    )

    def text(self) -> str:
        if (self.order is None) == (self.order_toml is None):
            raise HTTPException(400, "give the order as exactly one of order, order_toml")
        if self.order_toml is not None:
            return self.order_toml
        assert self.order is not None
        return owner_api.order_text(self.order.model_dump(mode="python", exclude_none=True))


class DeliverIn(RentalIn):
    order_hash: str = Field(
        pattern=r"^\s*[0-9a-fA-F]{64}\s*$", description="the order's hash, as the preview gave it"
    )


class ChannelCounts(BaseModel):
    coordinates: int
    eligible: int
    excluded_by_reason: dict[str, int]


class PreviewOut(BaseModel):
    order_hash: str = Field(description="SHA-256 of the order normalised: give it to deliver")
    partner: str
    as_of: str
    packs: list[str]
    offer: str
    contacts: int = Field(description="contacts the delivery would carry")
    channels: dict[str, ChannelCounts]
    warnings: list[str]


class DeliveredOut(BaseModel):
    delivery_id: int
    order_hash: str
    partner: str
    as_of: str
    packs: list[str]
    contacts_delivered: int
    channels: dict[str, ChannelCounts]
    files: list[str] = Field(description="the files kept in the delivery's folder")
    warnings: list[str]


@router.post("/rentals/preview", response_model=PreviewOut, responses=BUSY)
def preview_rental(
    body: RentalIn, w: W, grant: Annotated[OwnerGrant, owner_scope("rentals:preview")]
) -> dict[str, Any]:
    """What delivering the order would deliver, per channel and reason (computed as a
    rental is, nothing recorded), and the order's hash to deliver it with. Takes about
    as long as the rental itself: some ten seconds at a million contacts."""
    return owner_api.preview_order(w.engine, w.settings, body.text(), by=_by(grant))


@router.post(
    "/rentals/deliver",
    status_code=201,
    response_model=DeliveredOut,
    responses={
        409: {"model": Problem, "description": "The order is not the one previewed (its hash)"},
        **BUSY,
    },
)
def deliver_rental(
    body: DeliverIn, w: W, grant: Annotated[OwnerGrant, owner_scope("rentals:deliver")]
) -> dict[str, Any]:
    """Deliver the order, when its hash is the one the preview gave (409 otherwise,
    nothing done), into a new folder of `[web] deliveries_dir`; the partner then
    fetches its files. One rental at a time per deliveries folder (423 meanwhile).
    The answer comes when the delivery is recorded: some ten seconds at a million
    contacts on SQLite, forty on PostgreSQL, two to three minutes at ten million."""
    return owner_api.deliver_order(
        w.engine, w.settings, body.text(), body.order_hash, by=_by(grant)
    )


# --- deliveries read back -----------------------------------------------------------


class OwnerDelivery(BaseModel):
    delivery_id: int
    kind: Literal["rental", "enrichment"]
    partner: str
    partner_name: str
    delivered_at: str
    as_of: str
    channels: list[str]
    packs: list[str]
    contacts_delivered: int
    files: list[str] = Field(description="the files still kept in its folder")


class OwnerDeliveryDetail(OwnerDelivery):
    order: str = Field(description="the order as recorded")
    order_hash: str | None = Field(description="its hash (as a preview gives it)")
    partner_list_version: int
    counts: dict[str, Any] = Field(description="per channel, as the manifest tells them")
    manifest: dict[str, Any] | None = Field(description="none once the files are removed")


@router.get("/deliveries", response_model=list[OwnerDelivery])
def owner_deliveries(
    w: W,
    _: Annotated[OwnerGrant, owner_scope("deliveries:read")],
    partner: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Every delivery (rentals and enrichments), newest first, or one partner's."""
    return owner_api.list_deliveries(w.engine, partner=partner, limit=limit)


@router.get("/deliveries/{delivery_id}", response_model=OwnerDeliveryDetail)
def owner_delivery(
    delivery_id: DeliveryId, w: W, _: Annotated[OwnerGrant, owner_scope("deliveries:read")]
) -> dict[str, Any]:
    """One delivery: its order and hash, its counts per channel and reason, its manifest."""
    found = owner_api.one_delivery(w.engine, delivery_id)
    if found is None:
        raise HTTPException(404, "no such delivery")
    return found


@router.get(
    "/deliveries/{delivery_id}/{name}",
    responses={
        200: {
            "content": {
                "text/csv": {},
                "text/plain": {},
                "application/json": {},
                "application/vnd.apache.parquet": {},
            },
            "description": "The file",
        },
        410: {"model": Problem, "description": "The file is no longer kept"},
    },
)
def owner_delivery_file(
    delivery_id: DeliveryId,
    name: FileName,
    w: W,
    grant: Annotated[OwnerGrant, owner_scope("deliveries:read")],
) -> Response:
    """One file of a delivery, the owner's own included: the partner's contacts (or
    enriched file) and notice, the decisions (`decisions.csv` or `decisions.parquet`),
    an enrichment's matches, the manifest. Each read is audited."""
    try:
        path = owner_api.delivery_file(w.engine, delivery_id, name, by=_by(grant))
    except FileNotFoundError:
        raise HTTPException(410, f"this delivery's {name} is no longer kept") from None
    if path is None:
        raise HTTPException(404, "no such delivery")
    return FileResponse(
        path, media_type=media_type(name), filename=f"delivery-{delivery_id}-{name}"
    )


__all__ = ["router"]
