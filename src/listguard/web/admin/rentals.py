"""The back office's rentals: an order previewed (counts per channel and reason), then
confirmed on a page of its own, then delivered exactly as previewed (the preview's
digest travels with the form: a text changed since asks for a new preview), landing
on the delivery's page with its counts and files. The work is
``listguard.renting.preview``'s, which the owner's API uses too."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listguard import reads
from listguard.accounts import Session
from listguard.errors import ListguardError
from listguard.renting.preview import (
    OrderChanged,
    check_previewed,
    deliver_previewed,
    delivered_lately,
    normalise_order_text,
    preview_order,
    read_order,
)
from listguard.rules.offers import OFFERS
from listguard.timeutil import now_ts, today
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W, check_csrf
from listguard.web.state import Web

Action = Literal["preview", "confirm", "deliver"]


def sample_order(day: dt.date | None = None) -> str:
    """The order the page starts from: a campaign starting in a week, for two months
    (never in the past, whatever the day)."""
    start = (day or today()) + dt.timedelta(days=7)
    end = start + dt.timedelta(days=60)
    return (
        'partner = "P0003"\n'
        'channels = ["postal", "email"]\n'
        'purpose = "Offre d\'abonnement"\n'
        'call_purpose = "commercial"\n'
        'offer = "general"\n'
        f"campaign_start = {start.isoformat()}\n"
        f"campaign_end = {end.isoformat()}\n"
    )


def _form(
    request: Request,
    session: Session,
    w: Web,
    *,
    order: str,
    offer: str,
    status_code: int = 200,
    **shown: Any,
) -> Response:
    context: dict[str, Any] = {"preview": None, "error": None, "changed": False, **shown}
    return w.page(
        request,
        "admin/rentals.html",
        status_code=status_code,
        session=session,
        order=order,
        offers=OFFERS,
        offer=offer,
        **context,
    )


@router.get("/rentals", response_class=HTMLResponse)
def rentals(request: Request, session: SignedIn, w: W) -> Response:
    return _form(request, session, w, order=sample_order(), offer="general")


def _preview(
    request: Request, session: Session, w: Web, order: str, offer: str, *, changed: bool = False
) -> Response:
    """The preview of ``order``: its counts, and its digest in the form that delivers it.
    ``changed``: shown because the order sent to be delivered was not the one previewed."""
    try:
        done = preview_order(w.engine, order, w.settings, offer=offer)
    except ListguardError as exc:
        return _form(
            request,
            session,
            w,
            order=order,
            offer=offer,
            status_code=422,
            error=exc.said(w.lang(request)),
        )
    return _form(
        request,
        session,
        w,
        order=done.order.text,
        offer=done.order.offer,
        status_code=409 if changed else 200,
        preview=done.counts,
        digest=done.digest,
        warnings=done.warnings,
        changed=changed,
    )


def _partner_name(w: Web, partner_id: str) -> str | None:
    return next(
        (
            str(p["name"])
            for p in reads.partners(w.engine, now_ts())
            if p["partner_id"] == partner_id
        ),
        None,
    )


@router.post("/rentals", response_class=HTMLResponse)
def rental_action(
    request: Request,
    session: SignedIn,
    w: W,
    csrf: Annotated[str, Form()] = "",
    order: Annotated[str, Form(max_length=20_000)] = "",
    action: Annotated[Action, Form()] = "preview",
    offer: Annotated[str, Form(max_length=40)] = "",
    digest: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """``preview``: the counts per channel and reason of an order, and its digest.
    ``confirm``: the page that asks to confirm the delivery of the order previewed.
    ``deliver``: deliver it, then show the delivery. An order that is not the one
    previewed (its digest differs) is previewed again, with a message, and nothing is
    delivered. ``offer``: what the order offers, when its text does not say (rules.md,
    "Offers the law bans")."""
    check_csrf(session, csrf)
    if action == "preview":
        return _preview(request, session, w, order, offer)
    try:
        parsed = read_order(order, offer=offer)
        check_previewed(parsed, digest)
        if action == "confirm":
            return w.page(
                request,
                "admin/rental_confirm.html",
                session=session,
                order=parsed,
                partner_name=_partner_name(w, parsed.partner),
                digest=digest,
            )
        if (done := delivered_lately(w.engine, parsed, digest)) is not None:
            return RedirectResponse(f"/admin/deliveries/{done}?delivered=1", status_code=303)
        report = deliver_previewed(w.engine, order, digest, w.settings, offer=offer)
    except OrderChanged:
        return _preview(request, session, w, order, offer, changed=True)
    except ListguardError as exc:
        text = normalise_order_text(order)
        return _form(
            request,
            session,
            w,
            order=text,
            offer=offer,
            status_code=422,
            error=exc.said(w.lang(request)),
        )
    return RedirectResponse(f"/admin/deliveries/{report.delivery_id}?delivered=1", status_code=303)


__all__ = ["sample_order"]
