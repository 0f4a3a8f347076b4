"""A rights request's deadline extended by two months (GDPR art. 12(3)).

The owner answers within one month of receipt. "That period may be extended by two
further months where necessary, taking into account the complexity and number of the
requests. The controller shall inform the data subject of any such extension within
one month of receipt of the request, together with the reasons for the delay."

So an extension here is two steps:

- ``extend`` decides it: once, on an open request, while its first month runs (on its
  first due day at the latest), with a reason of at most ``MAX_REASON`` characters that
  the person is told. An objection is not extended: an objection to direct marketing
  is applied at once (art. 21(3)), its request answered the day it is taken.
- ``told`` records that the person was told (by the mail or SMS made here, or by a
  letter), while the first month still runs: only then does ``due_on`` move, to two
  months after the first deadline (received on 31 January: first due on 28 February,
  then on 28 April, never later than three months after receipt). An extension the
  person was not told of in time does not count: the first deadline stays.

Both are written to the audit log (``rights_request_extended``, then
``rights_request_extension_told`` with the new deadline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from email.message import EmailMessage
from typing import Literal

from sqlalchemy import Connection, Engine, text

from listguard.config import Settings
from listguard.errors import InputError
from listguard.mail import to_person
from listguard.rights_answers import TITLES
from listguard.rights_requests import (
    RightsRequest,
    audit_request,
    due_on,
    get_request,
    not_open,
)
from listguard.storage.engine import writing
from listguard.timeutil import now_ts, to_day

MONTHS = 2  # art. 12(3): "two further months"
MAX_REASON = 500  # told by SMS too: a few messages at most
NOT_EXTENDED = ("objection",)
ToldBy = Literal["mail", "sms", "letter"]


def first_due(request: RightsRequest) -> dt.date:
    """The request's deadline before any extension: one month after receipt."""
    return due_on(to_day(request.received_at))


def extended_due(request: RightsRequest) -> dt.date:
    """The deadline once extended: two months after the first one."""
    return due_on(first_due(request), MONTHS)


def can_extend(request: RightsRequest, on: dt.date) -> bool:
    """Whether ``extend`` would take the request on day ``on``."""
    return (
        request.open
        and request.extended_at is None
        and request.kind not in NOT_EXTENDED
        and on <= first_due(request)
    )


def awaits_telling(request: RightsRequest, on: dt.date) -> bool:
    """Extended but the person not told yet, and still time to (``told``)."""
    return (
        request.open
        and request.extended_at is not None
        and request.extension_told_at is None
        and on <= first_due(request)
    )


def _open_request(conn: Connection, request_id: int) -> RightsRequest:
    request = get_request(conn, request_id)
    if request is None or not request.open:
        raise not_open(request_id)
    return request


def _late(request: RightsRequest) -> InputError:
    first = first_due(request).isoformat()
    return InputError(
        f"request {request.id} was due on {first}: the person is told of an extension "
        "within one month of receipt (art. 12(3)), it is too late",
        fr=f"la demande {request.id} était à traiter au plus tard le {first} : une "
        "prolongation s'annonce à la personne dans le mois de la réception (art. 12(3)), "
        "il est trop tard",
    )


def extend(
    engine: Engine, request_id: int, reason: str, by: str, *, now: int | None = None
) -> RightsRequest:
    """Decide to extend the deadline of the open request ``request_id`` by two months,
    for ``reason``; returns the request. ``InputError`` says why it cannot be (no
    reason, closed, an objection, already extended, its first month over). The
    deadline moves once the person is told (``told``)."""
    reason = reason.strip()
    if not reason:
        raise InputError(
            "an extension gives the person its reason",
            where="reason",
            fr="indiquez la raison de la prolongation, qui sera donnée à la personne",
        )
    if len(reason) > MAX_REASON:
        raise InputError(
            f"at most {MAX_REASON} characters",
            where="reason",
            fr=f"raison : {MAX_REASON} caractères au plus",
        )
    at = now if now is not None else now_ts()
    with writing(engine) as conn:
        request = _open_request(conn, request_id)
        if request.kind in NOT_EXTENDED:
            raise InputError(
                f"request {request_id} is an objection: it is applied at once (art. 21(3)), "
                "its deadline is not extended",
                fr=f"la demande {request_id} est une opposition : elle s'applique sans délai "
                "(art. 21(3)), son échéance ne se prolonge pas",
            )
        if request.extended_at is not None:
            raise InputError(
                f"request {request_id} was extended already: art. 12(3) allows one extension",
                fr=f"la demande {request_id} est déjà prolongée : l'art. 12(3) n'en permet qu'une",
            )
        if not can_extend(request, to_day(at)):
            raise _late(request)
        done = conn.execute(
            text(
                "UPDATE rights_requests SET extended_at = :at, extension_reason = :r "
                "WHERE id = :i AND extended_at IS NULL AND status IN ('received', 'in_progress')"
            ),
            {"at": at, "r": reason, "i": request_id},
        )
        if done.rowcount != 1:  # closed or extended by another hand meanwhile
            raise InputError(
                f"request {request_id} changed meanwhile: look at it again",
                fr=f"la demande {request_id} a changé entre-temps : rechargez la page pour "
                "la voir à jour",
            )
        until = extended_due(request).isoformat()
        detail = {"request": request_id, "kind": request.kind, "until": until, "by": by}
        audit_request(conn, request_id, "rights_request_extended", detail, at)
    return replace(request, extended_at=at, extension_reason=reason)


def told(
    engine: Engine, request_id: int, by: str, how: ToldBy, *, now: int | None = None
) -> RightsRequest:
    """Record that the person was told of the extension (``how``), which moves the
    deadline; ``InputError`` when the request is not extended, closed, or its first
    month is over (the extension then does not count)."""
    at = now if now is not None else now_ts()
    with writing(engine) as conn:
        request = _open_request(conn, request_id)
        if request.extended_at is None or request.extension_told_at is not None:
            raise InputError(
                f"request {request_id} has no extension waiting to be told",
                fr=f"la demande {request_id} n'a pas de prolongation à annoncer",
            )
        if not awaits_telling(request, to_day(at)):
            raise _late(request)
        until = extended_due(request)
        conn.execute(
            text(
                "UPDATE rights_requests SET due_on = :d, extension_told_at = :at "
                "WHERE id = :i AND extension_told_at IS NULL"
            ),
            {"d": until.isoformat(), "at": at, "i": request_id},
        )
        detail = {
            "request": request_id,
            "due_on": until.isoformat(),
            "was_due_on": first_due(request).isoformat(),
            "how": how,
            "by": by,
        }
        audit_request(conn, request_id, "rights_request_extension_told", detail, at)
    return replace(request, due_on=until, extension_told_at=at)


def _day(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def extension_mail(settings: Settings, to: str, request: RightsRequest) -> EmailMessage:
    """The mail telling the person their request's deadline is extended, and why."""
    owner = settings.owner.name
    return to_person(
        settings,
        to,
        "Délai de réponse à votre demande prolongé",
        "Bonjour,\n\n"
        f"{owner} a bien reçu votre demande ({TITLES[request.kind]}) le "
        f"{_day(to_day(request.received_at))}. Le délai pour y répondre est prolongé de "
        f"deux mois, comme le permet l'article 12, paragraphe 3, du RGPD : vous recevrez "
        f"la réponse au plus tard le {_day(extended_due(request))}.\n\n"
        f"La raison de ce délai :\n\n{request.extension_reason}\n\n"
        "Vous pouvez introduire une réclamation auprès de la CNIL (www.cnil.fr).\n",
    )


def extension_sms(settings: Settings, request: RightsRequest) -> str:
    """The same, by SMS (a request confirmed by SMS), the reason included."""
    return (
        f"{settings.owner.name} : le délai de réponse à votre demande est prolongé de deux "
        f"mois (art. 12 RGPD), jusqu'au {_day(extended_due(request))}. "
        f"Raison : {request.extension_reason} Recours : CNIL (cnil.fr)."
    )


__all__ = [
    "MAX_REASON",
    "MONTHS",
    "awaits_telling",
    "can_extend",
    "extend",
    "extended_due",
    "extension_mail",
    "extension_sms",
    "first_due",
    "told",
]
