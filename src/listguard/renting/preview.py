"""An order previewed, then delivered exactly as previewed.

``preview`` computes what renting would deliver, per channel and reason, exactly as
renting does, and records nothing. ``preview_order`` does so for an order's text and
gives the order's digest (``order_hash``: its content, with the offer chosen beside
it, and the day it is decided as of). ``deliver_previewed`` delivers an
order only when it is given that digest back: a text changed since its preview (or
an order without ``as_of`` previewed on another day) is refused with
:class:`OrderChanged`, and nothing is delivered. The back office and the owner's API
use these three functions alike.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from listguard import reads
from listguard.config import Settings
from listguard.errors import InputError, Notice
from listguard.paths import confined
from listguard.processing.clusters import stale_clusters
from listguard.renting.deliver import DeliveryReport, rent
from listguard.renting.leftovers import sweep
from listguard.renting.order import Order, backdated, parse_order, with_offer
from listguard.renting.order_hash import OrderChanged, order_hash, same_order
from listguard.renting.turn import rental_turn
from listguard.rules.engine import decide
from listguard.rules.plan import make_plan
from listguard.storage.engine import check_initialised, one_snapshot
from listguard.storage.open import open_storage
from listguard.timeutil import now_ts


@dataclass(frozen=True)
class Previewed:
    """An order as previewed: the order read from its normalised text (``order.text``
    is what a delivery records), its digest to give back to deliver it, the counts
    (as :func:`preview`) and the warnings to show beside them."""

    order: Order
    digest: str
    counts: dict[str, Any]
    warnings: tuple[Notice, ...]


def preview(engine: Engine, order: Order, settings: Settings) -> dict[str, Any]:
    """``{"packs": [...], "offer": ..., "contacts": n, "channels": {channel: {"coordinates",
    "eligible", "excluded_by_reason"}}}``."""
    check_initialised(engine)
    with engine.connect() as raw:
        conn = one_snapshot(raw)
        plan = make_plan(conn, order, settings.rules)
        with decide(open_storage(engine), conn, plan, settings.engine) as decision:
            tally = decision.counts()
            contacts = decision.contacts_eligible()
        conn.rollback()
    return {
        "packs": list(plan.applied.ids),
        "offer": order.offer,
        "contacts": contacts,
        "channels": tally.per_channel(order.channels),
    }


def normalise_order_text(text: str) -> str:
    """The order's text as it is hashed and recorded: line ends as ``\\n`` (a browser
    sends a form's text with ``\\r\\n``), no trailing spaces, one final line end."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"


def read_order(text: str, *, offer: str = "", where: str = "order") -> Order:
    """The order of ``text`` (normalised), with ``offer`` when its text names none
    (``with_offer``); ``InputError`` saying what is wrong."""
    return parse_order(with_offer(normalise_order_text(text), offer), where=where)


def order_digest(order: Order) -> str:
    """The digest of ``order`` (``order_hash`` of its text, offer included, and of the
    day it is decided as of)."""
    return order_hash(order.text, order.as_of)


def preview_order(engine: Engine, text: str, settings: Settings, *, offer: str = "") -> Previewed:
    """Preview the order of ``text``: its counts, its digest, its warnings (an order
    decided as of a past day, clusters older than the base). Nothing is recorded. One
    rental at a time through the web application (``turn.Busy`` at once otherwise)."""
    order = read_order(text, offer=offer)
    with rental_turn(Path(settings.web.deliveries_dir)):
        counts = preview(engine, order, settings)
    notes = (backdated(order), stale_clusters(engine))
    return Previewed(order, order_digest(order), counts, tuple(n for n in notes if n))


def check_previewed(order: Order, digest: str) -> None:
    """Refuse (``OrderChanged``) an order that is not the one whose digest is given."""
    same_order(order.text, order.as_of, digest)


RESUBMITTED_WITHIN_S = 600


def delivered_lately(engine: Engine, order: Order, digest: str) -> int | None:
    """The id of a delivery of this very order (``digest``) recorded in the last ten
    minutes, if one was: a confirmation sent twice (a second click, a page reloaded)
    lands on the delivery the first made rather than renting the file again."""
    since = now_ts() - RESUBMITTED_WITHIN_S
    for d in reads.deliveries(engine, partner_id=order.partner, limit=20):
        if d.kind != "rental" or d.created_at < since:
            continue
        try:
            if order_hash(d.order_text, dt.date.fromisoformat(d.as_of)) == digest:
                return d.id
        except (InputError, ValueError):
            continue
    return None


def deliver_previewed(
    engine: Engine,
    text: str,
    digest: str,
    settings: Settings,
    *,
    offer: str = "",
    now: dt.datetime | None = None,
) -> DeliveryReport:
    """Deliver the order of ``text`` into a new folder under ``[web] deliveries_dir``
    (``delivery-<partner>-<UTC stamp>-<random>``), if ``digest`` is its preview's;
    else ``OrderChanged`` and nothing delivered. One rental at a time through the web
    application (``turn.Busy`` at once otherwise); folders left by a rental that was
    stopped are swept first."""
    order = read_order(text, offer=offer)
    check_previewed(order, digest)
    folder = Path(settings.web.deliveries_dir)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    # the folder is named from the order's partner id: confined to the folder
    out = confined(folder, f"delivery-{order.partner}-{stamp}-{secrets.token_hex(3)}")
    with rental_turn(folder):
        sweep(engine, out)
        return rent(engine, order, out, settings)


__all__ = [
    "OrderChanged",
    "Previewed",
    "check_previewed",
    "deliver_previewed",
    "delivered_lately",
    "normalise_order_text",
    "order_digest",
    "preview",
    "preview_order",
    "read_order",
]
