"""``listguard check``: one decision explained, with the rule and legal source of each reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from listguard.config import Settings
from listguard.errors import InputError
from listguard.renting.check_order import CheckOptions, check_order
from listguard.rules.engine import decide
from listguard.rules.offers import ban
from listguard.rules.plan import make_plan
from listguard.rules.reasons import BY_CODE, split_reasons
from listguard.storage.engine import check_initialised, one_snapshot
from listguard.storage.open import open_storage


@dataclass(frozen=True)
class Explanation:
    text: str  # the explanation, as ``listguard check`` prints it
    timings: list[tuple[str, float]]  # each step of the decision and its seconds
    # the same, as data (the owner API's answer): what the text says, key by key
    facts: dict[str, Any] = field(default_factory=dict)


def explain(engine: Engine, settings: Settings, contact_id: str, options: CheckOptions) -> str:
    """A readable explanation of the decision on every coordinate of one contact, as
    ``rent`` takes it for the order the options describe (or a past delivery's)."""
    return explanation(engine, settings, contact_id, options).text


def explanation(
    engine: Engine, settings: Settings, contact_id: str, options: CheckOptions
) -> Explanation:
    """``explain``'s text, with the time each step of the decision took."""
    check_initialised(engine)
    channel = options.channel
    with engine.connect() as raw, one_snapshot(raw).begin() as tx:
        conn = tx.connection
        checked = check_order(conn, options)
        order = checked.order
        partner, day = order.partner, order.as_of
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
        # a limit counts the contacts of the whole base: then the whole order is decided
        ids = () if checked.whole else tuple(sorted({contact_id, *peers, *same}))
        plan = make_plan(conn, order, settings.rules, contact_ids=ids)
        with decide(open_storage(engine), conn, plan, settings.engine) as decision:
            rows = decision.rows_of(contact_id, channel)
            timings = decision.timings
        tx.rollback()
    applied = plan.applied
    regime = applied.regime(channel, row.audience)
    facts: dict[str, Any] = {
        "contact_id": contact_id,
        "audience": row.audience,
        "partner": partner,
        "partner_name": plan.partner.name,
        "channel": channel,
        "as_of": day.isoformat(),
        "delivery": checked.delivery,
        "campaign_start": order.campaign_start.isoformat(),
        "campaign_end": order.campaign_end.isoformat(),
        "call_purpose": order.call_purpose,
        "offer": order.offer,
        "packs": list(applied.ids),
        "regime": regime,
        "same_person": sorted(same),
        "coordinates": [],
    }
    lines = [
        f"contact {contact_id} ({row.audience.upper()}), partner {partner} "
        f"({plan.partner.name}), channel {channel}, delivery date {day}"
        + (f" (delivery {checked.delivery})" if checked.delivery is not None else ""),
        f"campaign {order.campaign_start} to {order.campaign_end}, call purpose "
        f"{order.call_purpose}, offer {order.offer}",
        f"rule packs: {', '.join(applied.ids)}; regime for this contact: {regime}",
    ]
    if same:
        lines.append(
            f"one person with {', '.join(sorted(same))} (dedupe --base): the strictest choice "
            "of these records applies to each, and the person is delivered once"
        )
    if not rows:
        lines.append(
            "no decision row: the contact was collected after the delivery date"
            + (", or is outside the order's segment" if checked.delivery is not None else "")
        )
        return Explanation("\n".join(lines), timings, {**facts, "text": "\n".join(lines)})
    banned = ban(order.offer, channel, order.campaign_end)
    for coordinate, reasons in rows:
        shown = coordinate or "(none)"
        given: list[dict[str, str]] = []
        facts["coordinates"].append(
            {"coordinate": coordinate or None, "eligible": not reasons, "reasons": given}
        )
        if not reasons:
            lines.append(f"- {shown}: eligible")
            continue
        lines.append(f"- {shown}: excluded")
        for code in split_reasons(reasons):
            r = BY_CODE[code]
            lines.append(f"    {code}: {r.rule}")
            source = r.source
            if code == "banned_offer" and banned:
                source = f"{banned.source}; banned from {banned.start}"
            lines.append(f"      source: {source}")
            given.append({"code": code, "rule": r.rule, "source": source})
    return Explanation("\n".join(lines), timings, {**facts, "text": "\n".join(lines)})
