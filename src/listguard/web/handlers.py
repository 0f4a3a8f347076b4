"""How the application answers an error, in one place: an HTTP error raised by a
handler or a dependency, and the errors of listguard's domain a handler lets through.

Under ``/api/`` the answer is JSON (``{"detail": ...}``, FastAPI's own for a request
that does not match a route's types); elsewhere it is the error page, in the visitor's
language (French by default), the status in words and, under ``/admin``, inside the
back office's layout with the handler's detail. A domain error's status is its kind's:
a wrong input 400, an idempotency key reused for another body 409, an order delivered
under the hash of another 409, a rental asked while another runs 423, a message
refused by the partner side the status it names. A page's parameter that does not
match its type (``/partenaires?version=abc``) is the error page naming it, never raw JSON.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from listguard.accounts import session_of
from listguard.collection import ConflictError
from listguard.errors import InputError, ListguardError
from listguard.inbound import Refused
from listguard.renting.order_hash import OrderChanged
from listguard.renting.turn import Busy
from listguard.web.deps import COOKIE
from listguard.web.state import Web
from listguard.web.words import http_words

log = logging.getLogger(__name__)

# a domain error's HTTP status, the most specific kind first
STATUS: dict[type[Exception], int] = {
    ConflictError: 409,
    InputError: 400,
    OrderChanged: 409,  # an order delivered under another order's hash
    Busy: 423,  # a rental asked while another runs
}


def _session(request: Request, w: Web) -> Any:
    """The back office's session, for its layout (none if the registry cannot say)."""
    try:
        return session_of(w.engine, request.cookies.get(COOKIE))
    except Exception:  # an error page must not fail for want of a session
        return None


def answer(request: Request, status: int, detail: str, fields: Sequence[str] = ()) -> Response:
    """An error's answer: JSON under ``/api/``, the error page elsewhere: the status in
    the visitor's words; under ``/admin`` in the back office's layout, with the
    handler's detail when it says more than the status (in the page's language where
    the error gives it, ``ListguardError.said``)."""
    if _api(request):
        return JSONResponse({"detail": detail}, status_code=status)
    w: Web = request.app.state.web
    title, explanation = http_words(status, w.lang(request))
    in_admin = request.url.path == "/admin" or request.url.path.startswith("/admin/")
    plain = detail in ("", _phrase(status))
    return w.page(
        request,
        "error.html",
        status_code=status,
        layout="admin/base.html" if in_admin else "base.html",
        session=_session(request, w) if in_admin else None,
        message=title,
        explanation=explanation,
        fields=list(fields),
        detail=None if plain or not in_admin else detail,
    )


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.headers and "Location" in exc.headers:  # a page that needs signing in
        return Response(status_code=exc.status_code, headers=exc.headers)
    return answer(request, exc.status_code, str(exc.detail))


async def domain_error(request: Request, exc: Exception) -> Response:
    """A domain error (``STATUS``) the handler did not answer itself."""
    status = next(s for kind, s in STATUS.items() if isinstance(exc, kind))
    assert isinstance(exc, ListguardError)
    w: Web = request.app.state.web
    return answer(request, status, str(exc) if _api(request) else exc.said(w.lang(request)))


async def refused(request: Request, exc: Exception) -> Response:
    """A message the partner side refused (its signature, its age, its source): the
    status and reason it names; the reason is counted with the route."""
    assert isinstance(exc, Refused)
    w: Web = request.app.state.web
    w.refused(request, exc.reason)
    return answer(request, exc.status, str(exc))


async def invalid_request(request: Request, exc: Exception) -> Response:
    """A request that does not match the route's types: FastAPI's JSON under ``/api/``;
    on a page, the error page naming each parameter and what it must be."""
    assert isinstance(exc, RequestValidationError)
    if request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, exc)
    w: Web = request.app.state.web
    w.refused(request, "invalid_parameter")
    en = w.lang(request) == "en"
    fields = []
    for error in exc.errors():
        name = str(error.get("loc", ("", "?"))[-1])
        limit = (error.get("ctx") or {}).get("max_length")
        if error.get("type") == "string_too_long" and limit is not None:
            fields.append(
                f"« {name} » : {limit} caractères au plus"
                if not en
                else f"“{name}”: at most {limit} characters"
            )
        else:
            fields.append(f"« {name} » : valeur non valide" if not en else f"“{name}”: not valid")
    return answer(request, 422, "", fields)


async def server_error(request: Request, exc: Exception) -> Response:
    """An error no handler expected: logged with its traceback, answered with the error
    page (plain text under ``/api/``, as before: the JSON handlers never saw it)."""
    log.error("server error on %s", request.url.path, exc_info=exc)
    if request.url.path.startswith("/api/"):
        return PlainTextResponse("Internal Server Error", status_code=500)
    try:
        return answer(request, 500, "")
    except Exception:  # the page itself cannot be made: the bare answer
        return PlainTextResponse("Internal Server Error", status_code=500)


def install(app: FastAPI) -> None:
    """Register the application's error handlers."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, server_error)
    for kind in STATUS:
        app.add_exception_handler(kind, domain_error)
    app.add_exception_handler(Refused, refused)


__all__ = ["STATUS", "answer", "install"]
