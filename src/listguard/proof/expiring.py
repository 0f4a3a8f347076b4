"""Phone consents about to lapse: ``listguard consents expiring --within N``.

Under ``fr-2026`` a consent to phone canvassing lasts at most
``phone_consent_max_age_days`` (365 by default) and is never renewed tacitly
(reported décret n° 2026-662): the owner asks again before it lapses, or the
contact stops being rentable on that channel (``consent_expired``). This lists,
in one set-based query on the registry (SQLite or PostgreSQL), each contact whose
consent to partners on such a channel still counts on ``as_of`` and stops counting
within ``within`` days: one row per contact and channel, with the last day it counts.

A contact's consent is the rules' own: the latest consent or opposition for partners
on the channel (an event naming the contact, or one of its coordinates; an
opposition wins over a consent of the same instant; an erasure is an opposition),
else the choice made at collection, dated when collected. A consent given to one
partner only (``partner:<id>``) is not listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, text

from listguard.config import RuleSettings
from listguard.db.schema import CHANNELS
from listguard.domain.coverage import resolved_events_sql
from listguard.errors import InputError
from listguard.rules.packs import Applied, applicable_packs
from listguard.timeutil import day_end, day_start, to_day, to_iso


@dataclass(frozen=True)
class Expiring:
    contact_id: str
    channel: str
    consent_at: str  # ISO 8601, Paris time
    valid_until: dt.date  # the last day the consent counts
    phone: str | None  # the contact's numbers (E.164), to ask again
    mobile: str | None
    email: str | None


def _events(channel: str) -> str:
    """The consents and oppositions for partners on ``channel``, resolved to the
    contacts they cover (as the rules resolve them)."""
    named = (
        "e.event IN ('consent', 'opposition', 'erasure') "
        f"AND e.channel IN ('{channel}', 'all') "
        "AND (e.scope IN ('partners', 'all') OR e.event = 'erasure') AND e.at <= :dend"
    )
    return resolved_events_sql("e.event, e.at", named)


def valid_until(applied: Applied, channel: str, given_at: int) -> dt.date | None:
    """The last day a consent on ``channel`` given at ``given_at`` (Unix seconds) counts
    under the packs ``applied``: its day plus the maximum age; None when the channel has
    no maximum age then. The rule of the proof, the access report and this list."""
    days = applied.consent_max_age_days(channel)
    return to_day(given_at) + dt.timedelta(days=days) if days else None


def expiring_sql(channel: str, some: bool = False) -> str:
    """SQL: per contact, the consent on ``channel`` that counts on ``:dend`` and was given
        in ``[:since, :before)``; parameters ``dend``, ``since``, ``before`` (and ``ids``, the
    contacts to read, with ``some``)."""
    if channel not in CHANNELS:
        raise ValueError(channel)
    return f"""
SELECT c.contact_id, '{channel}' AS channel, c.phone_e164, c.mobile_e164, c.email_norm,
  CASE WHEN l.event = 'consent' THEN l.at
       WHEN l.event IS NULL AND c.partners_{channel} = 'consent' THEN c.collected_at
  END AS consent_at
FROM contacts c LEFT JOIN (
  SELECT contact_id, event, at FROM (
    SELECT contact_id, event, at, ROW_NUMBER() OVER (
      PARTITION BY contact_id
      ORDER BY at DESC, CASE WHEN event = 'consent' THEN 1 ELSE 0 END) AS n
    FROM ({_events(channel)}) x
  ) y WHERE n = 1
) l ON l.contact_id = c.contact_id
WHERE c.collected_at <= :dend{" AND c.contact_id IN :ids" if some else ""}"""


def expiring_consents(
    engine: Engine,
    rules: RuleSettings,
    as_of: dt.date,
    within: int,
    *,
    contact_ids: Sequence[str] | None = None,
) -> list[Expiring]:
    """The consents to partners that count on ``as_of`` and stop counting within
    ``within`` days (their last day is ``as_of`` .. ``as_of + within - 1``), on every
    channel with a maximum consent age in the packs in force then; by last day, then
    contact. ``contact_ids``: those contacts only (one person's page reads their rows, not
    the whole base)."""
    if within < 1:
        raise InputError(f"--within must be a number of days, at least 1 (got {within})")
    last = as_of + dt.timedelta(days=within - 1)
    applied = applicable_packs(as_of, as_of, last, rules, "commercial")
    out: list[Expiring] = []
    with engine.connect() as conn:
        for channel in CHANNELS:
            days = applied.consent_max_age_days(channel)
            if days is None:
                continue
            # given on day G, a consent counts until G + days: it counts on as_of when
            # G >= as_of - days, and stops within the window when G + days <= last
            params: dict[str, object] = {
                "dend": day_end(as_of),
                "since": day_start(as_of - dt.timedelta(days=days)),
                "before": day_start(last - dt.timedelta(days=days) + dt.timedelta(days=1)),
            }
            statement = text(
                f"SELECT * FROM ({expiring_sql(channel, contact_ids is not None)}) s "
                "WHERE consent_at >= :since AND consent_at < :before"
            )
            if contact_ids is not None:
                if not contact_ids:
                    return []
                statement = statement.bindparams(bindparam("ids", expanding=True))
                params["ids"] = list(contact_ids)
            rows = conn.execute(statement, params)
            for r in rows:
                until = valid_until(applied, channel, int(r.consent_at))
                assert until is not None  # the channel has a maximum age
                out.append(
                    Expiring(
                        contact_id=str(r.contact_id),
                        channel=channel,
                        consent_at=to_iso(int(r.consent_at)),
                        valid_until=until,
                        phone=r.phone_e164,
                        mobile=r.mobile_e164,
                        email=r.email_norm,
                    )
                )
    out.sort(key=lambda e: (e.valid_until, e.contact_id, e.channel))
    return out


__all__ = ["Expiring", "expiring_consents", "expiring_sql", "valid_until"]
