"""The back office's legend of the exclusion reasons: each reason in words, what it
means and its legal source (the rules' own table), linked from wherever a reason is
shown (a rental's preview, a delivery, the dashboard)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W
from listguard.web.words import legend


@router.get("/reasons", response_class=HTMLResponse)
def reasons_page(request: Request, session: SignedIn, w: W) -> Response:
    return w.page(request, "admin/reasons.html", session=session, reasons=legend(w.lang(request)))
