"""The back office's rights requests (``listguard.rights_requests``): the list, open
ones first by deadline (the overdue at the top), and a request's page where the
operator takes it, extends its deadline by two months while its first month runs
(``listguard.rights_extension``, the person told why), answers it (the request applied
and its answer made by ``listguard.rights_answers``) or refuses it with a reason; the
person is then sent the link to the answer."""

from __future__ import annotations

import smtplib
from typing import Annotated

from fastapi import Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listguard.accounts import Session
from listguard.errors import ListguardError
from listguard.rights_answers import TITLES, answer, refuse
from listguard.rights_extension import (
    MAX_REASON,
    awaits_telling,
    can_extend,
    extend,
    extended_due,
    first_due,
    told,
)
from listguard.rights_requests import (
    STATUSES,
    RightsRequest,
    answer_link,
    forget_answered,
    list_requests,
    read_request,
    start,
)
from listguard.timeutil import today
from listguard.web.admin.formats import minute
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W, check_csrf
from listguard.web.rights_requests import deliver_answer, tell_extension
from listguard.web.state import Web

RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/rights", response_class=HTMLResponse)
def rights_requests(request: Request, session: SignedIn, w: W, status: str = "") -> Response:
    """The requests, open ones first by deadline."""
    forget_answered(w.engine)  # what a closed request no longer needs goes first
    try:
        rows = list_requests(w.engine, status=status or None)
    except ListguardError as exc:
        raise HTTPException(400, exc.said(w.lang(request))) from None
    day = today()
    return w.page(
        request,
        "admin/rights_requests.html",
        session=session,
        requests=[
            {
                "r": r,
                "received": minute(r.received_at),
                "closed": minute(r.status_at) if not r.open else "",
                "overdue": r.overdue(day),
            }
            for r in rows
        ],
        statuses=STATUSES,
        status=status,
        titles=TITLES,
    )


def _request_page(
    request: Request,
    session: Session,
    w: Web,
    request_id: RequestId,
    *,
    error: str | None = None,
    sent: bool = False,
    told_now: bool = False,
    status_code: int = 200,
) -> Response:
    made = read_request(w.engine, request_id)
    if made is None:
        raise HTTPException(404, "no such request")
    response = w.page(
        request,
        "admin/rights_request.html",
        status_code=status_code,
        session=session,
        r=made,
        received=minute(made.received_at),
        changed=minute(made.status_at),
        until=minute(made.answer_until) if made.answer_until else "",
        overdue=made.overdue(today()),
        titles=TITLES,
        error=error,
        sent=sent,
        told_now=told_now,
        extended=minute(made.extended_at) if made.extended_at else "",
        extension_told=minute(made.extension_told_at) if made.extension_told_at else "",
        extensible=can_extend(made, today()),
        awaiting=awaits_telling(made, today()),
        first_due=first_due(made).isoformat(),
        extended_due=extended_due(made).isoformat(),
    )
    response.headers["Cache-Control"] = "no-store"  # the person's address is on the page
    return response


@router.get("/rights/{request_id}", response_class=HTMLResponse)
def rights_request(request: Request, session: SignedIn, w: W, request_id: RequestId) -> Response:
    return _request_page(request, session, w, request_id)


@router.post("/rights/{request_id}/start")
def rights_start(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf)
    try:
        start(w.engine, request_id, session.account.email)
    except ListguardError as exc:
        raise HTTPException(409, exc.said(w.lang(request))) from None
    return RedirectResponse(f"/admin/rights/{request_id}", status_code=303)


def _send(
    request: Request, session: Session, w: Web, request_id: RequestId, token: str
) -> Response:
    """Send the link to the answer; the page says whether it went."""
    made = read_request(w.engine, request_id)
    assert made is not None
    try:
        deliver_answer(w, made, token)
    except (ListguardError, smtplib.SMTPException, OSError) as exc:
        lang = w.lang(request)
        why = exc.said(lang) if isinstance(exc, ListguardError) else str(exc)
        error = (
            f"the answer is ready but could not be sent: {why}"
            if lang == "en"
            else f"la réponse est prête mais n'a pas pu être envoyée : {why}"
        )
        return _request_page(request, session, w, request_id, error=error, status_code=502)
    return _request_page(request, session, w, request_id, sent=True)


@router.post("/rights/{request_id}/answer", response_class=HTMLResponse)
def rights_answer(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Apply the request, make its answer, and send the person the link to it. An
    erasure cannot be undone: it is applied only when the form's box confirming it is
    ticked (``confirm=erase``)."""
    check_csrf(session, csrf)
    made = read_request(w.engine, request_id)
    if made is not None and made.kind == "erasure" and confirm != "erase":
        error = (
            "tick the box that confirms the erasure: it cannot be undone"
            if w.lang(request) == "en"
            else "cochez la case qui confirme l'effacement : il est définitif"
        )
        return _request_page(request, session, w, request_id, error=error, status_code=422)
    try:
        token = answer(w.engine, w.settings, request_id, session.account.email)
    except ListguardError as exc:
        return _request_page(
            request, session, w, request_id, error=exc.said(w.lang(request)), status_code=422
        )
    return _send(request, session, w, request_id, token)


@router.post("/rights/{request_id}/extend", response_class=HTMLResponse)
def rights_extend(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Extend the deadline by two months (art. 12(3)) and tell the person why."""
    check_csrf(session, csrf)
    try:
        made = extend(w.engine, request_id, reason, session.account.email)
    except ListguardError as exc:
        return _request_page(
            request, session, w, request_id, error=exc.said(w.lang(request)), status_code=422
        )
    return _tell(request, session, w, made)


@router.post("/rights/{request_id}/extension/send", response_class=HTMLResponse)
def rights_extension_send(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Send the person the notice of the extension again (it could not be sent)."""
    check_csrf(session, csrf)
    made = read_request(w.engine, request_id)
    if made is None or not awaits_telling(made, today()):
        raise HTTPException(409, "no extension waiting to be told")
    return _tell(request, session, w, made)


@router.post("/rights/{request_id}/extension/letter", response_class=HTMLResponse)
def rights_extension_letter(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Record that the person was told of the extension by letter."""
    check_csrf(session, csrf)
    try:
        told(w.engine, request_id, session.account.email, "letter")
    except ListguardError as exc:
        return _request_page(
            request, session, w, request_id, error=exc.said(w.lang(request)), status_code=422
        )
    return _request_page(request, session, w, request_id, told_now=True)


def _tell(request: Request, session: Session, w: Web, made: RightsRequest) -> Response:
    """Send the notice of the extension, and record it sent: the deadline moves then."""
    try:
        tell_extension(w, made)
    except (ListguardError, smtplib.SMTPException, OSError) as exc:
        lang = w.lang(request)
        why = exc.said(lang) if isinstance(exc, ListguardError) else str(exc)
        error = (
            f"the notice could not be sent ({why}): the extension counts only once the "
            "person is told; send it again, or tell them by letter and say so here, by "
            f"{first_due(made).isoformat()}"
            if lang == "en"
            else f"l'avis n'a pas pu être envoyé ({why}) : la prolongation ne vaut qu'une "
            "fois la personne avisée ; renvoyez-le, ou avisez-la par courrier et "
            f"indiquez-le ici, au plus tard le {first_due(made).isoformat()}"
        )
        return _request_page(request, session, w, made.id, error=error, status_code=502)
    try:  # sent at midnight past the first due day: too late, and the page says so
        told(w.engine, made.id, session.account.email, "mail" if made.email else "sms")
    except ListguardError as exc:
        error = exc.said(w.lang(request))
        return _request_page(request, session, w, made.id, error=error, status_code=422)
    return _request_page(request, session, w, made.id, told_now=True)


@router.post("/rights/{request_id}/refuse", response_class=HTMLResponse)
def rights_refuse(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(session, csrf)
    try:
        token = refuse(w.engine, w.settings, request_id, reason, session.account.email)
    except ListguardError as exc:
        return _request_page(
            request, session, w, request_id, error=exc.said(w.lang(request)), status_code=422
        )
    return _send(request, session, w, request_id, token)


@router.post("/rights/{request_id}/send", response_class=HTMLResponse)
def rights_send_again(
    request: Request,
    session: SignedIn,
    w: W,
    request_id: RequestId,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Send the link to the answer again (a new link, to the same answer, while kept)."""
    check_csrf(session, csrf)
    token = answer_link(w.engine, request_id)
    if token is None:
        raise HTTPException(404, "no answer kept for this request")
    return _send(request, session, w, request_id, token)
