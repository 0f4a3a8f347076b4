"""The back office's look-up of a person (by contact id, email or phone): the contacts
held for them, their phone consents about to lapse, and their consent proof to
download as PDF or JSON (the document ``listguard rights proof`` writes, entered in
the audit log); and the list of every phone consent lapsing within N days, so that
the owner can ask again before it does."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from listguard.accounts import Session
from listguard.domain.coverage import PERSON_CONTACTS
from listguard.errors import InputError
from listguard.oppositions import person_keys
from listguard.proof.expiring import Expiring, expiring_consents
from listguard.proof.facts import ConsentProof, UnknownPerson, gather, proof_json
from listguard.timeutil import now_ts, to_day
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W, check_csrf
from listguard.web.rights import pdf_answer
from listguard.web.state import Web

Kind = Literal["contact_id", "email", "phone"]
WITHIN = 30  # days: the consents shown as about to lapse


def _named(kind: Kind, value: str) -> dict[str, str | None]:
    value = value.strip()
    return {
        "contact_id": value if kind == "contact_id" else None,
        "email": value if kind == "email" else None,
        "phone": value if kind == "phone" else None,
    }


def _contacts(w: Web, kind: Kind, value: str) -> list[str]:
    named = _named(kind, value)
    email_norm, phone_e164 = person_keys(named["contact_id"], named["email"], named["phone"])
    with w.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT contact_id FROM contacts WHERE {PERSON_CONTACTS} ORDER BY contact_id"),
            {"c": named["contact_id"], "e": email_norm, "p": phone_e164},
        )
        return [str(r.contact_id) for r in rows]


def _lapsing(w: Web, within: int, contact_ids: list[str] | None = None) -> list[Expiring]:
    return expiring_consents(
        w.engine, w.settings.rules, to_day(now_ts()), within, contact_ids=contact_ids
    )


def _contact_page(request: Request, session: Session, w: Web, kind: Kind, value: str) -> Response:
    error, ids, lapsing = None, [], []
    if value.strip():
        try:
            ids = _contacts(w, kind, value)
        except InputError as exc:
            error = exc.said(w.lang(request))
        lapsing = _lapsing(w, WITHIN, ids)
    response = w.page(
        request,
        "admin/contacts.html",
        status_code=422 if error else 200,
        session=session,
        kind=kind,
        value=value,
        error=error,
        looked_up=bool(value.strip()),
        ids=ids,
        lapsing=lapsing,
        within=WITHIN,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/contacts", response_class=HTMLResponse)
def contact_page(
    request: Request,
    session: SignedIn,
    w: W,
    contact: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The look-up form; with ``contact`` (a contact id, as the list of lapsing consents
    links to it), that contact's person. An email or a phone number is looked up by
    POST only, so that it never sits in an address (history, a proxy's logs)."""
    return _contact_page(request, session, w, "contact_id" if contact else "email", contact)


@router.post("/contacts", response_class=HTMLResponse)
def contact_search(
    request: Request,
    session: SignedIn,
    w: W,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[Kind, Form()] = "email",
    value: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """A person's contacts, their consents about to lapse and their proof to download."""
    check_csrf(session, csrf)
    return _contact_page(request, session, w, kind, value)


def _proof_of(w: Web, kind: Kind, value: str) -> ConsentProof:
    named = _named(kind, value)
    try:
        return gather(
            w.engine,
            w.settings,
            contact_id=named["contact_id"],
            email=named["email"],
            phone=named["phone"],
        )
    except UnknownPerson:
        raise HTTPException(404, "nobody held under this identifier") from None


@router.post("/contacts/proof.pdf")
def proof_pdf_download(
    session: SignedIn,
    w: W,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[Kind, Form()] = "email",
    value: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """The person's consent proof as PDF (entered in the audit log)."""
    check_csrf(session, csrf)
    return pdf_answer(_proof_of(w, kind, value))


@router.post("/contacts/proof.json")
def proof_json_download(
    session: SignedIn,
    w: W,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[Kind, Form()] = "email",
    value: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """The same proof as JSON (entered in the audit log)."""
    check_csrf(session, csrf)
    proof = _proof_of(w, kind, value)
    return Response(
        proof_json(proof),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="preuve-consentements.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/consents/expiring", response_class=HTMLResponse)
def lapsing_page(request: Request, session: SignedIn, w: W, within: int = WITHIN) -> Response:
    """Every phone consent lapsing within ``within`` days (by last day)."""
    if not 1 <= within <= 3660:
        raise HTTPException(400, "within must be a number of days between 1 and 3660")
    rows = _lapsing(w, within)
    return w.page(
        request,
        "admin/consents_expiring.html",
        session=session,
        within=within,
        rows=rows,
    )
