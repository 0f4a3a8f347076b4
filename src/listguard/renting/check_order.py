"""The order ``listguard check`` decides one contact under: the one ``rent`` would take.

Either built from the options (``--as-of``, ``--campaign-start``/``--campaign-end``,
``--call-purpose``, ``--offer``: the same checks as an order's keys, so that a
decision ``check`` explains is the one ``rent`` makes for an order with those
keys), or read back from a past delivery (``--delivery ID``): its order as
recorded, with the delivery date the delivery recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import Connection, text

from listguard.db.schema import CHANNELS
from listguard.errors import InputError
from listguard.renting.order import FIRST_DAY, LAST_DAY, Order, parse_order
from listguard.rules.offers import OFFERS
from listguard.rules.packs import CALL_PURPOSES
from listguard.timeutil import today


@dataclass(frozen=True)
class CheckOptions:
    """The options of ``listguard check`` (None: not given)."""

    partner: str | None = None
    channel: str = ""
    as_of: dt.date | None = None
    campaign_start: dt.date | None = None
    campaign_end: dt.date | None = None
    call_purpose: str | None = None
    offer: str | None = None
    delivery: int | None = None


@dataclass(frozen=True)
class CheckOrder:
    order: Order
    delivery: int | None  # the past delivery it was read from
    whole: bool  # decide the order's whole base (its ``limit`` counts every contact)


def _channel(channel: str, among: tuple[str, ...] = CHANNELS) -> str:
    if channel not in among:
        raise InputError(f"unknown channel {channel!r}: expected one of {', '.join(among)}")
    return channel


def _from_options(o: CheckOptions) -> Order:
    if not o.partner:
        raise InputError("name the partner with --partner (or a past delivery with --delivery)")
    call_purpose = o.call_purpose or "commercial"
    if call_purpose not in CALL_PURPOSES:
        raise InputError(
            f"--call-purpose: unknown call purpose {call_purpose!r}: expected one of "
            f"{', '.join(CALL_PURPOSES)}"
        )
    offer = o.offer or "general"
    if offer not in OFFERS:
        raise InputError(f"--offer: unknown offer {offer!r}: expected one of {', '.join(OFFERS)}")
    for name, value in (
        ("--as-of", o.as_of),
        ("--campaign-start", o.campaign_start),
        ("--campaign-end", o.campaign_end),
    ):
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise InputError(f"{name} must be a date between {FIRST_DAY} and {LAST_DAY}")
    day = o.as_of or today()
    if (o.campaign_start is None) != (o.campaign_end is None):
        raise InputError("give the campaign window whole: --campaign-start and --campaign-end")
    start = o.campaign_start or day
    end = o.campaign_end or day
    if end < start:
        raise InputError(f"the campaign ends ({end}) before it starts ({start})")
    if day > end:
        raise InputError(f"--as-of ({day}) is after the end of the campaign ({end})")
    return Order(
        partner=o.partner,
        channels=(_channel(o.channel),),
        purpose="check",
        campaign_start=start,
        campaign_end=end,
        as_of=day,
        call_purpose=call_purpose,
        offer=offer,
    )


def _from_delivery(conn: Connection, o: CheckOptions, delivery: int) -> CheckOrder:
    given = [
        name
        for name, value in (
            ("--as-of", o.as_of),
            ("--campaign-start", o.campaign_start),
            ("--campaign-end", o.campaign_end),
            ("--call-purpose", o.call_purpose),
            ("--offer", o.offer),
        )
        if value is not None
    ]
    if given:
        raise InputError(
            f"--delivery explains the delivery's order as it was: leave out {', '.join(given)}"
        )
    row = conn.execute(
        text("SELECT partner_id, order_text, as_of, kind FROM deliveries WHERE id = :d"),
        {"d": delivery},
    ).first()
    if row is None:
        raise InputError(f"--delivery: unknown delivery {delivery}")
    if row.kind != "rental":
        raise InputError(
            f"--delivery: delivery {delivery} is an enrichment of a client's file, not a rental"
        )
    if o.partner and o.partner != row.partner_id:
        raise InputError(
            f"--partner: delivery {delivery} went to {row.partner_id}, not {o.partner}"
        )
    order = parse_order(
        row.order_text,
        where=f"order of delivery {delivery}",
        as_of=dt.date.fromisoformat(row.as_of),
    )
    _channel(o.channel, order.channels)
    # the order's limit counts contacts over its whole base and every channel
    if order.limit is None:
        order = replace(order, channels=(o.channel,))
    return CheckOrder(order, delivery, whole=order.limit is not None)


def check_order(conn: Connection, options: CheckOptions) -> CheckOrder:
    """The order to decide, or an :class:`InputError` naming the option that is wrong."""
    if options.delivery is not None:
        return _from_delivery(conn, options, options.delivery)
    return CheckOrder(_from_options(options), None, whole=False)
