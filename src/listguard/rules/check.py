"""``listguard check``: one decision explained, with the rule and legal source of each reason."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, text

from listguard.config import Settings
from listguard.db.engine import check_initialised, one_snapshot
from listguard.db.schema import CHANNELS
from listguard.errors import InputError
from listguard.renting.order import Order
from listguard.rules.engine import decide, make_plan, spell
from listguard.rules.packs import CALL_PURPOSES
from listguard.rules.reasons import BY_CODE, split_reasons
from listguard.timeutil import today


def explain(
    engine: Engine,
    settings: Settings,
    contact_id: str,
    partner: str,
    channel: str,
    as_of: dt.date | None = None,
    call_purpose: str = "commercial",
) -> str:
    """A readable explanation of the decision on every coordinate of one contact."""
    check_initialised(engine)
    if channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    if call_purpose not in CALL_PURPOSES:
        raise InputError(f"unknown call purpose {call_purpose!r}")
    day = as_of or today()
    order = Order(
        partner=partner,
        channels=(channel,),
        purpose="check",
        campaign_start=day,
        campaign_end=day,
        as_of=day,
        call_purpose=call_purpose,
    )
    with engine.connect() as raw, one_snapshot(raw).begin() as tx:
        conn = tx.connection
        row = conn.execute(
            text(
                "SELECT contact_id, email_norm, phone_e164, mobile_e164, recipient_key, "
                "collected_at, audience FROM contacts WHERE contact_id = :c"
            ),
            {"c": contact_id},
        ).first()
        if row is None:
            raise InputError(f"unknown contact {contact_id!r}")
        # the contacts sharing a coordinate with this one decide ``duplicate``
        peers = conn.execute(
            text(
                "SELECT contact_id FROM contacts WHERE email_norm = :e OR phone_e164 IN (:p, :m) "
                "OR mobile_e164 IN (:p, :m) OR recipient_key = :r"
            ),
            {
                "e": row.email_norm,
                "p": row.phone_e164,
                "m": row.mobile_e164,
                "r": row.recipient_key,
            },
        ).scalars()
        # the other records of the same person (``dedupe --base``) share its choices
        same = (
            conn.execute(
                text(
                    "SELECT contact_id FROM contact_clusters WHERE contact_id <> :c "
                    "AND cluster_id = (SELECT cluster_id FROM contact_clusters "
                    "WHERE contact_id = :c)"
                ),
                {"c": contact_id},
            )
            .scalars()
            .all()
        )
        ids = tuple(sorted({contact_id, *peers, *same}))
        plan = make_plan(conn, order, settings.rules, contact_ids=ids)
        db = decide(conn, plan, memory_mb=settings.engine.memory_mb)
        try:
            rows = [
                (coordinate, spell(mask) or None)
                for coordinate, mask in db.execute(
                    "SELECT coordinate, mask FROM lg_decision "
                    "WHERE contact_id = $c ORDER BY pos, coordinate",
                    {"c": contact_id},
                ).fetchall()
            ]
        finally:
            db.close()
        tx.rollback()
    applied = plan.applied
    lines = [
        f"contact {contact_id} ({row.audience.upper()}), partner {partner} "
        f"({plan.partner.name}), channel {channel}, delivery date {day}",
        f"rule packs: {', '.join(applied.ids)}; regime for this contact: "
        f"{applied.regime(channel, row.audience)}",
    ]
    if same:
        lines.append(
            f"one person with {', '.join(sorted(same))} (dedupe --base): the strictest choice "
            "of these records applies to each, and the person is delivered once"
        )
    if not rows:
        lines.append("the contact was collected after the delivery date: it does not exist yet")
        return "\n".join(lines)
    for coordinate, reasons in rows:
        shown = coordinate or "(none)"
        if not reasons:
            lines.append(f"- {shown}: eligible")
            continue
        lines.append(f"- {shown}: excluded")
        for code in split_reasons(reasons):
            r = BY_CODE[code]
            lines.append(f"    {code}: {r.rule}")
            lines.append(f"      source: {r.source}")
    return "\n".join(lines)
