"""The back office's audit log (admins only)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from listguard import reads
from listguard.audit import verify
from listguard.web.admin.formats import minute
from listguard.web.admin.router import router
from listguard.web.deps import AdminSession, W


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, session: AdminSession, w: W) -> Response:
    """The last entries of the hash-chained audit log, and whether the chain is whole."""
    entries = reads.audit_entries(w.engine, limit=200)
    return w.page(
        request,
        "admin/audit.html",
        session=session,
        check=verify(w.engine),
        entries=[{**e, "at": minute(e["at"], seconds=True)} for e in entries],
    )
