"""Signing in to the back office and out of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listguard.accounts import authenticate, close_session, open_session
from listguard.web.admin.router import router
from listguard.web.deps import COOKIE, SignedIn, W, check_csrf, client_of
from listguard.web.i18n import text_for


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, w: W) -> Response:
    return w.page(request, "admin/login.html", error=None, token=w.form_token())


@router.post("/login")
def login(
    request: Request,
    w: W,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
) -> Response:
    def refused(status: int, reason: str, **values: str) -> Response:
        w.refused(request, reason)
        return w.page(
            request,
            "admin/login.html",
            status_code=status,
            error=text_for(w.lang(request), reason, **values),
            token=w.form_token(),
        )

    if not w.rate.allow("login:" + client_of(request)):
        return refused(429, "too_many")
    if not w.form_token_ok(token):
        return refused(401, "bad_login")
    # per account, wherever the attempts come from; the same for an unknown email
    minutes = w.sign_ins.minutes_left(email)
    if minutes:
        return refused(429, "sign_in_throttled", minutes=str(minutes))
    account = authenticate(w.engine, email, password)
    if account is None:
        w.sign_ins.failed(email)
        return refused(401, "bad_login")
    w.sign_ins.succeeded(email)
    session = open_session(w.engine, account)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
        path="/admin",
    )
    return response


@router.post("/logout")
def logout(session: SignedIn, w: W, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(session, csrf)
    close_session(w.engine, session.token)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response
