"""The decision's pipeline: ``shared/spec/rules.md`` as SQL steps run by DuckDB over the
extracts (``rules/extracts.py``), each a named ``(name, sql)`` pair built by pure code
from the plan; no contact is looked at in Python.

Steps (``cid`` is the contact's internal integer key), each creating a table:
  lg_ev        events resolved to contacts (an event that names an email or phone
               covers every contact holding it)
  lg_person    per contact of the base: last activity, when the partner list was
               last seen (L), and the person-level facts decided once
  lg_choice    per contact and channel: the latest consent/opposition for this partner
  lg_state     (when some contacts are the same person) per contact and channel: the
               strictest choice of the person's contacts
  lg_bloctel   per number: the latest screening result within the validity period
  lg_numbers   every number of every contact, with its status, suppression and
               Bloctel result, once for the phone, automated_call and sms channels
  lg_decision  per coordinate: every reason flag, then ``duplicate`` (all but the
               first of the otherwise eligible rows sharing a coordinate) and
               ``over_limit``
"""

from __future__ import annotations

from listguard.domain.coverage import resolved_events_sql
from listguard.domain.vocabulary import NUMBER_CHANNELS, VOICE_CHANNELS
from listguard.rules.offers import ban
from listguard.rules.packs import OPT_IN
from listguard.rules.plan import Plan
from listguard.rules.reasons import CODES

# one step of the pipeline: its name (what ``--verbose`` shows) and its SQL
Step = tuple[str, str]

# numbers of the French numbering plan, the ones Bloctel screens (rules.md, "Settled
# points"): metropolitan France and the overseas codes
FRENCH_PREFIXES = ("+33", "+262", "+269", "+508", "+590", "+594", "+596", "+687", "+689")
BIT = {code: 1 << i for i, code in enumerate(CODES)}  # a row's reasons: one bit each


def _b(cond: bool) -> str:
    return "TRUE" if cond else "FALSE"


def _disclosure(plan: Plan) -> tuple[str, str]:
    """(listed at L and not removed before D, category disclosed at L) as SQL on y.seen_at."""
    listed = "($listed_from <= y.seen_at AND $listed_until > $dend)"
    parts = []
    for i, (_start, end) in enumerate(plan.partner.category_intervals):
        cond = f"y.seen_at >= $cat_from{i}"
        if end is not None:
            cond += f" AND y.seen_at < $cat_until{i}"
        parts.append(f"({cond})")
    category = "(" + " OR ".join(parts) + ")" if parts else "FALSE"
    return listed, category


def _ev_sql() -> str:
    """Events resolved to the contacts of the base they cover."""
    columns = "e.event, e.channel, e.scope, e.partner_id, e.ts"
    return f"CREATE TABLE lg_ev AS\n{resolved_events_sql(columns, contact='c.cid')}\n"


def _person_sql(plan: Plan) -> str:
    """Per contact of the base: the facts every channel shares, decided once."""
    listed, category = _disclosure(plan)
    choices = ", ".join(f"c.partners_{ch}" for ch in plan.order.channels)
    return f"""
CREATE TABLE lg_person AS
SELECT y.*,
  y.last_activity < $retention_cutoff AS p_retention,
  coalesce({listed}, FALSE) AS d_listed,
  coalesce({category}, FALSE) AS d_category
FROM (
  SELECT c.cid, c.contact_id, c.collected_at, c.audience, c.cluster_id, {choices},
    greatest(c.collected_at, coalesce(a.last_at, c.collected_at)) AS last_activity,
    greatest(c.collected_at, coalesce(a.seen_at, c.collected_at)) AS seen_at
  FROM contacts c LEFT JOIN (
    SELECT cid,
      max(CASE WHEN event IN ('consent', 'interaction') THEN ts END) AS last_at,
      max(CASE WHEN event = 'informed_partner_list'
                OR (event = 'consent' AND scope <> 'own') THEN ts END) AS seen_at
    FROM lg_ev GROUP BY cid
  ) a ON a.cid = c.cid
) y
"""


def _choice_sql(channels: tuple[str, ...]) -> str:
    """The latest consent or opposition of each person, per channel, for this partner
    (an opposition wins over a consent of the same instant)."""
    arms = "\nUNION ALL\n".join(
        f"""SELECT cid, '{ch}' AS channel, event, ts FROM lg_ev
  WHERE event IN ('consent', 'opposition', 'erasure') AND channel IN ('{ch}', 'all')
    AND (scope IN ('partners', 'all') OR partner_id = $partner OR event = 'erasure')"""
        for ch in channels
    )
    return f"""
CREATE TABLE lg_choice AS
SELECT cid, channel, event, ts FROM ({arms}) x
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY cid, channel ORDER BY ts DESC, CASE WHEN event = 'consent' THEN 1 ELSE 0 END) = 1
"""


# the strictest choice first: an opposition, an objection at collection, no information,
# informed, consent
_STRICTNESS = (
    "CASE state WHEN 'opposed' THEN 0 WHEN 'objection' THEN 1 WHEN 'informed' THEN 3 "
    "WHEN 'consent' THEN 4 ELSE 2 END"
)


def _state_columns(choice: str, collected_at: str) -> str:
    """SQL: ``state`` (a later consent or opposition of ``lg_choice h`` over the choice
    made at collection) and ``consent_at``."""
    return (
        "CASE WHEN h.event = 'consent' THEN 'consent' WHEN h.event IS NOT NULL THEN 'opposed' "
        f"ELSE {choice} END AS state, "
        f"CASE WHEN h.event = 'consent' THEN h.ts ELSE {collected_at} END AS consent_at"
    )


def _state_sql(channels: tuple[str, ...]) -> str:
    """Per contact and channel, the choice that applies (a later consent or opposition
    over the one made at collection), and when consent was given. A person the
    registry holds as several contacts (a cluster) is one person: each of its contacts
    takes the strictest choice of them all (an objection or opposition on any record
    applies to every record; consent holds only where every record gives it) and the
    oldest consent (for its maximum age)."""
    arms = "\nUNION ALL\n".join(
        f"""SELECT p.cid, p.cluster_id, '{ch}' AS channel,
  {_state_columns(f"p.partners_{ch}", "p.collected_at")}
FROM lg_person p LEFT JOIN lg_choice h ON h.cid = p.cid AND h.channel = '{ch}'"""
        for ch in channels
    )
    return f"""
CREATE TABLE lg_state AS
SELECT cid, channel,
  CASE WHEN cluster_id IS NULL THEN state
       -- "no choice recorded" is a choice here: arg_min would skip a NULL
       ELSE nullif(arg_min(coalesce(state, '-'), {_STRICTNESS}) OVER (
         PARTITION BY cluster_id, channel), '-') END AS state,
  CASE WHEN cluster_id IS NULL THEN consent_at
       ELSE min(consent_at) OVER (PARTITION BY cluster_id, channel) END AS consent_at
FROM ({arms}) s
"""


_BLOCTEL_SQL = """
CREATE TABLE lg_bloctel AS
SELECT phone_e164, listed FROM bloctel
QUALIFY ROW_NUMBER() OVER (PARTITION BY phone_e164 ORDER BY screened_at DESC, id DESC) = 1
"""

_SUPPRESSED = """({status} = 'valid' AND EXISTS (
    SELECT 1 FROM suppressions s WHERE s.kind = '{kind}' AND s.value = {key}))"""
_PERSON = (
    "p.cid, p.contact_id, p.collected_at, p.audience, p.cluster_id, p.p_retention, "
    "p.d_listed, p.d_category"
)


def _numbers_sql() -> str:
    """Every number of the persons of ``lg_person``, once for all phone channels.

    A row per distinct number of a contact (``phone`` then ``mobile``), and a
    ``missing`` row for a contact without any; each with its status, line type,
    whether Bloctel screens it, suppression and latest valid Bloctel result.
    """
    # lg_person holds every contact of the base, once: no need to join it here
    source = "FROM contacts c"

    def number(col: str, pos: int, extra: str) -> str:
        french = " OR ".join(f"starts_with(c.{col}_e164, '{p}')" for p in FRENCH_PREFIXES)
        return (
            f"SELECT c.cid, {pos} AS pos, coalesce(c.{col}_e164, c.{col}) AS coordinate, "
            f"c.{col}_e164 AS dkey, "
            f"CASE WHEN c.{col}_e164 IS NULL THEN 'invalid' ELSE 'valid' END AS status, "
            f"c.{col}_type AS line_type, coalesce({french}, FALSE) AS french "
            f"{source} WHERE c.{col} IS NOT NULL{extra}"
        )

    union = "\nUNION ALL\n".join(
        [
            number("phone", 0, ""),
            number(
                "mobile",
                1,
                " AND NOT (c.phone IS NOT NULL AND coalesce(c.mobile_e164 = c.phone_e164 "
                "OR (c.mobile_e164 IS NULL AND c.phone_e164 IS NULL AND c.mobile = c.phone), "
                "FALSE))",
            ),
            "SELECT c.cid, 2 AS pos, '' AS coordinate, NULL AS dkey, 'missing' AS status, "
            f"NULL AS line_type, FALSE AS french {source} "
            "WHERE c.phone IS NULL AND c.mobile IS NULL",
        ]
    )
    supp = _SUPPRESSED.format(status="k.status", kind="phone", key="k.dkey")
    return f"""
CREATE TABLE lg_numbers AS
SELECT k.*, {supp} AS supp, b.listed AS bloctel
FROM ({union}) k
LEFT JOIN lg_bloctel b ON b.phone_e164 = k.dkey
"""


def _coordinates(channel: str) -> str:
    """Every coordinate of ``channel`` for the persons of ``lg_person``, with their facts.

    Columns: the person's facts, choice, pos (order of the coordinate within the
    contact), coordinate, dkey (compared for ``duplicate``), status (valid,
    invalid, missing), line_type, french (a number Bloctel screens), supp (on an
    active suppression list), bloctel (latest result).
    """
    person = f"{_PERSON}, p.partners_{channel} AS choice"
    if channel in NUMBER_CHANNELS:
        return (
            f"SELECT {person}, n.pos, n.coordinate, n.dkey, n.status, n.line_type, n.french, "
            "n.supp, n.bloctel FROM lg_numbers n JOIN lg_person p ON p.cid = n.cid"
        )
    source = "FROM lg_person p JOIN contacts c ON c.cid = p.cid"
    if channel == "postal":
        display = (
            "concat_ws(', ', c.address_line2, c.address_line3, c.address_line4, "
            "c.address_line5, nullif(concat_ws(' ', c.postal_code, c.city), ''))"
        )
        supp = _SUPPRESSED.format(status="c.address_status", kind="address", key="c.address_key")
        return (
            f"SELECT {person}, 0 AS pos, {display} AS coordinate, c.recipient_key AS dkey, "
            f"c.address_status AS status, CAST(NULL AS TEXT) AS line_type, FALSE AS french, "
            f"{supp} AS supp, CAST(NULL AS BIGINT) AS bloctel {source}"
        )
    status = (
        "CASE WHEN c.email IS NULL THEN 'missing' WHEN c.email_status = 'valid' "
        "THEN 'valid' ELSE 'invalid' END"
    )
    supp = _SUPPRESSED.format(status=status, kind="email", key="c.email_norm")
    return (
        f"SELECT {person}, 0 AS pos, coalesce(c.email_norm, c.email, '') AS coordinate, "
        f"c.email_norm AS dkey, {status} AS status, CAST(NULL AS TEXT) AS line_type, "
        f"FALSE AS french, {supp} AS supp, CAST(NULL AS BIGINT) AS bloctel {source}"
    )


def _flags(plan: Plan, channel: str) -> dict[str, str]:
    """The condition of each reason (but ``duplicate`` and ``over_limit``) on a row ``x``."""
    applied = plan.applied
    phone_channel = channel in VOICE_CHANNELS
    has_max_age = plan.params.consent_cutoff(channel) is not None
    present = "x.status <> 'missing'"
    valid = "x.status = 'valid'"
    exempt = f"({_b(applied.bloctel_exempt_purpose)} OR x.audience = 'b2b')"
    screened = f"{valid} AND {_b(phone_channel)} AND x.french AND NOT {exempt}"
    cutoff = f"$consent_cutoff_{channel}" if has_max_age else "NULL"
    banned = ban(plan.order.offer, channel, plan.order.campaign_end) is not None
    return {
        "missing_coordinate": "x.status = 'missing'",
        "invalid_coordinate": "x.status = 'invalid'",
        "wrong_line_type": f"{valid} AND {_b(channel == 'sms')} AND "
        "coalesce(x.line_type, '') <> 'mobile'",
        # consumers only: a contact without an audience is not known to be a business
        "banned_offer": f"{present} AND {_b(banned)} AND coalesce(x.audience, '') <> 'b2b'",
        "retention_expired": f"{present} AND x.p_retention",
        "no_information_proof": f"{present} AND NOT x.optin AND x.state IS NULL",
        "objected_at_collection": f"{present} AND NOT x.optin AND x.state = 'objection'",
        "no_consent": f"{present} AND x.optin AND coalesce(x.state, '') "
        "NOT IN ('consent', 'opposed')",
        "consent_expired": f"{present} AND x.optin AND x.state = 'consent' AND "
        f"{_b(has_max_age)} AND x.consent_at < {cutoff}",
        "partner_not_disclosed": f"{present} AND ((x.optin AND NOT x.d_listed) OR "
        "(NOT x.optin AND NOT x.d_category))",
        "opposed": f"{present} AND x.state = 'opposed'",
        "suppressed": f"{valid} AND x.supp",
        "bloctel_unscreened": f"{screened} AND {_b(applied.bloctel_required)} "
        "AND x.bloctel IS NULL",
        "bloctel_listed": f"{screened} AND x.bloctel = 1",
    }


def _rows_sql(plan: Plan, channel: str, index: int, clustered: bool = False) -> str:
    """One decision row per coordinate of ``channel``, with every reason flag it can have
    before ``duplicate`` and ``over_limit``. ``clustered``: some contacts are the same
    person (``lg_state`` holds their merged choices)."""
    b2c_in = plan.applied.regime(channel, "b2c") == OPT_IN
    b2b_in = plan.applied.regime(channel, "b2b") == OPT_IN
    mask = "\n  + ".join(
        f"CASE WHEN {cond} THEN {BIT[code]} ELSE 0 END"
        for code, cond in _flags(plan, channel).items()
    )
    if clustered:
        state = "s.state, s.consent_at"
        join = f"LEFT JOIN lg_state s ON s.cid = k.cid AND s.channel = '{channel}'"
    else:
        state = _state_columns("k.choice", "k.collected_at")
        join = f"LEFT JOIN lg_choice h ON h.cid = k.cid AND h.channel = '{channel}'"
    return f"""
SELECT x.cid, x.contact_id, CAST({index} AS UTINYINT) AS ch, CAST(x.pos AS UTINYINT) AS pos,
  x.coordinate, x.dkey, {mask} AS mask
FROM (
  SELECT k.*, {state},
    (k.audience = 'b2b' AND {_b(b2b_in)}) OR (k.audience <> 'b2b' AND {_b(b2c_in)}) AS optin
  FROM ({_coordinates(channel)}) k
  {join}
) x
"""


# a row is eligible when it has no reason at all
ELIGIBLE = "mask = 0"


def order_key(alias: str = "") -> str:
    """SQL: a row's place in files: channel by channel in the order's order, then contact
    by contact in the base's order, then the contact's coordinates (one integer sorts
    fastest)."""
    a = f"{alias}." if alias else ""
    return f"({a}ch * 4294967296 + {a}cid) * 4 + {a}pos"


def channel_sql(channels: tuple[str, ...], alias: str = "") -> str:
    """SQL: a row's channel, named from its ``ch`` (its place in the order): the decision's
    rows keep the one-byte place, not the name, on each of their millions of rows."""
    a = f"{alias}." if alias else ""
    arms = " ".join(f"WHEN {i} THEN '{ch}'" for i, ch in enumerate(channels))
    return f"CASE {a}ch {arms} END"


def spell(mask: int) -> str:
    """The ``|``-separated reason codes of a bit mask."""
    return "|".join(code for code in CODES if mask & BIT[code])


def _final_steps(limited: bool, clustered: bool = False) -> list[Step]:
    """``duplicate``, then ``over_limit``, among the rows that have no other reason.

    ``duplicate``: of the otherwise eligible rows sharing a coordinate in a
    channel, all but the most recently collected (then the smallest contact_id,
    byte order). Only the coordinates held more than once are looked at.
    ``over_limit``: the otherwise eligible rows of the contacts ranked past the
    limit, most recently collected first (then the smallest contact_id).
    """
    # when these run, a row's mask holds every reason but these two: 0 is "otherwise eligible"
    steps: list[Step] = [
        (
            "duplicates found",
            """
CREATE TABLE lg_keep AS
SELECT r.ch, r.dkey, first(r.cid ORDER BY p.collected_at DESC, r.contact_id) AS keep
FROM lg_decision r JOIN lg_person p ON p.cid = r.cid
WHERE r.mask = 0 AND r.dkey IS NOT NULL AND (r.ch, r.dkey) IN (
  SELECT (r.ch, r.dkey) FROM lg_decision r WHERE r.mask = 0 AND r.dkey IS NOT NULL
  GROUP BY ALL HAVING count(*) > 1)
GROUP BY ALL
""",
        ),
        (
            "duplicates marked",
            f"""
UPDATE lg_decision r SET mask = {BIT["duplicate"]} FROM lg_keep k
WHERE k.ch = r.ch AND k.dkey = r.dkey AND k.keep <> r.cid AND r.mask = 0
""",
        ),
    ]
    if clustered:  # one person under several contacts is delivered once per channel
        steps += [
            (
                "persons found",
                """
CREATE TABLE lg_keep_person AS
SELECT r.ch, p.cluster_id, first(r.cid ORDER BY p.collected_at DESC, r.contact_id) AS keep
FROM lg_decision r JOIN lg_person p ON p.cid = r.cid
WHERE r.mask = 0 AND p.cluster_id IS NOT NULL GROUP BY ALL
""",
            ),
            (
                "persons delivered once",
                f"""
UPDATE lg_decision r SET mask = {BIT["duplicate"]} FROM (
  SELECT k.ch, p.cid FROM lg_keep_person k JOIN lg_person p
  ON p.cluster_id = k.cluster_id AND p.cid <> k.keep
) o
WHERE o.ch = r.ch AND o.cid = r.cid AND r.mask = 0
""",
            ),
        ]
    if limited:
        steps.append(
            (
                "over the limit",
                f"""
UPDATE lg_decision r SET mask = {BIT["over_limit"]} FROM (
  SELECT cid, ROW_NUMBER() OVER (ORDER BY collected_at DESC, contact_id) AS crank
  FROM (
    SELECT DISTINCT r.cid, r.contact_id, p.collected_at FROM lg_decision r
    JOIN lg_person p ON p.cid = r.cid WHERE r.mask = 0
  ) ok
) k
WHERE k.cid = r.cid AND k.crank > $limit AND r.mask = 0
""",
            )
        )
    return steps


def pipeline(plan: Plan, clustered: bool) -> list[Step]:
    """The steps that decide every coordinate of the plan's order, in the order they run.
    ``clustered``: some contacts of the base are the same person (``dedupe --base``).

    The result is the table ``lg_decision``: one row per contact, channel and
    coordinate (``cid``, ``contact_id``, ``ch`` the channel's position in the order,
    ``pos`` the coordinate's within the contact, so ``order_key`` is unique,
    ``coordinate``, ``dkey`` and ``mask``: its reasons, one bit each). What else a
    row's contact has (collection date, cluster) is read from ``lg_person`` by
    ``cid`` where needed: tens of millions of rows stay narrow."""
    channels = plan.order.channels
    steps: list[Step] = [
        ("events", _ev_sql()),
        ("persons", _person_sql(plan)),
        ("choices", _choice_sql(channels)),
    ]
    if clustered:
        steps.append(("choices of persons", _state_sql(channels)))
    if any(ch in NUMBER_CHANNELS for ch in channels):
        steps += [("bloctel", _BLOCTEL_SQL), ("numbers", _numbers_sql())]
    rows = "\nUNION ALL\n".join(_rows_sql(plan, ch, i, clustered) for i, ch in enumerate(channels))
    steps += [
        ("reasons", f"CREATE TABLE lg_decision AS {rows}"),
        *_final_steps(plan.order.limit is not None, clustered),
    ]
    return _released(steps)


# the tables each step is the last to read (dropping one that is not there is harmless:
# a step that did not run has nothing to drop); the decision keeps ``contacts``,
# ``lg_person``, ``lg_decision`` and ``events_seen`` to its end (read by ``Decision``)
_LAST_READ = {
    "events": ("events",),
    "choices": ("lg_ev",),
    "choices of persons": ("lg_choice",),
    "bloctel": ("bloctel",),
    "numbers": ("lg_bloctel",),
    "reasons": ("lg_choice", "lg_state", "lg_numbers", "suppressions"),
}


def _released(steps: list[Step]) -> list[Step]:
    """``steps``, each dropping the tables the one before it was the last to read: their
    memory goes back to the steps that follow (at ten million contacts, what DuckDB
    would otherwise spill to disk). The drops lead the next step's SQL, since DuckDB
    binds parameters in the last statement of a string only."""
    released: list[Step] = []
    drops = ""
    for name, sql in steps:
        released.append((name, drops + sql))
        drops = "".join(f"DROP TABLE IF EXISTS {t};\n" for t in _LAST_READ.get(name, ()))
    return released


__all__ = ["BIT", "ELIGIBLE", "Step", "channel_sql", "order_key", "pipeline", "spell"]
