"""The back office's partners: their listing dates and state; admins create, edit and
delist them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from listguard import reads
from listguard.accounts import Session
from listguard.errors import ListguardError
from listguard.partners import save_partner
from listguard.renting.partner_list import partner_list_version
from listguard.timeutil import now_ts, to_iso, today
from listguard.web.admin.router import router
from listguard.web.deps import AdminSession, SignedIn, W, check_csrf
from listguard.web.state import Web


def partner_rows(w: Web) -> list[dict[str, Any]]:
    """The partners, their listing days as the form's date fields take them."""
    return [
        {
            **p,
            **{
                day: to_iso(int(p[day]))[:10] if p[day] else ""
                for day in ("listed_from", "listed_until")
            },
        }
        for p in reads.partners(w.engine, now_ts())
    ]


def _partners_page(
    request: Request,
    session: Session,
    w: Web,
    form: dict[str, Any],
    editing: bool = False,
    error: str | None = None,
) -> Response:
    with w.engine.connect() as conn:
        version = partner_list_version(conn, now_ts())[0]
    return w.page(
        request,
        "admin/partners.html",
        status_code=422 if error else 200,
        session=session,
        partners=partner_rows(w),
        version=version,
        form=form,
        editing=editing,
        error=error,
    )


@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request, session: SignedIn, w: W, edit: str | None = None) -> Response:
    """The partners, their listing dates and state; admins create, edit and delist."""
    editing = next((r for r in partner_rows(w) if r["partner_id"] == edit), None)
    blank = {"sector": "commercial", "listed_from": today().isoformat()}
    return _partners_page(request, session, w, editing or blank, editing is not None)


class PartnerForm(BaseModel):
    """The partner form: the columns of the partners format, as text."""

    csrf: str = ""
    partner_id: str = Field("", max_length=64)
    name: str = Field("", max_length=200)
    legal_name: str = Field("", max_length=200)
    category: str = Field("", max_length=100)
    sector: str = Field("commercial", max_length=30)
    privacy_policy_url: str = Field("", max_length=500)
    listed_from: str = Field("", max_length=10)
    listed_until: str = Field("", max_length=10)
    notify_url: str = Field("", max_length=500)
    notify_email: str = Field("", max_length=320)


@router.post("/partners", response_class=HTMLResponse)
def partner_save(
    request: Request, session: AdminSession, w: W, form: Annotated[PartnerForm, Form()]
) -> Response:
    """Create or change a partner (delisting is setting ``listed_until``): the same
    checks as the partners import, a new version when it changes, an audit entry. The
    published list gets a new version on each listing date."""
    check_csrf(session, form.csrf)
    row = form.model_dump(exclude={"csrf"})
    row["partner_id"] = row["partner_id"].strip()
    try:  # one transaction, with its audit entry
        save_partner(w.engine, row, by=session.account.email)
    except ListguardError as exc:
        return _partners_page(request, session, w, row, error=exc.said(w.lang(request)))
    return RedirectResponse(f"/admin/partners?saved={row['partner_id']}", status_code=303)


__all__ = ["PartnerForm", "partner_rows"]
