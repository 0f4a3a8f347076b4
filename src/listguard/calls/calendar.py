"""When a partner may call a person (décret n° 2022-1313, code de la consommation
D223-9): Monday to Friday, except public holidays, 10:00-13:00 and 14:00-20:00, in the
time zone of the person, which listguard reads from the number.

A territory is found from the E.164 number: +33 is metropolitan France (Corsica
included: same zone and holidays; Alsace-Moselle's two extra days are not counted,
a number does not tell where in metropolitan France its holder lives); +262 is
Mayotte when the number is in Mayotte's ranges (libphonenumber's patterns, as
``listguard.normalise.phone`` uses them), Réunion otherwise; +590 Guadeloupe (with
Saint-Barthélemy and Saint-Martin, whose numbers share the code and the mobile
ranges: their own holidays are counted for every +590 number); +594 Guyane;
+596 Martinique; +508 Saint-Pierre-et-Miquelon; a +33 number in an overseas
territory's ranges (0269 and 0596 landlines) is that territory's. Any other number has no territory:
no call can be shown to fall within the hours.

Public holidays: the eleven of the code du travail (L3133-1), Easter-based ones
computed; plus each territory's commemoration of the abolition of slavery (loi
n° 83-550, décret n° 83-1003 as amended); plus 21 July (Victor Schœlcher) in
Guadeloupe and Martinique, a local holiday whose legal standing is less certain
(docs/calls.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

from listguard.domain.vocabulary import VOICE_CHANNELS

# the allowed periods of a weekday, local time: [start, end) in minutes after midnight
PERIODS = ((10 * 60, 13 * 60), (14 * 60, 20 * 60))
HOURS_TEXT = "10:00-13:00 and 14:00-20:00"
MAX_CALLS = 4  # calls or attempts by the same professional ...
WINDOW_DAYS = 30  # ... in this many days
REFUSAL_DAYS = 60  # after the person refused, no new call for this many days


@dataclass(frozen=True)
class Territory:
    code: str  # ISO 3166-1 alpha-2 (FR for metropolitan France)
    name: str
    zone: ZoneInfo
    # its own holidays: (month, day, name)
    own: tuple[tuple[int, int, str], ...] = ()


_ABOLITION = "abolition de l'esclavage"
TERRITORIES = {
    "FR": Territory("FR", "France métropolitaine", ZoneInfo("Europe/Paris")),
    "RE": Territory("RE", "La Réunion", ZoneInfo("Indian/Reunion"), ((12, 20, _ABOLITION),)),
    "YT": Territory("YT", "Mayotte", ZoneInfo("Indian/Mayotte"), ((4, 27, _ABOLITION),)),
    "GP": Territory(
        "GP",
        "Guadeloupe",
        ZoneInfo("America/Guadeloupe"),
        (
            (5, 27, _ABOLITION),
            (5, 28, f"{_ABOLITION} (Saint-Martin, même indicatif +590)"),
            (7, 21, "fête de Victor Schœlcher"),
            (10, 9, f"{_ABOLITION} (Saint-Barthélemy, même indicatif +590)"),
        ),
    ),
    "MQ": Territory(
        "MQ",
        "Martinique",
        ZoneInfo("America/Martinique"),
        ((5, 22, _ABOLITION), (7, 21, "fête de Victor Schœlcher")),
    ),
    "GF": Territory("GF", "Guyane", ZoneInfo("America/Cayenne"), ((6, 10, _ABOLITION),)),
    "PM": Territory("PM", "Saint-Pierre-et-Miquelon", ZoneInfo("America/Miquelon")),
}
# the country codes of the French national plan, and the territory of a number of
# each that matches no overseas range below
_PLAN = {"+33": "FR", "+262": "RE", "+590": "GP", "+594": "GF", "+596": "MQ"}
# overseas ranges, tried in this order (Mayotte's before Réunion's: they share +262)
_OVERSEAS = ("YT", "RE", "GP", "GF", "MQ")
_FIXED = (
    (1, 1, "jour de l'an"),
    (5, 1, "fête du Travail"),
    (5, 8, "victoire 1945"),
    (7, 14, "fête nationale"),
    (8, 15, "Assomption"),
    (11, 1, "Toussaint"),
    (11, 11, "armistice 1918"),
    (12, 25, "Noël"),
)


def easter(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@cache
def holidays(code: str, year: int) -> dict[dt.date, str]:
    """The public holidays of a territory in a year, each with its name."""
    sunday = easter(year)
    days = {dt.date(year, m, d): name for m, d, name in _FIXED}
    days[sunday + dt.timedelta(days=1)] = "lundi de Pâques"
    days[sunday + dt.timedelta(days=39)] = "Ascension"
    days[sunday + dt.timedelta(days=50)] = "lundi de Pentecôte"
    for m, d, name in TERRITORIES[code].own:
        days.setdefault(dt.date(year, m, d), name)
    return days


@cache
def _ranges() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each overseas territory's fixed and mobile ranges (libphonenumber's patterns)."""
    data = resources.files("listguard.data").joinpath("phone_patterns.json").read_text("utf-8")
    regions = json.loads(data)["regions"]
    return tuple(
        (
            code,
            re.compile(
                "|".join(f"(?:{regions[code]['types'][t]})" for t in ("fixed_line", "mobile"))
            ),
        )
        for code in _OVERSEAS
    )


@lru_cache(maxsize=65536)
def territory_of(number: str) -> Territory | None:
    """The territory of an E.164 number, or None when it is not one listguard knows.

    A number of the national plan is placed by its own digits, whatever country code
    it was written with: a Martinique landline given as ``+33 596 ...`` (as the
    libphonenumber patterns for France also match it) is in Martinique."""
    if number.startswith("+508"):
        return TERRITORIES["PM"]
    code = next((c for c in _PLAN if number.startswith(c)), None)
    if code is None:
        return None
    digits = number[len(code) :]
    for region, pattern in _ranges():
        if pattern.fullmatch(digits):
            return TERRITORIES[region]
    return TERRITORIES[_PLAN[code]]


@dataclass(frozen=True)
class Moment:
    """An instant as the person lives it."""

    local: dt.datetime
    weekend: bool
    holiday: str | None  # the holiday's name
    in_hours: bool


def moment(territory: Territory, at: dt.datetime) -> Moment:
    """``at`` (aware) in the territory's time zone, and what the rules say of it."""
    local = at.astimezone(territory.zone)
    minute = local.hour * 60 + local.minute
    return Moment(
        local=local,
        weekend=local.weekday() >= 5,
        holiday=holidays(territory.code, local.year).get(local.date()),
        in_hours=any(start <= minute < end for start, end in PERIODS),
    )


CALL_CHANNELS = VOICE_CHANNELS


def manifest_entry(channels: tuple[str, ...] | list[str]) -> dict[str, object]:
    """What a delivery's manifest states of the call rules when a call channel is
    rented (``{}`` otherwise): the days, the hours, the limits, each territory's zone
    and own holidays."""
    if not any(ch in CALL_CHANNELS for ch in channels):
        return {}
    return {
        "call_rules": {
            "source": "code de la consommation D223-9 (décret n° 2022-1313) [S]",
            "days": "monday to friday, except public holidays",
            "hours": [f"{a // 60:02d}:00-{b // 60:02d}:00" for a, b in PERIODS],
            "time_zone": "the person's, by the territory of the number",
            "max_calls": MAX_CALLS,
            "window_days": WINDOW_DAYS,
            "no_call_after_refusal_days": REFUSAL_DAYS,
            "territories": {
                t.code: {
                    "name": t.name,
                    "time_zone": t.zone.key,
                    "own_holidays": [f"{m:02d}-{d:02d} {name}" for m, d, name in t.own],
                }
                for t in TERRITORIES.values()
            },
        }
    }


__all__ = [
    "CALL_CHANNELS",
    "HOURS_TEXT",
    "MAX_CALLS",
    "PERIODS",
    "REFUSAL_DAYS",
    "TERRITORIES",
    "WINDOW_DAYS",
    "Moment",
    "Territory",
    "easter",
    "holidays",
    "manifest_entry",
    "moment",
    "territory_of",
]
