"""What a handler asks for, as typed FastAPI dependencies: the application's state,
the client's address, an API key's grant with the scope the route needs, a signed-in
member of the owner's team.

A dependency that cannot give what is asked answers for the handler: 401 without a
valid key, 403 without the scope (or a partner's route with a key of the owner's
systems), a redirect to the sign-in page without a session. A handler that receives
a ``PartnerGrant`` always has the partner's id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import update

from listguard.accounts import GRANTS, ApiKey, Session, session_of
from listguard.constant_time import same
from listguard.db import schema
from listguard.storage.engine import writing
from listguard.timeutil import now_ts
from listguard.web.state import Web

COOKIE = "lg_session"


async def web(request: Request) -> Web:
    """The application's state (async: no I/O, so no trip through the thread pool)."""
    state: Web = request.app.state.web
    return state


W = Annotated[Web, Depends(web)]


def client_of(request: Request) -> str:
    """The client's address (behind a trusted reverse proxy, the one it forwards: see
    ``edge.Forwarded``)."""
    return request.client.host if request.client else "unknown"


class Problem(BaseModel):
    detail: str


# what the API's routes may answer besides their own answer, as the schema publishes it
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request names nobody, or nobody valid"},
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The key lacks the scope of this route"},
    404: {"model": Problem, "description": "Not found (or another partner's)"},
}
bearer = HTTPBearer(auto_error=False)


async def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The grant of the request's key. Async: a key checked within the last second is
    answered from memory in the event loop; only a look-up or the last-use stamp (once
    a minute) goes to a thread."""
    w: Web = request.app.state.web
    if credentials is None:
        w.refused(request, "no_api_key")
        raise HTTPException(401, "an API key is required (Authorization: Bearer lg_...)")
    key = credentials.credentials
    held, grant = GRANTS.peek(w.engine, key)
    if not held:
        grant = await run_in_threadpool(GRANTS.check, w.engine, key)
    now = now_ts()
    if grant is not None and (grant.last_used_at or 0) < now - 60:  # to the minute: no write
        await run_in_threadpool(_stamp_use, w, grant.id, now)
        GRANTS.keep(w.engine, key, replace(grant, last_used_at=now))
    if grant is None:
        w.refused(request, "bad_api_key")
        raise HTTPException(401, "unknown or revoked API key")
    return grant


def _stamp_use(w: Web, key_id: int, now: int) -> None:
    with writing(w.engine) as conn:
        conn.execute(
            update(schema.api_keys).where(schema.api_keys.c.id == key_id).values(last_used_at=now)
        )


@dataclass(frozen=True)
class OwnerGrant:
    """A key holding the scope of a route of the owner's systems (those scopes are given
    to the owner's machine keys only)."""

    key: ApiKey


@dataclass(frozen=True)
class PartnerGrant:
    """A partner's key holding the scope of the route: the partner it speaks for."""

    partner_id: str
    key: ApiKey


def _scoped(grant: ApiKey, needed: str) -> None:
    if needed not in grant.scopes:
        raise HTTPException(403, f"this key lacks the scope {needed}")


def owner_scope(needed: str) -> Any:
    """``Annotated[OwnerGrant, owner_scope("oppositions:write")]``: a key of the owner's
    systems with that scope. A partner's key never passes, whatever its scopes: the two
    roles share scope names (``deliveries:read``), never what they open."""

    async def check(grant: Annotated[ApiKey, Depends(api_key)]) -> OwnerGrant:
        _scoped(grant, needed)
        if grant.partner_id is not None or grant.role != "machine":
            raise HTTPException(403, f"this key lacks the scope {needed}")
        return OwnerGrant(grant)

    return Depends(check)


def partner_scope(needed: str) -> Any:
    """``Annotated[PartnerGrant, partner_scope("deliveries:read")]``: a partner's key
    with that scope (partners' scopes are given to partners' keys only)."""

    async def check(grant: Annotated[ApiKey, Depends(api_key)]) -> PartnerGrant:
        _scoped(grant, needed)
        if grant.partner_id is None:
            raise HTTPException(403, f"this key lacks the scope {needed}")
        return PartnerGrant(grant.partner_id, grant)

    return Depends(check)


def signed_in(request: Request, w: W) -> Session:
    """The back office's session, or the sign-in page."""
    session = session_of(w.engine, request.cookies.get(COOKIE))
    if session is None:
        raise HTTPException(303, headers={"Location": "/admin/login"})
    return session


SignedIn = Annotated[Session, Depends(signed_in)]


def admin_only(session: SignedIn) -> Session:
    """A session of one of the owner's admins (403 for an operator)."""
    if session.account.role != "admin":
        raise HTTPException(403, "this page is for the owner's admins")
    return session


AdminSession = Annotated[Session, Depends(admin_only)]


def check_csrf(session: Session, token: str) -> None:
    """The form carries the session's CSRF token (403 if not: an expired page)."""
    if not same(session.csrf, token):
        raise HTTPException(403, "the form expired: reload the page")


__all__ = [
    "COOKIE",
    "ERRORS",
    "AdminSession",
    "OwnerGrant",
    "PartnerGrant",
    "Problem",
    "SignedIn",
    "W",
    "admin_only",
    "api_key",
    "bearer",
    "check_csrf",
    "client_of",
    "owner_scope",
    "partner_scope",
    "signed_in",
    "web",
]
