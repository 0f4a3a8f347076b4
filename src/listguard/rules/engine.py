"""The eligibility engine: ``shared/spec/rules.md`` as one set-based pipeline of SQL.

The pipeline runs inside the caller's transaction and leaves its result in the
temporary table ``lg_decision`` (one row per contact, channel and coordinate,
one 0/1 column per reason code; a row is eligible when it has none:
``ELIGIBLE``). Each step is SQL built by pure code and executed here, in the
registry's own database (SQLite or PostgreSQL): no contact is looked at in
Python. The base is never written: only temporary tables are.

Steps (``cid`` is the contact's internal integer key):
  lg_ev        events dated on or before D, resolved to contacts (an event that
               names an email or phone covers every contact holding it)
  lg_person    per contact of the base: last activity, when the partner list was
               last seen (L), and the person-level facts decided once
  lg_choice    per contact and channel: the latest consent/opposition for this partner
  lg_bloctel   per number: the latest screening result within the validity period
  lg_numbers   every number of every contact, with its status, suppression and
               Bloctel result, once for the phone, automated_call and sms channels
  lg_decision  per coordinate: every reason flag but ``duplicate`` and ``over_limit``
  lg_dupkey    the coordinates held by several otherwise eligible rows; those rows
               are ranked and all but the first get ``duplicate``
  lg_ranked    with a limit: the contacts with a deliverable coordinate, ranked, and
               the rows of those past the limit get ``over_limit``
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
NUMBER_CHANNELS = ("phone", "automated_call", "sms")
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
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
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


def _b(cond: bool) -> str:
    return "1 = 1" if cond else "1 = 0"


def _disclosure(plan: Plan) -> tuple[str, str]:
    """(listed at L and not removed before D, category disclosed at L) as SQL on y.seen_at."""
    listed = "(:listed_from <= y.seen_at AND :listed_until > :dend)"
    parts = []
    for i, (_start, end) in enumerate(plan.partner.category_intervals):
        cond = f"y.seen_at >= :cat_from{i}"
        if end is not None:
            cond += f" AND y.seen_at < :cat_until{i}"
        parts.append(f"({cond})")
    category = "(" + " OR ".join(parts) + ")" if parts else "1 = 0"
    return listed, category


def _person_sql(plan: Plan, base: str) -> str:
    """Per contact of the base: the facts every channel shares, decided once."""
    listed, category = _disclosure(plan)
    choices = ", ".join(f"c.partners_{ch}" for ch in plan.order.channels)
    return f"""
INSERT INTO lg_person
SELECT y.*,
  CASE WHEN y.last_activity < :retention_cutoff THEN 1 ELSE 0 END,
  CASE WHEN {listed} THEN 1 ELSE 0 END,
  CASE WHEN {category} THEN 1 ELSE 0 END
FROM (
  SELECT c.id, c.contact_id, c.collected_at, c.audience, {choices},
    CASE WHEN a.last_at > c.collected_at THEN a.last_at ELSE c.collected_at END AS last_activity,
    CASE WHEN a.seen_at > c.collected_at THEN a.seen_at ELSE c.collected_at END AS seen_at
  FROM contacts c LEFT JOIN (
    SELECT cid,
      MAX(CASE WHEN event IN ('consent', 'interaction') THEN at END) AS last_at,
      MAX(CASE WHEN event = 'informed_partner_list'
                OR (event = 'consent' AND scope <> 'own') THEN at END) AS seen_at
    FROM lg_ev GROUP BY cid
  ) a ON a.cid = c.id
  WHERE {base}
) y
"""


def _ev_sql() -> str:
    """Events dated on or before D, each resolved to the contacts it covers."""
    cols = "e.event, e.channel, e.scope, e.partner_id, e.at"
    named = "e.contact_id IS NULL AND e.at <= :dend"
    return f"""
INSERT INTO lg_ev (cid, event, channel, scope, partner_id, at)
SELECT c.id, {cols} FROM events e JOIN contacts c ON c.contact_id = e.contact_id
 WHERE e.at <= :dend
UNION ALL
SELECT c.id, {cols} FROM events e JOIN contacts c ON c.email_norm = e.email_norm
 WHERE {named} AND e.email_norm IS NOT NULL
UNION ALL
SELECT c.id, {cols} FROM events e JOIN contacts c ON c.phone_e164 = e.phone_e164
 WHERE {named} AND e.email_norm IS NULL
UNION ALL
SELECT c.id, {cols} FROM events e JOIN contacts c ON c.mobile_e164 = e.phone_e164
 WHERE {named} AND e.email_norm IS NULL
   AND (c.phone_e164 IS NULL OR c.phone_e164 <> c.mobile_e164)
"""


def _choice_sql(channel: str) -> str:
    """The latest consent or opposition of each person for this channel and partner."""
    return f"""
INSERT INTO lg_choice (cid, channel, event, at)
SELECT cid, '{channel}', event, at FROM (
  SELECT cid, event, at, ROW_NUMBER() OVER (
    PARTITION BY cid
    ORDER BY at DESC, CASE WHEN event = 'consent' THEN 1 ELSE 0 END) AS rn
  FROM lg_ev
  WHERE event IN ('consent', 'opposition', 'erasure')
    AND channel IN ('{channel}', 'all')
    AND (scope IN ('partners', 'all') OR partner_id = :partner OR event = 'erasure')
) x WHERE rn = 1
"""


def _bloctel_steps(conn: Connection, params: dict[str, Any]) -> list[str]:
    """The latest valid result of each number: the screenings of the validity window are
    read from the newest, and a number keeps the first result it gets."""
    ids = conn.execute(
        text(
            "SELECT id FROM bloctel_screenings WHERE screened_at >= :bloctel_from "
            "AND screened_at <= :dend ORDER BY screened_at DESC, id DESC"
        ),
        {"bloctel_from": params["bloctel_from"], "dend": params["dend"]},
    ).scalars()
    return [
        "INSERT INTO lg_bloctel (phone_e164, listed) SELECT phone_e164, listed "
        f"FROM bloctel_results WHERE screening_id = {int(sid)} "
        "ON CONFLICT (phone_e164) DO NOTHING"
        for sid in ids
    ]


_SUPPRESSED = """CASE WHEN {status} = 'valid' AND EXISTS (
    SELECT 1 FROM suppressions s WHERE s.kind = '{kind}' AND s.value = {key}
      AND s.added_at <= :dend AND (s.partner_id IS NULL OR s.partner_id = :partner)
  ) THEN 1 ELSE 0 END"""
_PERSON = "p.cid, p.contact_id, p.collected_at, p.audience, p.p_retention, p.d_listed, p.d_category"


def _numbers_sql() -> str:
    """Every number of the persons of ``lg_person``, once for all phone channels.

    A row per distinct number of a contact (``phone`` and ``mobile``), and a
    ``missing`` row for a contact without any; each with its status, line type,
    whether Bloctel screens it, suppression and latest valid Bloctel result.
    """
    source = "FROM lg_person p JOIN contacts c ON c.id = p.cid"

    def number(col: str, extra: str) -> str:
        french = " OR ".join(f"c.{col}_e164 LIKE '{p}%'" for p in FRENCH_PREFIXES)
        return (
            f"SELECT p.cid, coalesce(c.{col}_e164, c.{col}) AS coordinate, c.{col}_e164 AS dkey, "
            f"CASE WHEN c.{col}_e164 IS NULL THEN 'invalid' ELSE 'valid' END AS status, "
            f"c.{col}_type AS line_type, CASE WHEN {french} THEN 1 ELSE 0 END AS french "
            f"{source} WHERE c.{col} IS NOT NULL{extra}"
        )

    union = "\nUNION ALL\n".join(
        [
            number("phone", ""),
            number(
                "mobile",
                " AND NOT (c.phone IS NOT NULL AND (c.mobile_e164 = c.phone_e164 "
                "OR (c.mobile_e164 IS NULL AND c.phone_e164 IS NULL AND c.mobile = c.phone)))",
            ),
            "SELECT p.cid, '' AS coordinate, NULL AS dkey, 'missing' AS status, "
            f"NULL AS line_type, 0 AS french {source} WHERE c.phone IS NULL AND c.mobile IS NULL",
        ]
    )
    supp = _SUPPRESSED.format(status="k.status", kind="phone", key="k.dkey")
    return f"""
INSERT INTO lg_numbers (cid, coordinate, dkey, status, line_type, french, supp, bloctel)
SELECT k.cid, k.coordinate, k.dkey, k.status, k.line_type, k.french, {supp}, b.listed
FROM ({union}) k
LEFT JOIN lg_bloctel b ON b.phone_e164 = k.dkey
"""


def _coordinates(channel: str) -> str:
    """Every coordinate of ``channel`` for the persons of ``lg_person``, with their facts.

    Columns: the person's facts, choice, coordinate, dkey (compared for
    ``duplicate``), status (valid, invalid, missing), line_type, french (a number
    Bloctel screens), supp (on an active suppression list), bloctel (latest result).
    """
    person = f"{_PERSON}, p.partners_{channel} AS choice"
    if channel in ("phone", "automated_call", "sms"):
        return (
            f"SELECT {person}, n.coordinate, n.dkey, n.status, n.line_type, n.french, n.supp, "
            "n.bloctel FROM lg_numbers n JOIN lg_person p ON p.cid = n.cid"
        )
    source = "FROM lg_person p JOIN contacts c ON c.id = p.cid"
    if channel == "postal":
        display = (
            "rtrim(coalesce(c.address_line2 || ', ', '') || coalesce(c.address_line3 || ', ', '')"
            " || coalesce(c.address_line4 || ', ', '') || coalesce(c.address_line5 || ', ', '')"
            " || coalesce(c.postal_code || ' ', '') || coalesce(c.city, ''), ', ')"
        )
        supp = _SUPPRESSED.format(status="c.address_status", kind="address", key="c.address_key")
        return (
            f"SELECT {person}, {display} AS coordinate, c.recipient_key AS dkey, "
            f"c.address_status AS status, CAST(NULL AS TEXT) AS line_type, 0 AS french, "
            f"{supp} AS supp, CAST(NULL AS INTEGER) AS bloctel {source}"
        )
    status = (
        "CASE WHEN c.email IS NULL THEN 'missing' WHEN c.email_status = 'valid' "
        "THEN 'valid' ELSE 'invalid' END"
    )
    supp = _SUPPRESSED.format(status=status, kind="email", key="c.email_norm")
    return (
        f"SELECT {person}, coalesce(c.email_norm, c.email, '') AS coordinate, "
        f"c.email_norm AS dkey, {status} AS status, CAST(NULL AS TEXT) AS line_type, "
        f"0 AS french, {supp} AS supp, CAST(NULL AS INTEGER) AS bloctel {source}"
    )


def _flags(plan: Plan, channel: str) -> dict[str, str]:
    """The condition of each reason (but ``duplicate`` and ``over_limit``) on a row ``x``."""
    applied = plan.applied
    phone_channel = channel in PHONE_CHANNELS
    has_max_age = f"consent_cutoff_{channel}" in plan.params
    present = "x.status <> 'missing'"
    valid = "x.status = 'valid'"
    exempt = f"({_b(applied.bloctel_exempt_purpose)} OR x.audience = 'b2b')"
    screened = f"{valid} AND {_b(phone_channel)} AND x.french = 1 AND NOT {exempt}"
    cutoff = f":consent_cutoff_{channel}" if has_max_age else "NULL"
    return {
        "missing_coordinate": "x.status = 'missing'",
        "invalid_coordinate": "x.status = 'invalid'",
        "wrong_line_type": f"{valid} AND {_b(channel == 'sms')} AND "
        "coalesce(x.line_type, '') <> 'mobile'",
        "retention_expired": f"{present} AND x.p_retention = 1",
        "no_information_proof": f"{present} AND x.optin = 0 AND x.state IS NULL",
        "objected_at_collection": f"{present} AND x.optin = 0 AND x.state = 'objection'",
        "no_consent": f"{present} AND x.optin = 1 AND coalesce(x.state, '') "
        "NOT IN ('consent', 'opposed')",
        "consent_expired": f"{present} AND x.optin = 1 AND x.state = 'consent' AND "
        f"{_b(has_max_age)} AND x.consent_at < {cutoff}",
        "partner_not_disclosed": f"{present} AND ((x.optin = 1 AND x.d_listed = 0) OR "
        "(x.optin = 0 AND x.d_category = 0))",
        "opposed": f"{present} AND x.state = 'opposed'",
        "suppressed": f"{valid} AND x.supp = 1",
        "bloctel_unscreened": f"{screened} AND {_b(applied.bloctel_required)} "
        "AND x.bloctel IS NULL",
        "bloctel_listed": f"{screened} AND x.bloctel = 1",
    }


def _rows_sql(plan: Plan, channel: str) -> str:
    """One decision row per coordinate of ``channel``, with every reason flag it can have
    before ``duplicate`` and ``over_limit``."""
    b2c_in = plan.applied.regime(channel, "b2c") == OPT_IN
    b2b_in = plan.applied.regime(channel, "b2b") == OPT_IN
    flags = _flags(plan, channel)
    flag_sql = ",\n  ".join(f"CASE WHEN {cond} THEN 1 ELSE 0 END" for cond in flags.values())
    columns = ", ".join(FLAG[code] for code in flags)
    return f"""
INSERT INTO lg_decision (cid, contact_id, channel, coordinate, dkey, collected_at, {columns})
SELECT x.cid, x.contact_id, '{channel}', x.coordinate, x.dkey, x.collected_at,
  {flag_sql}
FROM (
  SELECT k.*,
    CASE WHEN h.event = 'consent' THEN 'consent' WHEN h.event IS NOT NULL THEN 'opposed'
         ELSE k.choice END AS state,
    CASE WHEN h.event = 'consent' THEN h.at ELSE k.collected_at END AS consent_at,
    CASE WHEN (k.audience = 'b2b' AND {_b(b2b_in)}) OR (k.audience <> 'b2b' AND {_b(b2c_in)})
         THEN 1 ELSE 0 END AS optin
  FROM ({_coordinates(channel)}) k
  LEFT JOIN lg_choice h ON h.cid = k.cid AND h.channel = '{channel}'
) x
"""


def _clean(codes: tuple[str, ...], alias: str = "") -> str:
    """SQL: the row has none of ``codes``."""
    a = f"{alias}." if alias else ""
    return "(" + " + ".join(f"{a}{FLAG[c]}" for c in codes) + ") = 0"


# a row is eligible when it has no reason at all
ELIGIBLE = _clean(CODES)


def _final_steps(collate: str, limited: bool) -> list[str]:
    """``duplicate``, then ``over_limit``, among the rows that have no other reason.

    Only the coordinates that occur more than once are ranked, and contacts are
    ranked only when the order has a limit, so the common case sorts little.
    """
    before_dup = CODES[:-2]
    steps = [
        f"""
INSERT INTO lg_dupkey (channel, dkey)
SELECT channel, dkey FROM lg_decision WHERE {_clean(before_dup)} AND dkey IS NOT NULL
GROUP BY channel, dkey HAVING COUNT(*) > 1
""",
        f"""
UPDATE lg_decision SET {FLAG["duplicate"]} = 1 WHERE rid IN (
  SELECT rid FROM (
    SELECT d.rid, ROW_NUMBER() OVER (
      PARTITION BY d.channel, d.dkey ORDER BY d.collected_at DESC, d.contact_id{collate}) AS rn
    FROM lg_decision d JOIN lg_dupkey k ON k.channel = d.channel AND k.dkey = d.dkey
    WHERE {_clean(before_dup, "d")}
  ) x WHERE rn > 1
)
""",
    ]
    if limited:
        before_limit = CODES[:-1]
        steps += [
            f"""
INSERT INTO lg_ranked (cid, crank)
SELECT cid, ROW_NUMBER() OVER (ORDER BY collected_at DESC, contact_id{collate})
FROM (SELECT cid, contact_id, collected_at FROM lg_decision WHERE {_clean(before_limit)}
      GROUP BY cid, contact_id, collected_at) ok
""",
            f"""
UPDATE lg_decision SET {FLAG["over_limit"]} = 1
WHERE {_clean(before_limit)} AND cid IN (SELECT cid FROM lg_ranked WHERE crank > :limit)
""",
        ]
    return steps


def reasons_sql(alias: str = "") -> str:
    """SQL text of the ``|``-separated reason codes of a ``lg_decision`` row (null if none)."""
    a = f"{alias}." if alias else ""
    parts = " || ".join(f"CASE WHEN {a}{FLAG[c]} = 1 THEN '{c}|' ELSE '' END" for c in CODES)
    return f"nullif(rtrim({parts}, '|'), '')"


def _tables(conn: Connection, plan: Plan) -> list[str]:
    """The temporary tables of the pipeline, created empty with their keys.

    ``INTEGER PRIMARY KEY`` is SQLite's rowid itself (one B-tree search per join);
    ``WITHOUT ROWID`` keeps a text key in the table's own B-tree.
    """
    sqlite = conn.dialect.name == "sqlite"
    rid = (
        "rid INTEGER PRIMARY KEY"
        if sqlite
        else "rid INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    )
    no_rowid = " WITHOUT ROWID" if sqlite else ""
    choices = ", ".join(f"partners_{ch} TEXT" for ch in plan.order.channels)
    flags = ", ".join(f"{FLAG[c]} INTEGER NOT NULL DEFAULT 0" for c in CODES)
    return [
        "CREATE TEMP TABLE lg_ev (cid INTEGER, event TEXT, channel TEXT, scope TEXT, "
        "partner_id TEXT, at BIGINT)",
        "CREATE TEMP TABLE lg_person (cid INTEGER PRIMARY KEY, contact_id TEXT, "
        f"collected_at BIGINT, audience TEXT, {choices}, last_activity BIGINT, seen_at BIGINT, "
        "p_retention INTEGER, d_listed INTEGER, d_category INTEGER)",
        "CREATE TEMP TABLE lg_choice (cid INTEGER, channel TEXT, event TEXT, at BIGINT, "
        f"PRIMARY KEY (cid, channel)){no_rowid}",
        f"CREATE TEMP TABLE lg_bloctel (phone_e164 TEXT PRIMARY KEY, listed INTEGER){no_rowid}",
        f"CREATE TEMP TABLE lg_decision ({rid}, cid INTEGER, contact_id TEXT, channel TEXT, "
        f"coordinate TEXT, dkey TEXT, collected_at BIGINT, {flags})",
        "CREATE TEMP TABLE lg_numbers (cid INTEGER, coordinate TEXT, dkey TEXT, status TEXT, "
        "line_type TEXT, french INTEGER, supp INTEGER, bloctel INTEGER)",
        "CREATE TEMP TABLE lg_dupkey (channel TEXT, dkey TEXT, "
        f"PRIMARY KEY (channel, dkey)){no_rowid}",
        "CREATE TEMP TABLE lg_ranked (cid INTEGER PRIMARY KEY, crank BIGINT)",
    ]


_TEMP = (
    "lg_ranked",
    "lg_dupkey",
    "lg_decision",
    "lg_numbers",
    "lg_bloctel",
    "lg_choice",
    "lg_person",
    "lg_ev",
)


def run_pipeline(conn: Connection, plan: Plan) -> None:
    """Decide every coordinate of the order; the result is in ``lg_decision``."""
    base, seg_params = _base_where(plan)
    params = {**plan.params, **seg_params}
    for t in _TEMP:
        conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
    steps = _tables(conn, plan)
    steps += [
        _ev_sql(),
        "CREATE INDEX lg_ev_cid ON lg_ev (cid)",
        _person_sql(plan, base),
        *[_choice_sql(ch) for ch in plan.order.channels],
    ]
    if any(ch in NUMBER_CHANNELS for ch in plan.order.channels):
        steps += [*_bloctel_steps(conn, params), _numbers_sql()]
    steps += [_rows_sql(plan, ch) for ch in plan.order.channels]
    steps += _final_steps(_collate(conn), plan.order.limit is not None)
    for sql in steps:
        used = {k: v for k, v in params.items() if f":{k}" in sql}
        conn.execute(text(sql), used)
