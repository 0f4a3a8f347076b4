"""How the application answers an error, in one place: an HTTP error raised by a
handler or a dependency, and the errors of listguard's domain a handler lets through.

Under ``/api/`` the answer is JSON (``{"detail": ...}``); elsewhere it is the error
page, in the visitor's language for a page not found. A domain error's status is its
kind's: a wrong input 400, an idempotency key reused for another body 409, an order
delivered under the hash of another 409, a rental asked while another runs 423, a
message refused by the partner side the status it names.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from listguard.collection import ConflictError
from listguard.errors import InputError
from listguard.inbound import Refused
from listguard.renting.order_hash import OrderChanged
from listguard.renting.turn import Busy
from listguard.web.i18n import text_for
from listguard.web.state import Web

# a domain error's HTTP status, the most specific kind first
STATUS: dict[type[Exception], int] = {
    ConflictError: 409,
    InputError: 400,
    OrderChanged: 409,  # an order delivered under another order's hash
    Busy: 423,  # a rental asked while another runs
}


def answer(request: Request, status: int, detail: str) -> Response:
    """An error's answer: JSON under ``/api/``, the error page elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=status)
    w: Web = request.app.state.web
    message = text_for(w.lang(request), "not_found") if status == 404 else detail
    return w.page(request, "error.html", status_code=status, message=message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.headers and "Location" in exc.headers:  # a page that needs signing in
        return Response(status_code=exc.status_code, headers=exc.headers)
    return answer(request, exc.status_code, str(exc.detail))


async def domain_error(request: Request, exc: Exception) -> Response:
    """A wrong input (``InputError`` and its kinds) the handler did not answer itself."""
    status = next(s for kind, s in STATUS.items() if isinstance(exc, kind))
    return answer(request, status, str(exc))


async def refused(request: Request, exc: Exception) -> Response:
    """A message the partner side refused (its signature, its age, its source): the
    status and reason it names; the reason is counted with the route."""
    assert isinstance(exc, Refused)
    w: Web = request.app.state.web
    w.refused(request, exc.reason)
    return answer(request, exc.status, str(exc))


def install(app: FastAPI) -> None:
    """Register the application's error handlers."""
    app.add_exception_handler(HTTPException, http_error)
    for kind in STATUS:
        app.add_exception_handler(kind, domain_error)
    app.add_exception_handler(Refused, refused)


__all__ = ["STATUS", "answer", "install"]
