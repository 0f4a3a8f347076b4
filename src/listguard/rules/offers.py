"""Offers the law bans canvassing for, whatever the person chose (``rules.md``,
"Offers the law bans").

The bans hold from their dates, not from a rule pack: an order is judged by every
day of its campaign window, so a ban in force on any of them applies (the
strictest reading). They protect consumers: a contact whose ``audience`` is
``b2b`` is not covered, and postal mail is never covered. The one legal exception,
a current contract between the caller and the person, never holds for a rented file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

OFFERS = ("general", "energy_renovation", "home_adaptation")


@dataclass(frozen=True)
class Ban:
    offer: str
    channels: tuple[str, ...]
    start: dt.date
    source: str


# confidence marks as in shared/spec/legal.md: [S] primary or official source
BANS: tuple[Ban, ...] = (
    Ban(
        "energy_renovation",
        ("phone", "automated_call", "sms"),
        dt.date(2020, 7, 26),
        "Code de la consommation art. L223-1, loi n° 2020-901 du 27 juillet 2020 [S]",
    ),
    Ban(
        "energy_renovation",
        ("email",),
        dt.date(2025, 7, 2),
        "Code de la consommation art. L223-8, loi n° 2025-594 du 30 juin 2025 [S]",
    ),
    Ban(
        "home_adaptation",
        ("phone", "automated_call", "sms", "email"),
        dt.date(2025, 7, 2),
        "Code de la consommation art. L223-1 et L223-8, loi n° 2025-594 du 30 juin 2025 [S]",
    ),
)


def ban(offer: str, channel: str, campaign_end: dt.date) -> Ban | None:
    """The ban on canvassing consumers for ``offer`` on ``channel`` in force on some day
    of a campaign window ending on ``campaign_end`` (a ban in force on its last day is
    in force on some day of it), or None."""
    for b in BANS:
        if b.offer == offer and channel in b.channels and b.start <= campaign_end:
            return b
    return None


class OrderTerms(Protocol):
    """What the bans look at in an order (``renting.order.Order`` has it): the offer,
    the channels rented and the campaign's last day."""

    @property
    def offer(self) -> str: ...

    @property
    def channels(self) -> tuple[str, ...]: ...

    @property
    def campaign_end(self) -> dt.date: ...


def banned_offer_rules(order: OrderTerms) -> dict[str, Any]:
    """What the manifest says of ``banned_offer`` for ``order``: its offer, and per channel
    the ban that applies to its consumers, from when, and its legal source."""
    bans = {ch: ban(order.offer, ch, order.campaign_end) for ch in order.channels}
    return {
        "offer": order.offer,
        "applies_to": "consumers (audience other than b2b)",
        "bans": {
            ch: {"banned_from": b.start.isoformat(), "source": b.source}
            for ch, b in bans.items()
            if b is not None
        },
    }
