"""The rights request form of the public rights page (``listguard.rights_requests``):
the person chooses the request and gives their email address (a signed link to
confirm it is mailed) or their mobile number (a code is sent by SMS, typed on the next
page); the request is recorded once confirmed. The answer is downloaded through the
link the back office sends (``/droits/reponse``).

As the proof form: the answer to the form is the same, in words and time, whether the
registry holds the person or not (the link or code is made and sent after it); requests
are limited per client and per address or number; a bad link is a 404 saying nothing of
why. A confirmation link only shows what it would record: recording takes a POST, so
that a mail scanner following the link records nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from email.message import EmailMessage
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from listguard.errors import InputError
from listguard.mail import send_mail
from listguard.proof.access import send_code
from listguard.rights_answers import CODE_TEXT, answer_mail, answer_sms, confirm_mail
from listguard.rights_extension import extension_mail, extension_sms
from listguard.rights_requests import (
    Asked,
    RightsRequest,
    check,
    confirm_key,
    confirm_link,
    read_answer,
    read_confirm_link,
    read_request,
    record,
)
from listguard.web.deps import W, client_of
from listguard.web.i18n import text_for
from listguard.web.rights import offers, person_of_code, rights_form
from listguard.web.state import Web

router = APIRouter(include_in_schema=False)
log = logging.getLogger("listguard.web")
_ERRORS = {"field": "request_bad_field", "value": "request_need_value", "email": "request_need_one"}


def _asked(kind: str, email: str, phone: str, channel: str, field: str, value: str) -> Asked:
    return check(
        kind,
        email=email,
        phone=phone,
        channel=channel or None,
        changes={field: value} if kind == "rectification" and field else {},
    )


def _later(w: Web, job: Callable[..., None], *args: Any) -> None:
    """Run ``job(w, *args)`` after the answer; a failure is logged (the person has their
    answer, the same whether the registry holds them or not)."""

    def logged(done: Future[None]) -> None:
        failure = done.exception()
        if failure is not None:
            log.error("a rights request's confirmation could not be sent: %s", failure)

    w.background.submit(job, w, *args).add_done_callback(logged)


def _mail_confirmation(w: Web, asked: Asked) -> None:
    token = confirm_link(w.engine, asked)
    if token is not None and asked.email is not None:
        url = w.settings.web.link(f"/droits/demande?t={token}")
        send_mail(w.settings.notify, confirm_mail(w.settings, asked.email, asked.kind, url))


def _send_code(w: Web, phone: str) -> None:
    assert w.sms is not None
    send_code(w.engine, phone, w.sms, body=CODE_TEXT)


@router.post("/droits/demande", response_class=HTMLResponse)
def request_form(
    request: Request,
    w: W,
    token: Annotated[str, Form()] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    channel: Annotated[str, Form(max_length=16)] = "",
    field: Annotated[str, Form(max_length=32)] = "",
    value: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A rights request: a link to confirm it is mailed, or a code sent by SMS."""
    lang = w.lang(request)
    offered = offers(w)
    given = {
        "r_kind": kind,
        "r_email": email,
        "r_phone": phone,
        "r_channel": channel,
        "r_field": field,
        "r_value": value,
    }

    def again(status: int, key: str) -> Response:
        return rights_form(
            request, w, status, request_errors=(text_for(lang, key),), values=given, error_key=key
        )

    if not w.rate.allow(client_of(request)):
        return again(429, "too_many")
    if not w.form_token_ok(token):
        return again(400, "bad_form")
    if email.strip() and not offered["by_email"]:
        return again(422, "request_need_one")
    if phone.strip() and not offered["by_sms"]:
        return again(422, "proof_no_sms")
    try:
        asked = _asked(kind, email, phone, channel, field, value)
    except InputError as exc:
        key = _ERRORS.get(exc.where or "", "bad_form")
        if exc.where is None:
            key = "bad_email" if email.strip() else "bad_phone"
        return again(422, key)
    if asked.email is not None:
        if not w.proof_rate.allow(f"email:{asked.email}"):
            return again(429, "too_many")
        _later(w, _mail_confirmation, asked)
        return w.page(request, "rights_request.html", step="mailed")
    assert asked.phone is not None
    if not w.proof_rate.allow(f"phone:{asked.phone}"):
        return again(429, "too_many")
    _later(w, _send_code, asked.phone)
    return w.page(request, "rights_request.html", step="code", token=w.form_token(), asked=asked)


def _done(request: Request, w: Web, request_id: int) -> Response:
    made = read_request(w.engine, request_id)
    assert made is not None
    return w.page(request, "rights_request.html", step="done", made=made)


@router.post("/droits/demande/code", response_class=HTMLResponse)
async def request_by_code(
    request: Request,
    w: W,
    token: Annotated[str, Form()] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    channel: Annotated[str, Form(max_length=16)] = "",
    field: Annotated[str, Form(max_length=32)] = "",
    value: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The code received by SMS: the request recorded when it is right."""
    lang = w.lang(request)
    try:
        asked = _asked(kind, "", phone, channel, field, value)
    except InputError:
        raise HTTPException(400) from None

    def again(status: int, key: str) -> Response:
        return w.page(
            request,
            "rights_request.html",
            status_code=status,
            step="code",
            token=w.form_token(),
            asked=asked,
            errors=[text_for(lang, key)],
        )

    person = await person_of_code(request, w, token, phone, code, again)
    if isinstance(person, Response):
        return person
    if person.phone != asked.phone:
        w.refused(request, "bad_proof_code")
        return again(400, "proof_bad_code")
    made = await run_in_threadpool(lambda: record(w.engine, asked, via="web_form"))
    return _done(request, w, made)


def _confirmation(request: Request, w: Web, t: str) -> Asked:
    with w.engine.connect() as conn:
        asked = read_confirm_link(conn, t)
    if asked is None:
        w.refused(request, "bad_request_link")
        raise HTTPException(404)
    return asked


@router.get("/droits/demande", response_class=HTMLResponse)
def request_link(request: Request, w: W, t: str = "") -> Response:
    """The link mailed to the person: what it would record, and the button that does."""
    asked = _confirmation(request, w, t)
    response = w.page(
        request,
        "rights_request.html",
        step="confirm",
        token=w.form_token(),
        asked=asked,
        t_value=t,
        keep_query=urlencode({"t": t}),  # the other language's page is the same link's
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post("/droits/demande/confirmer", response_class=HTMLResponse)
def request_confirmed(
    request: Request,
    w: W,
    token: Annotated[str, Form()] = "",
    t: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The request confirmed: recorded (once, however often the link is followed)."""
    asked = _confirmation(request, w, t)
    if not w.form_token_ok(token):
        raise HTTPException(400, "the form expired: follow the link again")
    made = record(w.engine, asked, via="web_form", confirm_key=confirm_key(t))
    return _done(request, w, made)


@router.get("/droits/reponse")
def answer_download(request: Request, w: W, t: str = "") -> Response:
    """The answer to a request, while its link is valid; else 404, saying nothing of why."""
    document = read_answer(w.engine, t)
    if document is None:
        w.refused(request, "bad_answer_link")
        raise HTTPException(404)
    return Response(
        document.body,
        media_type=document.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.name}"',
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


def _to_person(w: Web, made: RightsRequest, mail: Callable[[str], EmailMessage], sms: str) -> None:
    """Send the person ``mail`` (made for their address) or ``sms``: by mail to the
    address they confirmed with, or by SMS to the number. Raises ``InputError`` when the
    settings give no way to, and the SMTP server's or adapter's error when it refuses."""
    if made.email is not None:
        if not w.settings.notify.smtp_host:
            raise InputError(
                "[notify] smtp_host is not set: no mail can be sent",
                fr="[notify] smtp_host n'est pas renseigné : aucun mail ne peut partir",
            )
        send_mail(w.settings.notify, mail(made.email))
    elif made.phone is not None:
        if w.sms is None:
            raise InputError(
                "[sms] provider is not set: no SMS can be sent",
                fr="[sms] provider n'est pas renseigné : aucun SMS ne peut partir",
            )
        w.sms.send(made.phone, sms)
    else:
        raise InputError(
            f"request {made.id} no longer names its person",
            fr=f"la demande {made.id} ne désigne plus sa personne",
        )


def deliver_answer(w: Web, made: RightsRequest, token: str) -> None:
    """Send the person the link to their answer (``_to_person``); also ``InputError``
    without ``[web] public_url``, which the link is made from."""
    if not w.settings.web.public_url:
        raise InputError(
            "[web] public_url is not set: no link can be made",
            fr="[web] public_url n'est pas renseigné : aucun lien ne peut être fait",
        )
    url = w.settings.web.link(f"/droits/reponse?t={token}")
    sms = answer_sms(w.settings, url)
    _to_person(w, made, lambda to: answer_mail(w.settings, to, made.kind, url), sms)


def tell_extension(w: Web, made: RightsRequest) -> None:
    """Tell the person their request's deadline is extended, and why (``_to_person``)."""
    sms = extension_sms(w.settings, made)
    _to_person(w, made, lambda to: extension_mail(w.settings, to, made), sms)


__all__ = ["deliver_answer", "router", "tell_extension"]
