"""The partner side's call rules through the API: a dialer asks before each call
whether the number may be called now, with every reason it may not, and records each
call or attempt made (the 30-day limit counts them). A machine key of this registry
with the scope ``calls:check`` or ``calls:write``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from listguard.calls.check import as_e164, check
from listguard.calls.log import parse_at, record
from listguard.errors import InputError
from listguard.web.deps import ERRORS, OwnerGrant, W, owner_scope

router = APIRouter(prefix="/api/v1/calls", tags=["partner side"], responses=ERRORS)


class Reason(BaseModel):
    code: str
    message: str


class CallCheck(BaseModel):
    number: str = Field(description="the number in E.164")
    at: str
    allowed: bool = Field(description="true when the number may be called at `at`")
    territory: str | None
    time_zone: str | None
    local_time: str | None = Field(description="`at` in the person's time zone")
    calls_in_window: int = Field(description="calls or attempts in the 30 days up to `at`")
    reasons: list[Reason] = Field(description="every reason it may not, in a fixed order")


class Attempt(BaseModel):
    number: str = Field(max_length=40)
    at: str = Field(max_length=40, description="ISO 8601 with its zone")
    outcome: Literal["attempt", "answered", "refused"] = "attempt"


class AttemptRecorded(BaseModel):
    number: str
    recorded: bool = Field(description="false when this call was recorded already")


def _number(w: W, request: Request, value: str) -> str:
    number = as_e164(value)
    if number is None:
        w.refused(request, "not_a_number")
        raise HTTPException(400, f"{value[:40]!r} is not a phone number")
    return number


# an offset whose "+" a client left unencoded in the query string, read back as a space
_SPACE_FOR_PLUS = re.compile(r"(\d{4}-\d{2}-\d{2}T[0-9:.]+) (\d{2}:?\d{2})")


def _instant(w: W, request: Request, value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(tz=dt.UTC)
    if unencoded := _SPACE_FOR_PLUS.fullmatch(value):
        value = f"{unencoded.group(1)}+{unencoded.group(2)}"
    try:
        return parse_at(value[:40], where="at")
    except InputError:  # answered 400 with its message
        w.refused(request, "bad_instant")
        raise


@router.get("/check", response_model=CallCheck)
def calls_check(
    request: Request,
    w: W,
    _: Annotated[OwnerGrant, owner_scope("calls:check")],
    number: Annotated[str, Query(max_length=40)],
    at: Annotated[str | None, Query(max_length=40, description="ISO 8601 with its zone")] = None,
) -> CallCheck:
    """May this number be called at `at` (default now)?"""
    value = _number(w, request, number)
    when = _instant(w, request, at)
    with w.engine.connect() as conn:
        answer = check(conn, value, when)
    return CallCheck.model_validate(answer.as_dict())


@router.post("/attempts", status_code=201, response_model=AttemptRecorded)
def calls_attempt(
    request: Request, body: Attempt, w: W, _: Annotated[OwnerGrant, owner_scope("calls:write")]
) -> AttemptRecorded:
    """Record a call or attempt made (`refused`: the person refused; no new call for
    60 days)."""
    value = _number(w, request, body.number)
    when = _instant(w, request, body.at)
    try:
        done = record(w.engine, value, when, body.outcome)
    except InputError:  # answered 400 with its message
        w.refused(request, "bad_instant")
        raise
    return AttemptRecorded(number=value, recorded=done)


__all__ = ["router"]
