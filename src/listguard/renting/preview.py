"""The counts of an order before it is delivered: what renting would deliver, per
channel and reason, computed exactly as renting does, and nothing recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from listguard.config import Settings
from listguard.renting.order import Order
from listguard.rules.engine import decide
from listguard.rules.plan import make_plan
from listguard.storage.engine import check_initialised, one_snapshot


def preview(engine: Engine, order: Order, settings: Settings) -> dict[str, Any]:
    """``{"packs": [...], "offer": ..., "contacts": n, "channels": {channel: {"coordinates",
    "eligible", "excluded_by_reason"}}}``."""
    check_initialised(engine)
    with engine.connect() as raw:
        conn = one_snapshot(raw)
        plan = make_plan(conn, order, settings.rules)
        with decide(conn, plan, memory_mb=settings.engine.memory_mb) as decision:
            tally = decision.counts()
            contacts = decision.contacts_eligible()
        conn.rollback()
    return {
        "packs": list(plan.applied.ids),
        "offer": order.offer,
        "contacts": contacts,
        "channels": tally.per_channel(order.channels),
    }


__all__ = ["preview"]
