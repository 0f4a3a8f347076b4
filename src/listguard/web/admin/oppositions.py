"""The back office's oppositions: per partner, its messages pending, sent,
acknowledged, failed and overdue, and how it is reached; the last oppositions (with
erasures and rectifications), or those of one person found by email, phone or contact
id; one opposition's messages, partner by partner, each with why it waits; one
partner's messages; and the last access requests."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from listguard import reads
from listguard.accounts import Session
from listguard.errors import InputError
from listguard.propagation import follow
from listguard.timeutil import now_ts
from listguard.web.admin.formats import minute
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W, check_csrf
from listguard.web.state import Web

State = Literal["pending", "sent", "acknowledged", "failed", "overdue"]
EventId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def _smtp(w: Web) -> bool:
    return bool(w.settings.notify.smtp_host)


def _at(at: int | None) -> str:
    return minute(at) if at else ""


def _event_rows(lines: list[follow.EventLine]) -> list[dict[str, object]]:
    return [{**vars(e), "at": minute(e.at)} for e in lines]


def _message_rows(lines: list[follow.MessageLine]) -> list[dict[str, object]]:
    return [
        {
            **vars(m),
            "queued": _at(m.queued_at),
            "next": _at(m.next_attempt_at),
            "sent": _at(m.sent_at),
            "acked": _at(m.acknowledged_at),
        }
        for m in lines
    ]


@router.get("/oppositions", response_class=HTMLResponse)
def oppositions(request: Request, session: SignedIn, w: W) -> Response:
    """Per partner, its messages in each state; the last oppositions."""
    return _oppositions_page(request, session, w, "email", "")


@router.post("/oppositions", response_class=HTMLResponse)
def oppositions_of(
    request: Request,
    session: SignedIn,
    w: W,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[follow.PersonKind, Form()] = "email",
    value: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """The same page with the oppositions of the person named by ``kind`` and ``value``
    (normalised as on import): by POST, so that an email or a phone number never sits
    in an address (history, a proxy's logs)."""
    check_csrf(session, csrf)
    return _oppositions_page(request, session, w, kind, value)


def _oppositions_page(
    request: Request, session: Session, w: Web, kind: follow.PersonKind, value: str
) -> Response:
    now = now_ts()
    error = None
    person = (kind, value) if value.strip() else None
    try:
        found = follow.events(w.engine, now, person=person)
    except InputError as exc:
        error, found = exc.said(w.lang(request)), []
    response = w.page(
        request,
        "admin/oppositions.html",
        status_code=422 if error else 200,
        session=session,
        lines=follow.partner_lines(w.engine, now, smtp=_smtp(w)),
        kinds=follow.PERSON_KINDS,
        kind=kind,
        value=value,
        searched=person is not None,
        error=error,
        accesses=[{**a, "at": minute(a["at"])} for a in reads.access_requests(w.engine, limit=50)],
        events=_event_rows(found),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/oppositions/partner", response_class=HTMLResponse)
def partner_messages(
    request: Request,
    session: SignedIn,
    w: W,
    partner: Annotated[str, Query(max_length=64)] = "",
    state: State | None = None,
) -> Response:
    """One partner's messages, newest first (those in one ``state`` if given), each with
    why it stands where it does."""
    now = now_ts()
    lines = follow.partner_lines(w.engine, now, smtp=_smtp(w), partner_id=partner)
    if not lines:
        raise HTTPException(404, "no message to this partner")
    shown = follow.messages(w.engine, now, smtp=_smtp(w), partner_id=partner, state=state)
    return w.page(
        request,
        "admin/opposition_partner.html",
        session=session,
        line=lines[0],
        states=follow.FILTERS,
        state=state,
        messages=_message_rows(shown),
    )


@router.get("/oppositions/{event_id}", response_class=HTMLResponse)
def opposition_page(request: Request, session: SignedIn, w: W, event_id: EventId) -> Response:
    """One opposition (or erasure, or rectification): its messages, partner by partner,
    each with why it stands where it does."""
    now = now_ts()
    found = follow.events(w.engine, now, event_id=event_id)
    if not found:
        raise HTTPException(404, "no such opposition")
    shown = follow.messages(w.engine, now, smtp=_smtp(w), event_id=event_id, limit=1000)
    return w.page(
        request,
        "admin/opposition.html",
        session=session,
        e=_event_rows(found)[0],
        messages=_message_rows(shown),
    )


__all__ = ["State"]
