"""May the partner call this number at this instant? Every reason it may not, in the
order of ``REASONS``: the number must be in a delivery received and still usable, on
no suppression list, called within the hours and days of the person's territory, at
most 4 times in 30 days and not within 60 days of the person's refusal (D223-9).

``facts`` reads what the registry holds of one number in one statement; ``decide``
is pure and cheap, so that a dialer can ask before every call.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Connection

from listguard.calls.calendar import (
    HOURS_TEXT,
    MAX_CALLS,
    REFUSAL_DAYS,
    WINDOW_DAYS,
    Territory,
    moment,
    territory_of,
)

DAY = 86_400
# every reason a call may not be made, in the order they are given
REASONS = {
    "not_delivered": "no delivery received holds this number",
    "no_longer_eligible": "the deliveries holding this number may no longer be used",
    "opposition": "the number is on a suppression list (an opposition received)",
    "unknown_territory": "not a number of metropolitan France or of an overseas "
    "territory listguard knows: its time zone and holidays are unknown",
    "weekend": "calls are made Monday to Friday only",
    "public_holiday": "no calls on public holidays",
    "outside_hours": f"calls are made {HOURS_TEXT} in the person's time zone",
    "call_limit": f"{MAX_CALLS} calls or attempts in the last {WINDOW_DAYS} days",
    "refused_recently": f"the person refused a call within the last {REFUSAL_DAYS} days",
}
_FACTS = (
    "SELECT "
    "(SELECT count(*) FROM call_numbers WHERE number = :n) AS delivered, "
    "(SELECT count(*) FROM call_numbers WHERE number = :n "
    " AND (usable_until IS NULL OR usable_until >= :at)) AS usable, "
    "(SELECT count(*) FROM suppressions WHERE kind = 'phone' AND value = :n) AS opposed, "
    "(SELECT count(*) FROM call_attempts WHERE number = :n "
    " AND at > :window AND at <= :at) AS calls, "
    "(SELECT max(at) FROM call_attempts WHERE number = :n AND outcome = 'refused' "
    " AND at > :refusal AND at <= :at) AS refused_at"
)
# the statement in the driver's own style of parameters: through the driver's cursor,
# a check costs a fifth of what it costs through SQLAlchemy's execution (bench/calls.py)
_BY_STYLE = {"named": _FACTS, "pyformat": re.sub(r":(\w+)", r"%(\1)s", _FACTS)}


_E164 = re.compile(r"\+[1-9][0-9]{5,14}")


def as_e164(value: str) -> str | None:
    """The number as the registry holds it (E.164), or None when it is not a number.
    A value already in E.164 is taken as it is (a dialer's usual form: no work per
    call), unless it is a +33 number of an overseas range, which the normaliser gives
    its own country code."""
    if _E164.fullmatch(value) and (
        not value.startswith("+33") or (value[3] != "0" and _territory_code(value) == "FR")
    ):
        return value
    return _normalised(value.strip()[:64])


def _territory_code(number: str) -> str | None:
    place = territory_of(number)
    return place.code if place else None


@lru_cache(maxsize=4096)
def _normalised(value: str) -> str | None:
    from listguard.normalise.phone import normalise_phone

    return normalise_phone(value)[0]


@dataclass(frozen=True)
class Facts:
    """What the registry holds of a number as of an instant."""

    delivered: int = 0  # deliveries received holding it
    usable: int = 0  # of which not ended
    opposed: bool = False
    calls: int = 0  # calls or attempts in the 30 days up to the instant
    refused_at: int | None = None  # a refusal in the 60 days up to the instant


@dataclass(frozen=True)
class Answer:
    number: str
    at: dt.datetime
    territory: Territory | None
    local: dt.datetime | None
    calls: int
    reasons: tuple[tuple[str, str], ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "at": self.at.isoformat(),
            "allowed": self.allowed,
            "territory": self.territory.name if self.territory else None,
            "time_zone": self.territory.zone.key if self.territory else None,
            "local_time": self.local.isoformat() if self.local else None,
            "calls_in_window": self.calls,
            "reasons": [{"code": c, "message": m} for c, m in self.reasons],
        }


def facts(conn: Connection, number: str, at: dt.datetime) -> Facts:
    """What the registry holds of ``number`` (E.164) as of ``at``: one statement."""
    ts = int(at.timestamp())
    params = {
        "n": number,
        "at": ts,
        "window": ts - WINDOW_DAYS * DAY,
        "refusal": ts - REFUSAL_DAYS * DAY,
    }
    style = "named" if conn.dialect.name == "sqlite" else "pyformat"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_BY_STYLE[style], params)
        row = cursor.fetchone()
        assert row is not None  # one row, always
        delivered, usable, opposed, calls, refused_at = row
    finally:
        cursor.close()
    return Facts(
        int(delivered),
        int(usable),
        bool(opposed),
        int(calls),
        None if refused_at is None else int(refused_at),
    )


def decide(number: str, at: dt.datetime, known: Facts) -> Answer:
    """Every reason ``number`` (E.164) may not be called at ``at`` (aware), given what
    the registry holds of it."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the instant of a call must carry its time zone")
    reasons: list[str] = []
    if not known.delivered:
        reasons.append("not_delivered")
    elif not known.usable:
        reasons.append("no_longer_eligible")
    if known.opposed:
        reasons.append("opposition")
    place = territory_of(number)
    local = None
    if place is None:
        reasons.append("unknown_territory")
    else:
        now = moment(place, at)
        local = now.local
        if now.weekend:
            reasons.append("weekend")
        if now.holiday:
            reasons.append("public_holiday")
        if not now.in_hours:
            reasons.append("outside_hours")
    if known.calls >= MAX_CALLS:
        reasons.append("call_limit")
    if known.refused_at is not None:
        reasons.append("refused_recently")
    explained = []
    for code in reasons:
        message = REASONS[code]
        if code == "public_holiday" and place is not None and local is not None:
            message = f"{message}: {local.date().isoformat()} is a public holiday in "
            message += f"{place.name} ({moment(place, at).holiday})"
        elif code == "outside_hours" and local is not None:
            message = f"{message}: it is {local:%H:%M} there ({place.zone.key if place else ''})"
        elif code == "call_limit":
            message = f"{known.calls} calls or attempts in the last {WINDOW_DAYS} days "
            message += f"(at most {MAX_CALLS})"
        explained.append((code, message))
    return Answer(number, at, place, local, known.calls, tuple(explained))


def check(conn: Connection, number: str, at: dt.datetime) -> Answer:
    """May ``number`` (E.164) be called at ``at`` (aware)? With every reason it may not."""
    return decide(number, at, facts(conn, number, at))


__all__ = ["REASONS", "Answer", "Facts", "as_e164", "check", "decide", "facts"]
