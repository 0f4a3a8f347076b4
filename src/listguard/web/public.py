"""The owner's public pages: the partner list (HTML and JSON), the opposition form,
one-click unsubscribe links (the rights page and the consent proof: ``rights``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from listguard.domain.retention import Retention
from listguard.domain.vocabulary import CHANNELS as VOCABULARY_CHANNELS
from listguard.domain.vocabulary import EventChannel, ScopeKind
from listguard.errors import InputError
from listguard.links import Unsubscribe, read_token
from listguard.normalise.email import normalise_email
from listguard.normalise.phone import normalise_phone
from listguard.oppositions import (
    OppositionRequest,
    PostalAddress,
    check_postal_address,
    record_opposition,
    record_postal_opposition,
)
from listguard.propagation.acks import acknowledge, check_ack_signature
from listguard.renting.partner_list import list_versions, published_list
from listguard.timeutil import now_ts, to_iso
from listguard.web.deps import W, client_of
from listguard.web.i18n import text_for
from listguard.web.state import Web

router = APIRouter(include_in_schema=False)
CHANNELS: tuple[EventChannel, ...] = ("all", *VOCABULARY_CHANNELS)  # the form's order
SCOPES: tuple[ScopeKind, ...] = ("all", "partners", "own")
# the opposition form's fields and their longest value (a longer one is named next to
# its field, and nothing is recorded)
LONGEST = {
    "email": 320,
    "phone": 40,
    "last_name": 200,
    "first_name": 200,
    "street": 200,
    "postal_code": 20,
    "city": 200,
}
POSTAL_FIELDS = {"last_name", "first_name", "street", "postal_code", "city"}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, w: W) -> Response:
    return w.page(request, "home.html")


@router.get("/partenaires", response_class=HTMLResponse)
def partners_page(request: Request, w: W, version: int | None = None) -> Response:
    with w.engine.connect() as conn:
        now = now_ts()
        listing = published_list(conn, now, version)
        versions = list_versions(conn, now)
    if listing is None:
        raise HTTPException(404)
    return w.page(
        request,
        "partners.html",
        listing=listing,
        versions=[(n, to_iso(d)[:10]) for n, d in reversed(versions)],
    )


def _json_list(w: Web, version: int | None) -> dict[str, Any]:
    with w.engine.connect() as conn:
        listing = published_list(conn, now_ts(), version)
        versions = list_versions(conn, now_ts())
    if listing is None:
        raise HTTPException(404, "no such version of the partner list")
    listing["owner"] = w.settings.owner.name
    listing["versions"] = [
        {"version": n, "last_updated": to_iso(d), "url": f"/partners/v{n}.json"}
        for n, d in versions
    ]
    return listing


@router.get("/partners.json")
def partners_json(w: W) -> JSONResponse:
    """The list in force; a cache may keep it a few minutes."""
    return JSONResponse(_json_list(w, None), headers={"Cache-Control": "public, max-age=300"})


@router.get("/partners/v{version}.json")
def partners_version_json(version: int, w: W) -> JSONResponse:
    """An archived version: it never changes, so it may be cached for good."""
    return JSONResponse(
        _json_list(w, version), headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


@router.get("/opposition", response_class=HTMLResponse)
def opposition_form(request: Request, w: W) -> Response:
    return w.page(
        request,
        "opposition.html",
        token=w.form_token(),
        channels=CHANNELS,
        scopes=SCOPES,
        errors={},
        values={"channel": "all", "scope": "all"},
    )


@router.post("/opposition", response_class=HTMLResponse)
async def opposition_submit(
    request: Request,
    w: W,
    token: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "all",
    scope: Annotated[str, Form()] = "all",
    last_name: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    street: Annotated[str, Form()] = "",
    postal_code: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
) -> Response:
    """Record the objection, or the form again with each problem next to its field."""
    lang = w.lang(request)
    values = {
        "email": email,
        "phone": phone,
        "channel": channel,
        "scope": scope,
        "last_name": last_name,
        "first_name": first_name,
        "street": street,
        "postal_code": postal_code,
        "city": city,
    }
    postal = [last_name, street, postal_code, city]

    def again(status: int, errors: dict[str, str]) -> Response:
        return w.page(
            request,
            "opposition.html",
            status_code=status,
            token=w.form_token(),
            channels=CHANNELS,
            scopes=SCOPES,
            errors=errors,
            values={k: v[: LONGEST[k]] if k in LONGEST else v for k, v in values.items()},
        )

    if not w.rate.allow(client_of(request)):
        return again(429, {"form": text_for(lang, "too_many")})
    if not w.form_token_ok(token):
        return again(400, {"form": text_for(lang, "bad_form")})
    if channel not in CHANNELS or scope not in SCOPES:
        return again(400, {"form": text_for(lang, "bad_form")})
    errors = {
        field: text_for(lang, "too_long", n=str(LONGEST[field]))
        for field, value in values.items()
        if len(value) > LONGEST.get(field, len(value))
    }
    by_post = any(v.strip() for v in (*postal, first_name))
    if not email.strip() and not phone.strip() and not by_post:
        errors["either"] = text_for(lang, "need_identifier")
    if "email" not in errors and email.strip() and not normalise_email(email)[1]:
        errors["email"] = text_for(lang, "bad_email")
    if "phone" not in errors and phone.strip() and normalise_phone(phone)[0] is None:
        errors["phone"] = text_for(lang, "bad_phone")
    address = PostalAddress(last_name, street, postal_code, city, first_name)
    if by_post and not errors.keys() & POSTAL_FIELDS:
        try:  # the same check the recording makes, before anything is recorded
            if not all(v.strip() for v in postal):
                raise InputError("incomplete")
            await run_in_threadpool(check_postal_address, address)
        except InputError:
            errors["by-post"] = text_for(lang, "bad_address")
    if errors:
        return again(422, errors)
    if by_post:
        await run_in_threadpool(
            lambda: record_postal_opposition(
                w.engine,
                address,
                channel=channel,
                scope=scope,
                via="web_form",
                retention=Retention.of(w.settings),
            )
        )
    # by email and by phone: recorded by the server's writer, with whatever else arrived
    asked = [
        OppositionRequest(channel, scope, "web_form", email=email.strip())
        if kind == "email"
        else OppositionRequest(channel, scope, "web_form", phone=phone.strip())
        for kind, value in (("email", email), ("phone", phone))
        if value.strip()
    ]
    for done in [w.oppositions.submit(a) for a in asked]:
        await asyncio.wrap_future(done)
    return w.page(request, "opposition_done.html")


def _link(request: Request, w: Web, token: str) -> tuple[Unsubscribe | None, Response | None]:
    """The link's request, or the page saying it is not valid (404) or expired (410).
    Neither says whether the person is in the base."""
    with w.engine.connect() as conn:
        asked = read_token(conn, token)
    if asked is None:
        w.refused(request, "bad_unsubscribe_link")
        return None, w.page(request, "unsubscribe.html", status_code=404, asked=None)
    if asked.expires_at is not None and asked.expires_at < now_ts():
        w.refused(request, "expired_unsubscribe_link")
        return None, w.page(request, "unsubscribe.html", status_code=410, asked=None, expired=True)
    return asked, None


@router.get("/desinscription/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, w: W) -> Response:
    """The page a person reaches by clicking the link: it asks before acting (a mail
    scanner that follows links must not unsubscribe anybody)."""
    asked, refused = _link(request, w, token)
    if refused is not None:
        return refused
    return w.page(request, "unsubscribe.html", asked=asked, token=token, done=False)


@router.post("/desinscription/{token}")
def unsubscribe(
    request: Request,
    token: str,
    w: W,
    one_click: Annotated[str | None, Form(alias="List-Unsubscribe")] = None,
) -> Response:
    """RFC 8058 one-click (the mail client POSTs ``List-Unsubscribe=One-Click``), or the
    page's button: either way the opposition is recorded at once."""
    asked, refused = _link(request, w, token)
    if refused is not None or asked is None:
        return refused or Response(status_code=404)
    record_opposition(  # a person nobody can be: an InputError, answered 400
        w.engine,
        channel=asked.channel,
        scope=asked.scope,
        via="email_link",
        contact_id=asked.contact_id,
        email=asked.email,
        phone=asked.phone,
        retention=Retention.of(w.settings),
    )
    if one_click == "One-Click":  # a mail client's POST wants no page, only success
        return PlainTextResponse("unsubscribed\n")
    return w.page(request, "unsubscribe.html", asked=asked, token=token, done=True)


def _ack_valid(w: Web, key: str, signature: str) -> bool:
    with w.engine.connect() as conn:
        return len(key) <= 64 and check_ack_signature(conn, key, signature)


@router.get("/accuse-reception/{key}", response_class=HTMLResponse)
def ack_page(request: Request, key: str, w: W, s: str = "") -> Response:
    """The acknowledgement link of a message, followed by a person at the partner: it
    asks before acting (a mail scanner following links acknowledges nothing)."""
    valid = _ack_valid(w, key, s)
    return w.page(
        request,
        "ack.html",
        status_code=200 if valid else 404,
        valid=valid,
        done=False,
        key=key,
        signature=s,
    )


@router.post("/accuse-reception/{key}")
def ack(request: Request, key: str, w: W, s: str = "") -> Response:
    """The partner has applied the message: the page's button, or a partner's system
    posting to the link it received (it then gets JSON)."""
    wants_json = "json" in request.headers.get("accept", "")
    if not _ack_valid(w, key, s) or not acknowledge(w.engine, key):
        w.refused(request, "bad_ack_link")
        if wants_json:
            return JSONResponse({"detail": "not a valid acknowledgement link"}, 404)
        return w.page(request, "ack.html", status_code=404, valid=False, key=key)
    if wants_json:
        return JSONResponse({"acknowledged": True})
    return w.page(request, "ack.html", valid=True, done=True, key=key)
