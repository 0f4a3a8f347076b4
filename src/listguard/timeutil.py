"""Time in the registry.

Instants are stored as integer Unix seconds (UTC): the same comparison works in
SQLite and PostgreSQL and the set-based rules only compare integers. A date
(a delivery date, a screening date) stands for a day in Europe/Paris.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def day_start(day: dt.date) -> int:
    """First second of ``day`` in Paris, as Unix seconds."""
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=PARIS).timestamp())


def day_end(day: dt.date) -> int:
    """Last second of ``day`` in Paris, as Unix seconds."""
    return day_start(day + dt.timedelta(days=1)) - 1


def to_day(ts: int) -> dt.date:
    """The Paris calendar day of an instant."""
    return dt.datetime.fromtimestamp(ts, tz=PARIS).date()


def to_iso(ts: int | None) -> str:
    """An instant as ISO 8601 in Paris time, or '' when absent."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, tz=PARIS).isoformat()


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def now_ts() -> int:
    return int(dt.datetime.now(tz=dt.UTC).timestamp())


def today() -> dt.date:
    return dt.datetime.now(tz=PARIS).date()
