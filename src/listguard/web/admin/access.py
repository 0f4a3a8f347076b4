"""The back office's access (admins only): the team's accounts and the API keys of
partners and machines. A secret made here is shown once, on the answer that made it."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listguard.accounts import (
    SCOPES,
    Session,
    add_account,
    create_api_key,
    disable_account,
    list_accounts,
    list_api_keys,
    revoke_api_key,
)
from listguard.errors import ListguardError
from listguard.web.admin.formats import minute
from listguard.web.admin.partners import partner_rows
from listguard.web.admin.router import router
from listguard.web.deps import AdminSession, W, check_csrf
from listguard.web.state import Web


def _access_page(
    request: Request,
    session: Session,
    w: Web,
    *,
    error: str | None = None,
    shown: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """Accounts and API keys; ``shown``: a secret made just now, shown this once."""

    def when(at: int | None) -> str:
        return minute(at) if at else ""

    accounts = [
        {**a, "created": when(a["created_at"]), "disabled": when(a["disabled_at"])}
        for a in list_accounts(w.engine)
    ]
    keys = [
        {
            **k,
            "created": when(k["created_at"]),
            "used": when(k["last_used_at"]),
            "revoked": when(k["revoked_at"]),
        }
        for k in list_api_keys(w.engine)
    ]
    response = w.page(
        request,
        "admin/access.html",
        status_code=status_code,
        session=session,
        accounts=accounts,
        keys=keys,
        scopes=SCOPES,
        partners=[p for p in partner_rows(w) if p["state"] != "delisted"],
        error=error,
        shown=shown,
    )
    response.headers["Cache-Control"] = "no-store"  # a secret may be on the page
    return response


@router.get("/access", response_class=HTMLResponse)
def access_page(request: Request, session: AdminSession, w: W) -> Response:
    """The team's accounts and the API keys of partners and machines (admins only)."""
    return _access_page(request, session, w)


@router.post("/access/accounts", response_class=HTMLResponse)
def account_add(
    request: Request,
    session: AdminSession,
    w: W,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=16)] = "operator",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new account; without a password, one is made and shown once."""
    check_csrf(session, csrf)
    made = not password
    password = password or secrets.token_urlsafe(15)
    try:
        account = add_account(w.engine, email, password, role)
    except ListguardError as exc:
        return _access_page(request, session, w, error=exc.said(w.lang(request)), status_code=422)
    if not made:
        return RedirectResponse("/admin/access", status_code=303)
    shown = {"what": "password", "for": account.email, "secret": password}
    return _access_page(request, session, w, shown=shown)


@router.post("/access/accounts/disable")
def account_disable(
    request: Request,
    session: AdminSession,
    w: W,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    check_csrf(session, csrf)
    try:
        disabled = disable_account(w.engine, email, by=session.account.email)
    except ListguardError as exc:  # one's own account
        return _access_page(request, session, w, error=exc.said(w.lang(request)), status_code=422)
    if not disabled:
        raise HTTPException(404, "no enabled account with this email")
    return RedirectResponse("/admin/access", status_code=303)


@router.post("/access/keys", response_class=HTMLResponse)
def key_create(
    request: Request,
    session: AdminSession,
    w: W,
    csrf: Annotated[str, Form()] = "",
    partner_id: Annotated[str, Form(max_length=64)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A key for a partner (when one is chosen) or for the owner's systems; the key is
    shown once, on this response (never in a URL)."""
    check_csrf(session, csrf)
    role = "partner" if partner_id else "machine"
    # a scope of the other role is refused by name, never dropped into "every scope"
    chosen = tuple(scope) if scope else None
    try:
        key, _grant = create_api_key(
            w.engine, role=role, partner_id=partner_id or None, scopes=chosen, label=label
        )
    except ListguardError as exc:
        return _access_page(request, session, w, error=exc.said(w.lang(request)), status_code=422)
    shown = {"what": "key", "for": partner_id or label or role, "secret": key}
    return _access_page(request, session, w, shown=shown)


@router.post("/access/keys/revoke")
def key_revoke(
    session: AdminSession,
    w: W,
    csrf: Annotated[str, Form()] = "",
    prefix: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    check_csrf(session, csrf)
    if not revoke_api_key(w.engine, prefix):
        raise HTTPException(404, "no live key with this prefix")
    return RedirectResponse("/admin/access", status_code=303)
