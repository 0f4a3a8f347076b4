"""The back office's deliveries: every rental and enrichment, one with its order and
ledger, and their files (the owner's own included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from listguard import reads
from listguard.renting.delivery_files import OWNER_FILES, kept_file, kept_files, media_type
from listguard.web.admin.formats import minute
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W

# a registry id (larger numbers fit no integer column: answered 422, not a server error)
DeliveryId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def delivery_view(d: reads.Delivery) -> dict[str, Any]:
    """A delivery as the pages show it, with the files still kept."""
    return {
        "id": d.id,
        "kind": d.kind,
        "partner": f"{d.partner_id} {d.name}",
        "at": minute(d.created_at),
        "channels": str(d.channels).split("|"),  # shown in words
        "packs": str(d.packs).replace("|", ", "),
        "contacts": int(d.contacts_delivered),
        "files": kept_files(d.out_dir),
    }


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(request: Request, session: SignedIn, w: W) -> Response:
    """Every delivery (rentals and enrichments) with its files and ledger."""
    return w.page(
        request,
        "admin/deliveries.html",
        session=session,
        deliveries=[delivery_view(d) for d in reads.deliveries(w.engine, limit=500)],
    )


def _one(w: W, delivery_id: int) -> reads.Delivery:
    rows = reads.deliveries(w.engine, delivery_id=delivery_id)
    if not rows:
        raise HTTPException(404, "no such delivery")
    return rows[0]


@router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
def delivery_page(
    request: Request, session: SignedIn, w: W, delivery_id: DeliveryId, delivered: bool = False
) -> Response:
    """One delivery: its order, the ledger per channel, the counts of its manifest.
    ``delivered``: reached just after the rental form delivered it (said on the page)."""
    d = _one(w, delivery_id)
    manifest_path = Path(d.out_dir) / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    )
    return w.page(
        request,
        "admin/delivery.html",
        session=session,
        d={
            **delivery_view(d),
            "as_of": d.as_of,
            "list_version": d.partner_list_version,
            "order": d.order_text,
        },
        ledger=reads.delivery_ledger(w.engine, delivery_id),
        counts=(manifest or {}).get("counts", {}),
        match=(manifest or {}).get("match"),
        delivered=delivered,
    )


@router.get("/deliveries/{delivery_id}/{name}")
def delivery_file(session: SignedIn, w: W, delivery_id: DeliveryId, name: str) -> Response:
    """A file of a delivery, the owner's own included (decisions, manifest, matches)."""
    if name not in OWNER_FILES:
        raise HTTPException(404, "no such file")
    path = kept_file(_one(w, delivery_id).out_dir, name)
    if path is None:
        raise HTTPException(410, "this delivery's files are no longer kept")
    return FileResponse(
        path, media_type=media_type(name), filename=f"delivery-{delivery_id}-{name}"
    )


__all__ = ["OWNER_FILES", "DeliveryId", "delivery_view"]
