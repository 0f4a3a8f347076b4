"""A rights request's deadline extended by two months (GDPR art. 12(3)).

The owner answers within one month of receipt. "That period may be extended by two
further months where necessary, taking into account the complexity and number of the
requests. The controller shall inform the data subject of any such extension within
one month of receipt of the request, together with the reasons for the delay."

So an extension here:

- is made once, on an open request, while its first month runs (on its due day at the
  latest): an overdue request can no longer be extended;
- gives a reason, which the person is told;
- moves ``due_on`` to three months after receipt, by the rule of the first month (the
  same day, or the month's last day when it has none: received on 30 November, due on
  28 February, or 29 in a leap year);
- is written to the audit log (``rights_request_extended``, with the new deadline).

The person is told by the mail or SMS made here (``extension_mail``, ``extension_sms``),
sent by whoever extends the request (the back office) to the address or number the
request holds.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from sqlalchemy import Engine, text

from listguard import audit
from listguard.config import Settings
from listguard.errors import InputError
from listguard.rights_answers import TITLES
from listguard.rights_requests import RightsRequest, due_on, get_request
from listguard.storage.engine import writing
from listguard.timeutil import now_ts, to_day

MONTHS = 2  # art. 12(3): "two further months"
MAX_REASON = 2000


def extend(
    engine: Engine, request_id: int, reason: str, by: str, *, now: int | None = None
) -> RightsRequest:
    """Extend the deadline of the open request ``request_id`` by two months, for
    ``reason``; returns the request as it now stands. ``InputError`` says why it
    cannot be (no reason, closed, already extended, its first month over)."""
    reason = reason.strip()
    if not reason:
        raise InputError("an extension gives the person its reason", where="reason")
    if len(reason) > MAX_REASON:
        raise InputError(f"at most {MAX_REASON} characters", where="reason")
    at = now if now is not None else now_ts()
    with writing(engine) as conn:
        request = get_request(conn, request_id)
        if request is None or not request.open:
            raise InputError(f"request {request_id} is not open (answered, refused or unknown)")
        if request.extended_at is not None:
            raise InputError(
                f"request {request_id} was extended already, until "
                f"{request.due_on.isoformat()}: art. 12(3) allows one extension of two months"
            )
        received = to_day(request.received_at)
        first = due_on(received)
        if to_day(at) > first:
            raise InputError(
                f"request {request_id} was due on {first.isoformat()}: an extension is told "
                "to the person within one month of receipt (art. 12(3)), it can no longer "
                "be made"
            )
        until = due_on(received, 1 + MONTHS)
        done = conn.execute(
            text(
                "UPDATE rights_requests SET due_on = :d, extended_at = :at, "
                "extension_reason = :r WHERE id = :i AND extended_at IS NULL "
                "AND status IN ('received', 'in_progress')"
            ),
            {"d": until.isoformat(), "at": at, "r": reason, "i": request_id},
        )
        if done.rowcount != 1:  # closed or extended by another hand meanwhile
            raise InputError(f"request {request_id} changed meanwhile: look at it again")
        person = conn.execute(
            text("SELECT person FROM rights_requests WHERE id = :i"), {"i": request_id}
        ).scalar_one()
        detail = {
            "request": request_id,
            "kind": request.kind,
            "due_on": until.isoformat(),
            "was_due_on": first.isoformat(),
            "by": by,
        }
        audit.append(conn, "rights_request_extended", str(person), detail, at)
        extended = get_request(conn, request_id)
    assert extended is not None
    return extended


def _day(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def extension_mail(settings: Settings, to: str, request: RightsRequest) -> EmailMessage:
    """The mail telling the person their request's deadline is extended, and why."""
    owner = settings.owner.name
    mail = EmailMessage()
    mail["From"] = settings.notify.sender
    mail["To"] = to
    mail["Subject"] = f"Délai de réponse à votre demande prolongé ({owner})"
    mail.set_content(
        "Bonjour,\n\n"
        f"{owner} a bien reçu votre demande ({TITLES[request.kind]}) le "
        f"{_day(to_day(request.received_at))}. Le délai pour y répondre est prolongé de "
        f"deux mois, comme le permet l'article 12, paragraphe 3, du RGPD : vous recevrez "
        f"la réponse au plus tard le {_day(request.due_on)}.\n\n"
        f"La raison de ce délai :\n\n{request.extension_reason}\n\n"
        "Vous pouvez introduire une réclamation auprès de la CNIL (www.cnil.fr).\n"
    )
    return mail


def extension_sms(settings: Settings, request: RightsRequest) -> str:
    """The same, by SMS (a request confirmed by SMS), the reason included."""
    return (
        f"{settings.owner.name} : le délai de réponse à votre demande est prolongé de deux "
        f"mois (art. 12 RGPD), jusqu'au {_day(request.due_on)}. "
        f"Raison : {request.extension_reason}"
    )


__all__ = ["MONTHS", "extend", "extension_mail", "extension_sms"]
