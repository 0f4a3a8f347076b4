"""The back office's oppositions: the last ones recorded (with erasures and
rectifications) and their messages to partners, the propagation's lines, the last
access requests."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from listguard import reads
from listguard.propagation.status import status
from listguard.web.admin.formats import minute
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W


@router.get("/oppositions", response_class=HTMLResponse)
def oppositions(request: Request, session: SignedIn, w: W) -> Response:
    return w.page(
        request,
        "admin/oppositions.html",
        session=session,
        lines=status(w.engine),
        accesses=[{**a, "at": minute(a["at"])} for a in reads.access_requests(w.engine, limit=50)],
        events=[{**e, "at": minute(e["at"])} for e in reads.opposition_events(w.engine, 100)],
    )
