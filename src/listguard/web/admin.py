"""The back office of the owner's team: sign-in, dashboard, partners, rentals (preview
and delivery), oppositions and their propagation, the audit log.

Sessions are cookies (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS);
every form carries the session's CSRF token. Operators work; admins also manage
partners' keys and accounts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from listguard.accounts import Session, authenticate, close_session, open_session, session_of
from listguard.constant_time import same
from listguard.errors import ListguardError
from listguard.paths import confined
from listguard.propagation import status
from listguard.rules.offers import OFFERS
from listguard.timeutil import day_start, now_ts, to_day, to_iso, today
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
    if not same(session.csrf, token):
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


def _rentable(w: Web, partner_id: str) -> dict[str, Any]:
    """What a rental to ``partner_id`` on every channel, decided today for a 30-day
    campaign, would deliver (the rentals preview; nothing recorded)."""
    from listguard.db.schema import CHANNELS
    from listguard.renting.order import Order
    from listguard.renting.preview import preview

    day = today()
    order = Order(
        partner=partner_id,
        channels=tuple(CHANNELS),
        purpose="Tableau de bord",
        campaign_start=day,
        campaign_end=day + dt.timedelta(days=30),
        as_of=day,
    )
    try:
        return {"partner": partner_id, **preview(w.engine, order, w.settings)}
    except ListguardError as exc:
        return {"partner": partner_id, "error": str(exc)}


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: S, w: W, rentable: str | None = None) -> Response:
    now = now_ts()
    today = to_day(now)  # the registry's days are Paris days
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
        start = day_start(today - dt.timedelta(days=29))
        per_day = {
            int(d): int(n)
            for d, n in conn.execute(
                text(
                    "SELECT (at - :s) / 86400 AS d, count(*) FROM events "
                    "WHERE event = 'opposition' AND at >= :s GROUP BY (at - :s) / 86400"
                ),
                {"s": start},
            )
        }
        listed = conn.execute(
            text(
                "SELECT partner_id, name FROM partners WHERE listed_from <= :n "
                "AND (listed_until IS NULL OR listed_until > :n) ORDER BY partner_id"
            ),
            {"n": now},
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
        listed=[{"id": p.partner_id, "name": p.name} for p in listed],
        rentable=_rentable(w, rentable[:64]) if rentable else None,
        chart=_bars(
            [
                ((today - dt.timedelta(days=29 - i)).isoformat(), int(per_day.get(i, 0)))
                for i in range(30)
            ]
        ),
        deliveries=[_delivery_view(d) for d in _delivery_rows(w, limit=10)],
    )


def _bars(days: list[tuple[str, int]]) -> dict[str, Any]:
    """A bar chart drawn by the server (SVG, no script): one bar per day, its height
    relative to the busiest day, each with its day and count as a tooltip."""
    top = max((n for _d, n in days), default=0) or 1
    width, height = 12, 80
    return {
        "width": width * len(days),
        "height": height,
        "total": sum(n for _d, n in days),
        "top": top,
        "bars": [
            {
                "x": i * width,
                "y": height - round(height * n / top),
                "h": round(height * n / top),
                "w": width - 2,
                "label": f"{day} : {n}",
            }
            for i, (day, n) in enumerate(days)
        ],
    }


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
                "WHERE e.event IN ('opposition', 'erasure', 'rectification') "
                "GROUP BY e.id, e.at, e.event, e.channel, e.scope, e.via "
                "ORDER BY e.id DESC LIMIT 100"
            )
        ).all()
        accesses = conn.execute(
            text(
                "SELECT at, subject FROM audit_log WHERE action = 'access_request' "
                "ORDER BY id DESC LIMIT 50"
            )
        ).all()
    return w.page(
        request,
        "admin/oppositions.html",
        session=session,
        lines=status(w.engine),
        accesses=[{"at": _minute(a.at), "subject": a.subject or ""} for a in accesses],
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
        offers=OFFERS,
        offer="general",
        preview=None,
        error=None,
    )


_SAMPLE_ORDER = """partner = "P0003"
channels = ["postal", "email"]
purpose = "Offre d'abonnement"
call_purpose = "commercial"
offer = "general"
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
    offer: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Preview the counts per channel and reason of an order, or deliver it. ``offer``:
    what the order offers, when its text does not say (rules.md, "Offers the law bans")."""
    from listguard.processing.clusters import stale_clusters
    from listguard.renting.deliver import rent
    from listguard.renting.order import backdated, parse_order, with_offer
    from listguard.renting.preview import preview

    _csrf(session, csrf)
    try:
        order = with_offer(order, offer)
        parsed = parse_order(order, where="order")
        if action == "deliver":
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            # the folder is named from the order's partner id: confined to the folder
            out = confined(
                Path(w.settings.web.deliveries_dir), f"delivery-{parsed.partner}-{stamp}"
            )
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
            offers=OFFERS,
            offer=offer,
            preview=None,
            error=str(exc),
        )
    return w.page(
        request,
        "admin/rentals.html",
        session=session,
        order=order,
        offers=OFFERS,
        offer=parsed.offer,
        preview=counts,
        error=None,
        warnings=[note for note in (backdated(parsed), stale_clusters(w.engine)) if note],
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


Admin = Annotated[Session, Depends(admin_only)]


def _partner_rows(w: Web) -> list[dict[str, Any]]:
    from listguard.domain.partner_rows import KNOWN

    now = now_ts()
    with w.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(KNOWN)}, version FROM partners ORDER BY partner_id")
        ).mappings()
        out = []
        for r in rows:
            row = dict(r)
            listed = r["listed_from"] is not None and r["listed_from"] <= now
            gone = r["listed_until"] is not None and r["listed_until"] <= now
            for day in ("listed_from", "listed_until"):  # as the form's date fields take them
                row[day] = to_iso(int(r[day]))[:10] if r[day] else ""
            row["state"] = "delisted" if gone else "listed" if listed else "future"
            out.append(row)
    return out


def _partners_page(
    request: Request,
    session: Session,
    w: Web,
    form: dict[str, Any],
    editing: bool = False,
    error: str | None = None,
) -> Response:
    from listguard.renting.partner_list import partner_list_version

    with w.engine.connect() as conn:
        version = partner_list_version(conn, now_ts())[0]
    return w.page(
        request,
        "admin/partners.html",
        status_code=422 if error else 200,
        session=session,
        partners=_partner_rows(w),
        version=version,
        form=form,
        editing=editing,
        error=error,
    )


@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request, session: S, w: W, edit: str | None = None) -> Response:
    """The partners, their listing dates and state; admins create, edit and delist."""
    editing = next((r for r in _partner_rows(w) if r["partner_id"] == edit), None)
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
    request: Request, session: Admin, w: W, form: Annotated[PartnerForm, Form()]
) -> Response:
    """Create or change a partner (delisting is setting ``listed_until``): the same
    checks as the partners import, a new version when it changes, an audit entry. The
    published list gets a new version on each listing date."""
    from listguard.partners import save_partner

    _csrf(session, form.csrf)
    row = form.model_dump(exclude={"csrf"})
    row["partner_id"] = row["partner_id"].strip()
    try:  # one transaction, with its audit entry
        save_partner(w.engine, row, by=session.account.email)
    except ListguardError as exc:
        return _partners_page(request, session, w, row, error=str(exc))
    return RedirectResponse(f"/admin/partners?saved={row['partner_id']}", status_code=303)


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
    from listguard.accounts import SCOPES, list_accounts, list_api_keys

    def when(at: int | None) -> str:
        return _minute(at) if at else ""

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
        partners=[p for p in _partner_rows(w) if p["state"] != "delisted"],
        error=error,
        shown=shown,
    )
    response.headers["Cache-Control"] = "no-store"  # a secret may be on the page
    return response


@router.get("/access", response_class=HTMLResponse)
def access_page(request: Request, session: Admin, w: W) -> Response:
    """The team's accounts and the API keys of partners and machines (admins only)."""
    return _access_page(request, session, w)


@router.post("/access/accounts", response_class=HTMLResponse)
def account_add(
    request: Request,
    session: Admin,
    w: W,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=16)] = "operator",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new account; without a password, one is made and shown once."""
    import secrets

    from listguard.accounts import add_account

    _csrf(session, csrf)
    made = not password
    password = password or secrets.token_urlsafe(15)
    try:
        account = add_account(w.engine, email, password, role)
    except ListguardError as exc:
        return _access_page(request, session, w, error=str(exc), status_code=422)
    if not made:
        return RedirectResponse("/admin/access", status_code=303)
    shown = {"what": "password", "for": account.email, "secret": password}
    return _access_page(request, session, w, shown=shown)


@router.post("/access/accounts/disable")
def account_disable(
    request: Request,
    session: Admin,
    w: W,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    from listguard.accounts import disable_account

    _csrf(session, csrf)
    try:
        disabled = disable_account(w.engine, email, by=session.account.email)
    except ListguardError as exc:  # one's own account
        return _access_page(request, session, w, error=str(exc), status_code=422)
    if not disabled:
        raise HTTPException(404, "no enabled account with this email")
    return RedirectResponse("/admin/access", status_code=303)


@router.post("/access/keys", response_class=HTMLResponse)
def key_create(
    request: Request,
    session: Admin,
    w: W,
    csrf: Annotated[str, Form()] = "",
    partner_id: Annotated[str, Form(max_length=64)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A key for a partner (when one is chosen) or for the owner's systems; the key is
    shown once, on this response (never in a URL)."""
    from listguard.accounts import create_api_key

    _csrf(session, csrf)
    role = "partner" if partner_id else "machine"
    # a scope of the other role is refused by name, never dropped into "every scope"
    chosen = tuple(scope) if scope else None
    try:
        key, _grant = create_api_key(
            w.engine, role=role, partner_id=partner_id or None, scopes=chosen, label=label
        )
    except ListguardError as exc:
        return _access_page(request, session, w, error=str(exc), status_code=422)
    shown = {"what": "key", "for": partner_id or label or role, "secret": key}
    return _access_page(request, session, w, shown=shown)


@router.post("/access/keys/revoke")
def key_revoke(
    session: Admin,
    w: W,
    csrf: Annotated[str, Form()] = "",
    prefix: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    from listguard.accounts import revoke_api_key

    _csrf(session, csrf)
    if not revoke_api_key(w.engine, prefix):
        raise HTTPException(404, "no live key with this prefix")
    return RedirectResponse("/admin/access", status_code=303)


_OWNER_FILES = (
    "contacts.csv",
    "enriched.csv",
    "notice.txt",
    "decisions.csv",
    "matches.csv",
    "manifest.json",
)


def _delivery_view(d: Any) -> dict[str, Any]:
    """A delivery as the pages show it, with the files still kept."""
    return {
        "id": d.id,
        "kind": d.kind,
        "partner": f"{d.partner_id} {d.name}",
        "at": _minute(d.created_at),
        "channels": str(d.channels).replace("|", ", "),
        "packs": str(d.packs).replace("|", ", "),
        "contacts": int(d.contacts_delivered),
        "files": [n for n in _OWNER_FILES if (Path(d.out_dir) / n).is_file()],
    }


# a registry id (larger numbers fit no integer column: answered 422, not a server error)
DeliveryId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def _delivery_rows(w: Web, delivery_id: int | None = None, limit: int = 500) -> list[Any]:
    where = "WHERE d.id = :d" if delivery_id is not None else ""
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT d.id, d.kind, d.partner_id, p.name, d.created_at, d.as_of, "
                    "d.channels, d.contacts_delivered, d.packs, d.out_dir, d.order_text, "
                    "d.partner_list_version FROM deliveries d "
                    f"JOIN partners p ON p.partner_id = d.partner_id {where} "
                    "ORDER BY d.id DESC LIMIT :n"
                ),
                {"d": delivery_id, "n": limit},
            )
        )


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(request: Request, session: S, w: W) -> Response:
    """Every delivery (rentals and enrichments) with its files and ledger."""
    return w.page(
        request,
        "admin/deliveries.html",
        session=session,
        deliveries=[_delivery_view(d) for d in _delivery_rows(w)],
    )


@router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
def delivery_page(request: Request, session: S, w: W, delivery_id: DeliveryId) -> Response:
    """One delivery: its order, the ledger per channel, the counts of its manifest."""
    import json

    rows = _delivery_rows(w, delivery_id)
    if not rows:
        raise HTTPException(404, "no such delivery")
    d = rows[0]
    with w.engine.connect() as conn:
        ledger = conn.execute(
            text(
                "SELECT channel, count(*) AS n, count(DISTINCT contact_ref) AS persons "
                "FROM ledger WHERE delivery_id = :d GROUP BY channel ORDER BY channel"
            ),
            {"d": delivery_id},
        ).all()
    manifest_path = Path(d.out_dir) / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    )
    return w.page(
        request,
        "admin/delivery.html",
        session=session,
        d={
            **_delivery_view(d),
            "as_of": d.as_of,
            "list_version": d.partner_list_version,
            "order": d.order_text,
        },
        ledger=[{"channel": r.channel, "n": int(r.n), "persons": int(r.persons)} for r in ledger],
        counts=(manifest or {}).get("counts", {}),
        match=(manifest or {}).get("match"),
    )


@router.get("/deliveries/{delivery_id}/{name}")
def delivery_file(session: S, w: W, delivery_id: DeliveryId, name: str) -> Response:
    """A file of a delivery, the owner's own included (decisions, manifest, matches)."""
    from fastapi.responses import FileResponse

    if name not in _OWNER_FILES:
        raise HTTPException(404, "no such file")
    rows = _delivery_rows(w, delivery_id)
    if not rows:
        raise HTTPException(404, "no such delivery")
    path = Path(rows[0].out_dir) / name
    if not path.is_file():
        raise HTTPException(410, "this delivery's files are no longer kept")
    media = {"csv": "text/csv", "txt": "text/plain", "json": "application/json"}[
        name.rsplit(".", 1)[1]
    ]
    return FileResponse(
        path, media_type=f"{media}; charset=utf-8", filename=f"delivery-{delivery_id}-{name}"
    )
