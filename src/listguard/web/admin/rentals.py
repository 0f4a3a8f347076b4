"""The back office's rentals: an order previewed (counts per channel and reason) or
delivered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listguard.errors import ListguardError
from listguard.paths import confined
from listguard.processing.clusters import stale_clusters
from listguard.renting.deliver import rent
from listguard.renting.order import backdated, parse_order, with_offer
from listguard.renting.preview import preview
from listguard.rules.offers import OFFERS
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W, check_csrf


@router.get("/rentals", response_class=HTMLResponse)
def rentals(request: Request, session: SignedIn, w: W) -> Response:
    return w.page(
        request,
        "admin/rentals.html",
        session=session,
        order=_SAMPLE_ORDER,
        offers=OFFERS,
        offer="general",
        preview=None,
        error=None,
    )


_SAMPLE_ORDER = """partner = "P0003"
channels = ["postal", "email"]
purpose = "Offre d'abonnement"
call_purpose = "commercial"
offer = "general"
campaign_start = 2026-12-01
campaign_end = 2027-01-31
"""


@router.post("/rentals", response_class=HTMLResponse)
def rental_action(
    request: Request,
    session: SignedIn,
    w: W,
    csrf: Annotated[str, Form()] = "",
    order: Annotated[str, Form(max_length=20_000)] = "",
    action: Annotated[str, Form()] = "preview",
    offer: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Preview the counts per channel and reason of an order, or deliver it. ``offer``:
    what the order offers, when its text does not say (rules.md, "Offers the law bans")."""
    check_csrf(session, csrf)
    try:
        order = with_offer(order, offer)
        parsed = parse_order(order, where="order")
        if action == "deliver":
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            # the folder is named from the order's partner id: confined to the folder
            out = confined(
                Path(w.settings.web.deliveries_dir), f"delivery-{parsed.partner}-{stamp}"
            )
            report = rent(w.engine, parsed, out, w.settings)
            return RedirectResponse(f"/admin?delivered={report.delivery_id}", status_code=303)
        counts = preview(w.engine, parsed, w.settings)
    except ListguardError as exc:
        return w.page(
            request,
            "admin/rentals.html",
            status_code=422,
            session=session,
            order=order,
            offers=OFFERS,
            offer=offer,
            preview=None,
            error=str(exc),
        )
    return w.page(
        request,
        "admin/rentals.html",
        session=session,
        order=order,
        offers=OFFERS,
        offer=parsed.offer,
        preview=counts,
        error=None,
        warnings=[note for note in (backdated(parsed), stale_clusters(w.engine)) if note],
    )
