"""The eligibility engine: ``shared/spec/rules.md`` as one set-based pipeline of SQL.

The pipeline runs inside the caller's transaction and leaves its result in the
temporary table ``lg_decision`` (one row per contact, channel and coordinate,
one 0/1 column per reason code). Each step is a ``(sql, params)`` pair built by
pure code and executed here, in the registry's own database (SQLite or
PostgreSQL): no contact is looked at in Python. The base is never written:
only temporary tables are.

Steps:
  lg_ev        events dated on or before D, resolved to contact ids (an event that
               names an email or phone covers every contact holding it)
  lg_person    per contact: last activity, when the partner list was last seen (L)
  lg_choice    per contact and channel: the latest consent/opposition for this partner
  lg_bloctel   per number: the latest screening result within the validity period
  lg_rows      per coordinate: every reason flag but ``duplicate`` and ``over_limit``
  lg_decision  ``duplicate`` and ``over_limit`` with the deterministic tie-breaks
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from listguard.config import RuleSettings
from listguard.errors import InputError
from listguard.renting.order import Order
from listguard.rules.packs import OPT_IN, PHONE_CHANNELS, Applied, applicable_packs
from listguard.rules.reasons import CODES
from listguard.timeutil import day_end, day_start, years_before

# numbers of the French national plan (metropolitan France and the overseas departments),
# the ones Bloctel screens
FRENCH_PREFIXES = ("+33", "+262", "+590", "+594", "+596")
FLAG = {code: f"f_{code}" for code in CODES}
_PERSON_FLAGS = CODES[3:10]  # retention_expired .. opposed


@dataclass(frozen=True)
class PartnerFacts:
    partner_id: str
    name: str
    category: str
    sector: str
    listed_from: int | None
    listed_until: int | None
    category_intervals: tuple[tuple[int, int | None], ...]  # merged listing periods of its category


@dataclass
class Plan:
    """Everything the SQL needs, computed once from the order and settings."""

    order: Order
    applied: Applied
    partner: PartnerFacts
    params: dict[str, Any] = field(default_factory=dict)
    contact_ids: tuple[str, ...] = ()  # restricts the base (``check``)


def partner_facts(conn: Connection, partner_id: str) -> PartnerFacts:
    row = conn.execute(
        text(
            "SELECT partner_id, name, category, sector, listed_from, listed_until "
            "FROM partners WHERE partner_id = :p"
        ),
        {"p": partner_id},
    ).first()
    if row is None:
        raise InputError(
            f"unknown partner {partner_id!r}: import it first with `listguard import partners`"
        )
    periods = conn.execute(
        text(
            "SELECT listed_from, listed_until FROM partners "
            "WHERE category = :c AND listed_from IS NOT NULL ORDER BY listed_from"
        ),
        {"c": row.category},
    ).all()
    merged: list[list[int | None]] = []
    for start, end in periods:
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):  # type: ignore[operator]
            last_end = merged[-1][1]
            merged[-1][1] = None if end is None or last_end is None else max(last_end, end)
        else:
            merged.append([start, end])
    return PartnerFacts(
        row.partner_id,
        row.name,
        row.category,
        row.sector,
        row.listed_from,
        row.listed_until,
        tuple((int(s), e) for s, e in merged if s is not None),
    )


def make_plan(
    conn: Connection, order: Order, settings: RuleSettings, contact_ids: tuple[str, ...] = ()
) -> Plan:
    applied = applicable_packs(
        order.as_of, order.campaign_start, order.campaign_end, settings, order.call_purpose
    )
    partner = partner_facts(conn, order.partner)
    d = order.as_of
    last_day = max(d, order.campaign_end)
    params: dict[str, Any] = {
        "dend": day_end(d),
        "partner": partner.partner_id,
        "retention_cutoff": day_start(years_before(d, settings.retention_years)),
        "bloctel_from": day_start(d - dt.timedelta(days=settings.bloctel_validity_days)),
        "limit": order.limit if order.limit is not None else 2**62,
        "listed_from": partner.listed_from if partner.listed_from is not None else 2**62,
        "listed_until": partner.listed_until if partner.listed_until is not None else 2**62,
    }
    for i, (start, end) in enumerate(partner.category_intervals):
        params[f"cat_from{i}"] = start
        if end is not None:
            params[f"cat_until{i}"] = end
    for ch in order.channels:
        days = applied.consent_max_age_days(ch)
        if days is not None:
            params[f"consent_cutoff_{ch}"] = day_start(last_day - dt.timedelta(days=days))
    return Plan(order, applied, partner, params, contact_ids)


def _collate(conn: Connection) -> str:
    return ' COLLATE "C"' if conn.dialect.name == "postgresql" else ""


def _base_where(plan: Plan, alias: str = "c") -> tuple[str, dict[str, Any]]:
    where = [f"{alias}.collected_at <= :dend"]
    params: dict[str, Any] = {}
    seg = plan.order.segment
    if seg.audience:
        where.append(f"{alias}.audience = :seg_audience")
        params["seg_audience"] = seg.audience
    if seg.postal_code_prefix:
        ors = []
        for i, prefix in enumerate(seg.postal_code_prefix):
            params[f"seg_pc{i}"] = prefix
            ors.append(f"substr({alias}.postal_code, 1, {len(prefix)}) = :seg_pc{i}")
        where.append("(" + " OR ".join(ors) + ")")
    if plan.contact_ids:
        names = []
        for i, cid in enumerate(plan.contact_ids):
            params[f"cid{i}"] = cid
            names.append(f":cid{i}")
        where.append(f"{alias}.contact_id IN ({', '.join(names)})")
    return " AND ".join(where), params


def _ev_sql(base: str) -> str:
    cols = "e.event, e.channel, e.scope, e.partner_id, e.at"
    return f"""
CREATE TEMP TABLE lg_ev AS
SELECT e.contact_id AS contact_id, {cols} FROM events e
 WHERE e.contact_id IS NOT NULL AND e.at <= :dend
UNION ALL
SELECT c.contact_id, {cols} FROM events e JOIN contacts c ON c.email_norm = e.email_norm
 WHERE e.contact_id IS NULL AND e.email_norm IS NOT NULL AND e.at <= :dend AND {base}
UNION ALL
SELECT c.contact_id, {cols} FROM events e JOIN contacts c ON c.phone_e164 = e.phone_e164
 WHERE e.contact_id IS NULL AND e.email_norm IS NULL AND e.at <= :dend AND {base}
UNION ALL
SELECT c.contact_id, {cols} FROM events e JOIN contacts c ON c.mobile_e164 = e.phone_e164
 WHERE e.contact_id IS NULL AND e.email_norm IS NULL AND e.at <= :dend AND {base}
   AND (c.phone_e164 IS NULL OR c.phone_e164 <> c.mobile_e164)
"""


def _person_sql(base: str) -> str:
    return f"""
CREATE TEMP TABLE lg_person AS
SELECT c.contact_id, c.collected_at, c.audience,
  CASE WHEN a.last_at > c.collected_at THEN a.last_at ELSE c.collected_at END AS last_activity,
  CASE WHEN a.seen_at > c.collected_at THEN a.seen_at ELSE c.collected_at END AS seen_at
FROM contacts c LEFT JOIN (
  SELECT contact_id,
    MAX(CASE WHEN event IN ('consent', 'interaction') THEN at END) AS last_at,
    MAX(CASE WHEN event = 'informed_partner_list'
              OR (event = 'consent' AND scope <> 'own') THEN at END) AS seen_at
  FROM lg_ev GROUP BY contact_id
) a ON a.contact_id = c.contact_id
WHERE {base}
"""


def _choice_sql(channel: str) -> str:
    return f"""
INSERT INTO lg_choice (contact_id, channel, event, at)
SELECT contact_id, '{channel}', event, at FROM (
  SELECT contact_id, event, at, ROW_NUMBER() OVER (
    PARTITION BY contact_id
    ORDER BY at DESC, CASE WHEN event = 'consent' THEN 1 ELSE 0 END) AS rn
  FROM lg_ev
  WHERE event IN ('consent', 'opposition', 'erasure')
    AND channel IN ('{channel}', 'all')
    AND (scope IN ('partners', 'all') OR partner_id = :partner OR event = 'erasure')
) x WHERE rn = 1
"""


_BLOCTEL_SQL = """
CREATE TEMP TABLE lg_bloctel AS
SELECT phone_e164, listed, screened_at FROM (
  SELECT r.phone_e164, r.listed, s.screened_at, ROW_NUMBER() OVER (
    PARTITION BY r.phone_e164 ORDER BY s.screened_at DESC, s.id DESC) AS rn
  FROM bloctel_results r JOIN bloctel_screenings s ON s.id = r.screening_id
  WHERE s.screened_at >= :bloctel_from AND s.screened_at <= :dend
) x WHERE rn = 1
"""


def _coordinates(channel: str, base: str) -> str:
    """(contact_id, coordinate, dkey, skind, skey, status, line_type, french) of a channel."""
    if channel == "postal":
        display = (
            "rtrim(coalesce(c.address_line2 || ', ', '') || coalesce(c.address_line3 || ', ', '')"
            " || coalesce(c.address_line4 || ', ', '') || coalesce(c.address_line5 || ', ', '')"
            " || coalesce(c.postal_code || ' ', '') || coalesce(c.city, ''), ', ')"
        )
        return (
            f"SELECT c.contact_id, {display} AS coordinate, c.recipient_key AS dkey, "
            "'address' AS skind, c.address_key AS skey, c.address_status AS status, "
            f"NULL AS line_type, 0 AS french FROM contacts c WHERE {base}"
        )
    if channel == "email":
        return (
            "SELECT c.contact_id, coalesce(c.email_norm, c.email, '') AS coordinate, "
            "c.email_norm AS dkey, 'email' AS skind, c.email_norm AS skey, "
            "CASE WHEN c.email IS NULL THEN 'missing' WHEN c.email_status = 'valid' "
            "THEN 'valid' ELSE 'invalid' END AS status, NULL AS line_type, 0 AS french "
            f"FROM contacts c WHERE {base}"
        )

    def number(col: str, extra: str) -> str:
        french = " OR ".join(f"c.{col}_e164 LIKE '{p}%'" for p in FRENCH_PREFIXES)
        return (
            f"SELECT c.contact_id, coalesce(c.{col}_e164, c.{col}) AS coordinate, "
            f"c.{col}_e164 AS dkey, 'phone' AS skind, c.{col}_e164 AS skey, "
            f"CASE WHEN c.{col}_e164 IS NULL THEN 'invalid' ELSE 'valid' END AS status, "
            f"c.{col}_type AS line_type, CASE WHEN {french} THEN 1 ELSE 0 END AS french "
            f"FROM contacts c WHERE {base} AND c.{col} IS NOT NULL{extra}"
        )

    return "\nUNION ALL\n".join(
        [
            number("phone", ""),
            number(
                "mobile",
                " AND NOT (c.phone IS NOT NULL AND (c.mobile_e164 = c.phone_e164 "
                "OR (c.mobile_e164 IS NULL AND c.phone_e164 IS NULL AND c.mobile = c.phone)))",
            ),
            "SELECT c.contact_id, '' AS coordinate, NULL AS dkey, 'phone' AS skind, "
            "NULL AS skey, 'missing' AS status, NULL AS line_type, 0 AS french "
            f"FROM contacts c WHERE {base} AND c.phone IS NULL AND c.mobile IS NULL",
        ]
    )


def _b(cond: bool) -> str:
    return "1 = 1" if cond else "1 = 0"


def _disclosure(plan: Plan) -> tuple[str, str]:
    """(listed at L and not removed before D, category disclosed at L) as SQL on p.seen_at."""
    listed = "(:listed_from <= p.seen_at AND :listed_until > :dend)"
    parts = []
    for i, (_start, end) in enumerate(plan.partner.category_intervals):
        cond = f"p.seen_at >= :cat_from{i}"
        if end is not None:
            cond += f" AND p.seen_at < :cat_until{i}"
        parts.append(f"({cond})")
    category = "(" + " OR ".join(parts) + ")" if parts else "1 = 0"
    return listed, category


def _rows_sql(plan: Plan, channel: str, base: str) -> str:
    applied = plan.applied
    b2c_in = applied.regime(channel, "b2c") == OPT_IN
    b2b_in = applied.regime(channel, "b2b") == OPT_IN
    optin = f"((p.audience = 'b2b' AND {_b(b2b_in)}) OR (p.audience <> 'b2b' AND {_b(b2c_in)}))"
    listed, category = _disclosure(plan)
    has_max_age = f"consent_cutoff_{channel}" in plan.params
    phone_channel = channel in PHONE_CHANNELS
    exempt = f"({_b(applied.bloctel_exempt_purpose)} OR p.audience = 'b2b')"
    required = _b(applied.bloctel_required)
    bloctel_join = (
        "LEFT JOIN lg_bloctel b ON b.phone_e164 = k.skey"
        if phone_channel
        else "LEFT JOIN (SELECT NULL AS phone_e164, NULL AS listed) b ON 1 = 0"
    )
    inner = f"""
SELECT k.contact_id, k.coordinate, k.dkey, k.status, k.line_type, k.french,
  p.collected_at, p.last_activity, p.seen_at, p.audience,
  CASE WHEN h.event = 'consent' THEN 'consent' WHEN h.event IS NOT NULL THEN 'opposed'
       ELSE c.partners_{channel} END AS state,
  CASE WHEN h.event = 'consent' THEN h.at ELSE c.collected_at END AS consent_at,
  CASE WHEN {optin} THEN 1 ELSE 0 END AS optin,
  CASE WHEN {listed} THEN 1 ELSE 0 END AS d_listed,
  CASE WHEN {category} THEN 1 ELSE 0 END AS d_category,
  CASE WHEN k.status = 'valid' AND EXISTS (
    SELECT 1 FROM suppressions s WHERE s.kind = k.skind AND s.value = k.skey
      AND s.added_at <= :dend AND (s.partner_id IS NULL OR s.partner_id = :partner)
  ) THEN 1 ELSE 0 END AS supp,
  b.listed AS bloctel
FROM ({_coordinates(channel, base)}) k
JOIN lg_person p ON p.contact_id = k.contact_id
JOIN contacts c ON c.contact_id = k.contact_id
LEFT JOIN lg_choice h ON h.contact_id = k.contact_id AND h.channel = '{channel}'
{bloctel_join}
"""
    present = "x.status <> 'missing'"
    valid = "x.status = 'valid'"
    screened_phone = (
        f"{valid} AND {_b(phone_channel)} AND x.french = 1 AND NOT {exempt.replace('p.', 'x.')}"
    )
    cutoff = f":consent_cutoff_{channel}" if has_max_age else "NULL"
    flags = {
        "missing_coordinate": "x.status = 'missing'",
        "invalid_coordinate": "x.status = 'invalid'",
        "wrong_line_type": f"{valid} AND {_b(channel == 'sms')} AND "
        "coalesce(x.line_type, '') <> 'mobile'",
        "retention_expired": f"{present} AND x.last_activity < :retention_cutoff",
        "no_information_proof": f"{present} AND x.optin = 0 AND x.state IS NULL",
        "objected_at_collection": f"{present} AND x.optin = 0 AND x.state = 'objection'",
        "no_consent": f"{present} AND x.optin = 1 AND coalesce(x.state, '') "
        "NOT IN ('consent', 'opposed')",
        "consent_expired": f"{present} AND x.optin = 1 AND x.state = 'consent' AND "
        f"{_b(has_max_age)} AND x.consent_at < {cutoff}",
        "partner_not_disclosed": f"{present} AND ((x.optin = 1 AND x.d_listed = 0) OR "
        "(x.optin = 0 AND x.d_category = 0))",
        "opposed": f"{present} AND x.state = 'opposed'",
        "suppressed": "x.supp = 1",
        "bloctel_unscreened": f"{screened_phone} AND {required} AND x.bloctel IS NULL",
        "bloctel_listed": f"{screened_phone} AND x.bloctel = 1",
    }
    flag_sql = ",\n  ".join(
        f"CASE WHEN {cond} THEN 1 ELSE 0 END AS {FLAG[code]}" for code, cond in flags.items()
    )
    n_other = " + ".join(f"CASE WHEN {cond} THEN 1 ELSE 0 END" for cond in flags.values())
    return f"""
INSERT INTO lg_rows
SELECT x.contact_id, '{channel}' AS channel, x.coordinate, x.dkey, x.collected_at,
  {flag_sql},
  {n_other} AS n_other
FROM ({inner}) x
"""


def _decision_sql(collate: str) -> str:
    flags = ", ".join(f"d.{FLAG[c]}" for c in CODES[:-2])
    return f"""
CREATE TEMP TABLE lg_decision AS
WITH d AS (
  SELECT r.*, ROW_NUMBER() OVER (
    PARTITION BY r.channel, r.n_other, r.dkey
    ORDER BY r.collected_at DESC, r.contact_id{collate}) AS dup_rn
  FROM lg_rows r
), ok AS (
  SELECT contact_id, MAX(collected_at) AS collected_at FROM d
  WHERE n_other = 0 AND dup_rn = 1 GROUP BY contact_id
), ranked AS (
  SELECT contact_id, ROW_NUMBER() OVER (
    ORDER BY collected_at DESC, contact_id{collate}) AS crank
  FROM ok
)
SELECT d.contact_id, d.channel, d.coordinate, {flags},
  CASE WHEN d.n_other = 0 AND d.dup_rn > 1 THEN 1 ELSE 0 END AS {FLAG["duplicate"]},
  CASE WHEN d.n_other = 0 AND d.dup_rn = 1 AND rk.crank > :limit THEN 1 ELSE 0 END
    AS {FLAG["over_limit"]},
  CASE WHEN d.n_other = 0 AND d.dup_rn = 1 AND rk.crank <= :limit THEN 1 ELSE 0 END
    AS eligible,
  d.collected_at
FROM d LEFT JOIN ranked rk ON rk.contact_id = d.contact_id
"""


def reasons_sql(alias: str = "") -> str:
    """SQL text of the ``|``-separated reason codes of a ``lg_decision`` row."""
    a = f"{alias}." if alias else ""
    parts = " || ".join(
        f"CASE WHEN {a}{FLAG[c]} = 1 THEN '{c}|' ELSE '' END" for c in CODES
    )
    return f"nullif(rtrim({parts}, '|'), '')"


_TEMP = ("lg_decision", "lg_rows", "lg_bloctel", "lg_choice", "lg_person", "lg_ev")


def run_pipeline(conn: Connection, plan: Plan) -> None:
    """Decide every coordinate of the order; the result is in ``lg_decision``."""
    base, seg_params = _base_where(plan)
    params = {**plan.params, **seg_params}
    for t in _TEMP:
        conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
    steps: list[str] = [
        _ev_sql(base),
        "CREATE INDEX lg_ev_contact ON lg_ev (contact_id)",
        _person_sql(base),
        "CREATE UNIQUE INDEX lg_person_contact ON lg_person (contact_id)",
        "CREATE TEMP TABLE lg_choice (contact_id TEXT, channel TEXT, event TEXT, at BIGINT)",
    ]
    steps += [_choice_sql(ch) for ch in plan.order.channels]
    steps += [
        "CREATE INDEX lg_choice_contact ON lg_choice (contact_id, channel)",
        _BLOCTEL_SQL,
        "CREATE INDEX lg_bloctel_phone ON lg_bloctel (phone_e164)",
        "CREATE TEMP TABLE lg_rows (contact_id TEXT, channel TEXT, coordinate TEXT, "
        "dkey TEXT, collected_at BIGINT, "
        + ", ".join(f"{FLAG[c]} INTEGER" for c in CODES[:-2])
        + ", n_other INTEGER)",
    ]
    steps += [_rows_sql(plan, ch, base) for ch in plan.order.channels]
    steps.append(_decision_sql(_collate(conn)))
    for sql in steps:
        used = {k: v for k, v in params.items() if f":{k}" in sql}
        conn.execute(text(sql), used)
