"""The back office of the owner's team: sign-in, dashboard, partners, rentals (preview
and delivery), oppositions and their propagation, the audit log.

Sessions are cookies (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS);
every form carries the session's CSRF token. Operators work; admins also manage
partners' keys and accounts.
"""

from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import text

from listguard.accounts import Session, authenticate, close_session, open_session, session_of
from listguard.errors import ListguardError
from listguard.propagation import status
from listguard.timeutil import day_start, now_ts, to_iso
from listguard.web.app import Web, client_of, web
from listguard.web.i18n import text_for

router = APIRouter(prefix="/admin", include_in_schema=False)
COOKIE = "lg_session"
W = Annotated[Web, Depends(web)]


def signed_in(request: Request, w: W) -> Session:
    session = session_of(w.engine, request.cookies.get(COOKIE))
    if session is None:
        raise HTTPException(303, headers={"Location": "/admin/login"})
    return session


S = Annotated[Session, Depends(signed_in)]


def _csrf(session: Session, token: str) -> None:
    if not hmac.compare_digest(session.csrf, token):
        raise HTTPException(403, "the form expired: reload the page")


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
    if not w.rate.allow("login:" + client_of(request)) or not w.form_token_ok(token):
        account = None
    else:
        account = authenticate(w.engine, email, password)
    if account is None:
        return w.page(
            request,
            "admin/login.html",
            status_code=401,
            error=text_for(w.lang(request), "bad_login"),
            token=w.form_token(),
        )
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
def logout(session: S, w: W, csrf: Annotated[str, Form()] = "") -> Response:
    _csrf(session, csrf)
    close_session(w.engine, session.token)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


def _minute(at: int, *, seconds: bool = False) -> str:
    """An instant as the team reads it: ``2026-11-28 12:38`` (Paris time)."""
    return to_iso(int(at))[: 19 if seconds else 16].replace("T", " ")


def _scalar(conn: Any, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar()


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: S, w: W) -> Response:
    now = now_ts()
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    month = day_start(today.replace(day=1))
    with w.engine.connect() as conn:
        figures = {
            "contacts": _scalar(conn, "SELECT count(*) FROM contacts"),
            "partners": _scalar(
                conn,
                "SELECT count(*) FROM partners WHERE listed_from <= :n "
                "AND (listed_until IS NULL OR listed_until > :n)",
                n=now,
            ),
            "rentals_month": _scalar(
                conn, "SELECT count(*) FROM deliveries WHERE created_at >= :m", m=month
            ),
            "delivered_month": _scalar(
                conn,
                "SELECT coalesce(sum(contacts_delivered), 0) FROM deliveries "
                "WHERE created_at >= :m",
                m=month,
            ),
            "last_screening": _scalar(conn, "SELECT max(screened_at) FROM bloctel_screenings"),
            "oppositions_30d": _scalar(
                conn,
                "SELECT count(*) FROM events WHERE event = 'opposition' AND at >= :s",
                s=now - 30 * 86400,
            ),
        }
        deliveries = conn.execute(
            text(
                "SELECT d.id, d.partner_id, p.name, d.created_at, d.channels, "
                "d.contacts_delivered, d.packs FROM deliveries d "
                "JOIN partners p ON p.partner_id = d.partner_id ORDER BY d.id DESC LIMIT 10"
            )
        ).all()
        refusals = conn.execute(
            text(
                "SELECT route, reason, sum(count) AS n FROM refusals WHERE day >= :s "
                "GROUP BY route, reason ORDER BY n DESC, route, reason LIMIT 20"
            ),
            {"s": now - 7 * 86400},
        ).all()
    lines = status(w.engine, now=now)
    pending = sum(x.messages for x in lines if x.status in ("pending", "sent", "failed"))
    overdue = sum(x.overdue for x in lines)
    last = figures["last_screening"]
    age = (now - int(last)) // 86400 if last is not None else None
    return w.page(
        request,
        "admin/dashboard.html",
        session=session,
        figures=figures,
        screening=(to_iso(int(last))[:10] if last is not None else None, age),
        pending=pending,
        overdue=overdue,
        lines=lines,
        refusals=[{"route": r.route, "reason": r.reason, "n": int(r.n)} for r in refusals],
        deliveries=[
            {
                "id": d.id,
                "partner": f"{d.partner_id} {d.name}",
                "at": _minute(d.created_at),
                "channels": str(d.channels).replace("|", ", "),
                "contacts": int(d.contacts_delivered),
                "packs": str(d.packs).replace("|", ", "),
            }
            for d in deliveries
        ],
    )


@router.get("/oppositions", response_class=HTMLResponse)
def oppositions(request: Request, session: S, w: W) -> Response:
    with w.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.id, e.at, e.event, e.channel, e.scope, e.via, "
                "count(o.id) AS messages, "
                "sum(CASE WHEN o.status = 'acknowledged' THEN 1 ELSE 0 END) AS acknowledged, "
                "sum(CASE WHEN o.status = 'failed' THEN 1 ELSE 0 END) AS failed "
                "FROM events e LEFT JOIN outbox o ON o.event_id = e.id "
                "WHERE e.event IN ('opposition', 'erasure') "
                "GROUP BY e.id, e.at, e.event, e.channel, e.scope, e.via "
                "ORDER BY e.id DESC LIMIT 100"
            )
        ).all()
    return w.page(
        request,
        "admin/oppositions.html",
        session=session,
        lines=status(w.engine),
        events=[
            {
                "id": r.id,
                "at": _minute(r.at),
                "event": r.event,
                "channel": r.channel,
                "scope": r.scope,
                "via": r.via,
                "messages": int(r.messages),
                "acknowledged": int(r.acknowledged or 0),
                "failed": int(r.failed or 0),
            }
            for r in rows
        ],
    )


@router.get("/rentals", response_class=HTMLResponse)
def rentals(request: Request, session: S, w: W) -> Response:
    return w.page(
        request,
        "admin/rentals.html",
        session=session,
        order=_SAMPLE_ORDER,
        preview=None,
        error=None,
    )


_SAMPLE_ORDER = """partner = "P0003"
channels = ["postal", "email"]
purpose = "Offre d'abonnement"
call_purpose = "commercial"
campaign_start = 2026-12-01
campaign_end = 2027-01-31
"""


@router.post("/rentals", response_class=HTMLResponse)
def rental_action(
    request: Request,
    session: S,
    w: W,
    csrf: Annotated[str, Form()] = "",
    order: Annotated[str, Form(max_length=20_000)] = "",
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """Preview the counts per channel and reason of an order, or deliver it."""
    from listguard.renting.deliver import rent
    from listguard.renting.order import parse_order
    from listguard.renting.preview import preview

    _csrf(session, csrf)
    try:
        parsed = parse_order(order, where="order")
        if action == "deliver":
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            out = Path(w.settings.web.deliveries_dir) / f"delivery-{parsed.partner}-{stamp}"
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
            preview=None,
            error=str(exc),
        )
    return w.page(
        request, "admin/rentals.html", session=session, order=order, preview=counts, error=None
    )


def admin_only(session: S) -> Session:
    if session.account.role != "admin":
        raise HTTPException(403, "this page is for the owner's admins")
    return session


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, session: Annotated[Session, Depends(admin_only)], w: W) -> Response:
    """The last entries of the hash-chained audit log, and whether the chain is whole."""
    from listguard.audit import verify

    with w.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, at, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT 200")
        ).all()
    return w.page(
        request,
        "admin/audit.html",
        session=session,
        check=verify(w.engine),
        entries=[
            {
                "id": r.id,
                "at": _minute(r.at, seconds=True),
                "action": r.action,
                "subject": r.subject or "",
                "detail": r.detail,
            }
            for r in rows
        ],
    )
