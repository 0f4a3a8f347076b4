"""The rights page, and how a person obtains the proof of their consents there without
any account (R223-2): they give their email address, and a signed link valid
7 days is mailed to it; or their mobile number, and a 6-digit code is sent to it by
SMS (offered only when the owner has set an SMS adapter, ``[sms]``), which they type
on the next page. Either way the PDF is the one ``listguard rights proof`` writes.

The answer to a request is the same, with the same words and in the same time,
whether the registry holds the person or not: the link or code is made and sent after
the answer. Requests are limited per client and per address or number; an invalid,
altered or expired link, or a wrong code, is refused without saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from listguard.mail import send_mail
from listguard.normalise.email import normalise_email
from listguard.normalise.phone import normalise_phone
from listguard.proof.access import Person, check_code, proof_link, read_link_token, send_code
from listguard.proof.document import proof_pdf
from listguard.proof.facts import ConsentProof, UnknownPerson, gather, proof_json
from listguard.proof.senders import link_mail
from listguard.web.deps import W, client_of
from listguard.web.i18n import text_for
from listguard.web.state import Web

router = APIRouter(include_in_schema=False)
log = logging.getLogger("listguard.web")
PDF_NAME = "preuve-consentements.pdf"


def offers(w: Web) -> dict[str, bool]:
    """Which ways to ask for the proof the page offers: email needs the SMTP server and
    the public address the link is made from (never from the request's Host, which
    whoever posts the form chooses), SMS an SMS adapter."""
    by_email = bool(w.settings.notify.smtp_host and w.settings.web.public_url)
    return {"by_email": by_email, "by_sms": w.sms is not None}


# the field a message is about, to show it next to that field (and in the summary)
FIELD_OF = {
    "bad_email": "email",
    "bad_phone": "phone",
    "proof_no_sms": "phone",
    "request_bad_field": "field",
    "request_need_value": "value",
}


def rights_form(
    request: Request,
    w: Web,
    status: int = 200,
    errors: tuple[str, ...] = (),
    request_errors: tuple[str, ...] = (),
    values: dict[str, str] | None = None,
    error_key: str = "",
) -> Response:
    """The rights page; ``errors``: the proof form's, ``request_errors``: the rights
    request form's (``web.rights_requests``), each shown by its form, and next to the
    field it is about (``error_key``: the message's key, ``FIELD_OF``)."""
    field = FIELD_OF.get(error_key, "")
    return w.page(
        request,
        "rights.html",
        status_code=status,
        token=w.form_token(),
        errors=list(errors),
        request_errors=list(request_errors),
        error_field=field if errors else "",
        request_error_field=field if request_errors else "",
        values=values or {},
        **offers(w),
    )


@router.get("/droits", response_class=HTMLResponse)
def rights_page(request: Request, w: W) -> Response:
    return rights_form(request, w)


def pdf_answer(proof: ConsentProof) -> Response:
    """The consent proof as a PDF download, kept by no cache and sent with no referrer."""
    return Response(
        proof_pdf(proof, proof_json(proof)),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{PDF_NAME}"',
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


def _person_pdf(w: Web, *, email: str | None = None, phone: str | None = None) -> Response:
    """The proof of the person a link or code names (404 when no longer held)."""
    try:
        proof = gather(w.engine, w.settings, email=email, phone=phone)
    except UnknownPerson:
        raise HTTPException(404) from None
    return pdf_answer(proof)


def _mail_link(w: Web, email: str) -> None:
    """Mail the link to ``email`` when the registry holds it (run after the answer)."""
    token = proof_link(w.engine, email)
    if token is not None:
        url = w.settings.web.link(f"/droits/preuve?t={token}")
        send_mail(w.settings.notify, link_mail(w.settings, email, url))


def _send_code(w: Web, phone: str) -> None:
    """Make a code for ``phone`` and send it when the registry holds it (after the answer)."""
    assert w.sms is not None
    send_code(w.engine, phone, w.sms)


def _after_answer(w: Web, job: Callable[..., None], *args: str) -> None:
    """Run ``job(w, *args)`` on the server's thread for proof requests; a failure (the
    SMTP server or the SMS adapter refusing) is logged, the person having their answer."""

    def logged(done: Future[None]) -> None:
        failure = done.exception()
        if failure is not None:
            log.error("a consent proof request could not be sent: %s", failure)

    w.background.submit(job, w, *args).add_done_callback(logged)


async def person_of_code(
    request: Request,
    w: Web,
    token: str,
    phone: str,
    code: str,
    again: Callable[[int, str], Response],
) -> Person | Response:
    """The person whose SMS code ``code`` was sent to ``phone``, or the form again: too
    many tries from the client, a stale form, or a wrong or expired code (counted as a
    refusal). The proof's and the rights requests' code forms alike."""
    if not w.rate.allow(client_of(request)):
        return again(429, "too_many")
    if not w.form_token_ok(token) or w.sms is None:
        return again(400, "bad_form")
    person = await run_in_threadpool(check_code, w.engine, phone, code)
    if person is None or person.phone is None:
        w.refused(request, "bad_proof_code")
        return again(400, "proof_bad_code")
    return person


@router.post("/droits/preuve", response_class=HTMLResponse)
def proof_request(
    request: Request,
    w: W,
    token: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    """A request for the proof: by email (a link is mailed) or by mobile (a code is sent);
    a value too long to be an address or a number is answered as one that is not valid."""
    lang = w.lang(request)
    offered = offers(w)

    def again(status: int, key: str) -> Response:
        return rights_form(
            request,
            w,
            status,
            (text_for(lang, key),),
            values={"email": email[:320], "phone": phone[:40]},
            error_key=key,
        )

    if not w.rate.allow(client_of(request)):
        return again(429, "too_many")
    if not w.form_token_ok(token):
        return again(400, "bad_form")
    email, phone = email.strip(), phone.strip()
    if len(email) > 320 or len(phone) > 40:
        return again(422, "bad_email" if len(email) > 320 else "bad_phone")
    if bool(email) == bool(phone) or (email and not offered["by_email"]):
        return again(422, "proof_need_one")
    if phone and not offered["by_sms"]:
        return again(422, "proof_no_sms")
    if email:
        email_norm, valid = normalise_email(email)
        if not valid or email_norm is None:
            return again(422, "bad_email")
        if not w.proof_rate.allow(f"email:{email_norm}"):
            return again(429, "too_many")
        _after_answer(w, _mail_link, email_norm)
        return w.page(request, "rights_proof.html", step="mailed")
    number = normalise_phone(phone)[0]
    if number is None:
        return again(422, "bad_phone")
    if not w.proof_rate.allow(f"phone:{number}"):
        return again(429, "too_many")
    _after_answer(w, _send_code, number)
    return w.page(request, "rights_proof.html", step="code", token=w.form_token(), phone=number)


@router.post("/droits/preuve/code")
async def proof_by_code(
    request: Request,
    w: W,
    token: Annotated[str, Form()] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The code received by SMS: the PDF when it is right, else the form again."""
    lang = w.lang(request)

    def again(status: int, key: str) -> Response:
        return w.page(
            request,
            "rights_proof.html",
            status_code=status,
            step="code",
            token=w.form_token(),
            phone=phone,
            errors=[text_for(lang, key)],
        )

    person = await person_of_code(request, w, token, phone, code, again)
    if isinstance(person, Response):
        return person
    return await run_in_threadpool(lambda: _person_pdf(w, phone=person.phone))


@router.get("/droits/preuve")
def proof_by_link(request: Request, w: W, t: str = "") -> Response:
    """The link mailed to the person: the PDF while it is valid; else 404, saying
    nothing of why."""
    with w.engine.connect() as conn:
        person = read_link_token(conn, t)
    if person is None or person.email is None:
        w.refused(request, "bad_proof_link")
        raise HTTPException(404)
    return _person_pdf(w, email=person.email)


__all__ = ["PDF_NAME", "offers", "pdf_answer", "rights_form", "router"]
