"""The outbox: the messages that tell partners of an opposition, an erasure or a
rectification, written in the transaction that records the events.

``enqueue`` runs in the transaction that records the events (a transactional
outbox): for every opposition or erasure not scoped to the owner alone, one
message per partner whose deliveries (within the retention period) contain a
covered coordinate on a covered channel, with the coordinates concerned under
the partner's own contact references. It is set-based: one call covers one
event or a whole imported file.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, TextClause, text

from listguard import audit
from listguard.domain.coverage import delivered_items_sql
from listguard.domain.retention import Retention
from listguard.storage.base import ConnTx, Tx
from listguard.timeutil import now_ts

_SUPERSEDED_ON = "l.contact_id = x.contact_id AND l.coordinate = x.v"


def enqueue(
    conn: Connection,
    events_where: str,
    params: Mapping[str, Any],
    retention: Retention,
    channels: tuple[str, ...] | None = None,
) -> int:
    """Outbox messages for the events of ``events_where`` (SQL on ``events e``); returns
    how many messages were written. ``channels``: only coordinates delivered on these."""
    return sum(enqueue_per_event(conn, events_where, params, retention, channels).values())


def enqueue_per_event(
    conn: Connection,
    events_where: str,
    params: Mapping[str, Any],
    retention: Retention,
    channels: tuple[str, ...] | None = None,
) -> dict[int, int]:
    """As ``enqueue``, for several events at once: the messages written per event id
    (events with none are left out)."""
    now = now_ts()
    since = retention.since(now)
    return _enqueue(ConnTx(conn), events_where, {**params, "since": since}, channels, now)


def enqueue_for_delivery(tx: Tx, events_where: str, params: Mapping[str, Any]) -> int:
    """Outbox messages for the events of ``events_where`` (SQL on ``events e``) about the
    coordinates of the delivery ``:did`` only, in ``tx`` (the delivery's own
    transaction); returns how many messages were written. Each is the delivery's own
    (``outbox.delivery_id``): the partner holds the person under this delivery's
    references, even if told of the event for an earlier one."""
    per_event = _enqueue(
        tx, events_where, {**params, "since": 0}, None, now_ts(), one_delivery=True
    )
    return sum(per_event.values())


def _enqueue(
    tx: Tx,
    events_where: str,
    params: Mapping[str, Any],
    channels: tuple[str, ...] | None,
    now: int,
    *,
    one_delivery: bool = False,
) -> dict[int, int]:
    """The messages and items of the events of ``events_where`` (``params``: its
    parameters and ``since``, the oldest delivery looked at), written to the audit log;
    the messages written per event id."""
    run = tx.execute
    if not run(_ANY_DELIVERY, {"since": params["since"]}):
        # no delivery to forward to: a first import of events into a registry that has
        # rented nothing yet looks no further (millions of events resolved for nothing)
        return {}
    messages, items = _enqueue_statements(events_where, channels, one_delivery=one_delivery)
    last = int(run(_LAST_MESSAGE, {})[0][0])
    bound = {**params, "now": now, "last": last}
    run(messages, bound)
    run(items, bound)
    # (event id, messages, first and last message id) per event
    written = [tuple(int(v) for v in r) for r in run(_WRITTEN_PER_EVENT, {"last": last})]
    per_event = {event: n for event, n, _, _ in written}
    if per_event:
        detail = {
            "messages": sum(per_event.values()),
            "first": min(r[2] for r in written),
            "last": max(r[3] for r in written),
        }
        audit.append_through(tx, "messages_queued", None, detail, now)
    return per_event


_LAST_MESSAGE = text("SELECT coalesce(max(id), 0) FROM outbox")
_ANY_DELIVERY = text("SELECT 1 FROM deliveries WHERE created_at >= :since LIMIT 1")
_WRITTEN_PER_EVENT = text(
    "SELECT event_id, count(*) AS n, min(id) AS first_id, max(id) AS last_id FROM outbox "
    "WHERE id > :last GROUP BY event_id"
)


@functools.lru_cache(maxsize=64)
def _enqueue_statements(
    events_where: str, channels: tuple[str, ...] | None, *, one_delivery: bool = False
) -> tuple[TextClause, TextClause]:
    """The two statements of ``enqueue`` (messages, then their items), built once per
    kind of selection: parsing these long texts cost more than running them.
    ``one_delivery``: only the coordinates of the delivery ``:did``."""
    items = delivered_items_sql(events_where, channels)
    # a message queued as the event is recorded covers every delivery then held (0);
    # one queued by a delivery covers that delivery only, under its own references
    delivery, of = (
        ("p.delivery_id = :did", "CAST(:did AS INTEGER)") if one_delivery else ("1 = 1", "0")
    )
    # the query runs twice (messages, then their items) rather than through a temporary
    # table: creating one per opposition costs more than a second look-up
    return (
        text(
            "INSERT INTO outbox (event_id, partner_id, delivery_id, status, attempts, "
            "created_at, next_attempt_at) "
            f"SELECT DISTINCT p.event_id, p.partner_id, {of}, 'pending', 0, :now, :now "
            f"FROM ({items}) p WHERE {delivery} "
            "ON CONFLICT (event_id, partner_id, delivery_id) DO NOTHING"
        ),
        text(
            "INSERT INTO outbox_items (message_id, delivery_id, contact_ref, channel, coordinate) "
            f"SELECT o.id, p.delivery_id, p.contact_ref, p.channel, p.coordinate FROM ({items}) p "
            "JOIN outbox o ON o.event_id = p.event_id AND o.partner_id = p.partner_id "
            f"WHERE o.id > :last AND {delivery}"
        ),
    )


def message_key(message_id: int, event_id: int, created_at: int) -> str:
    """The message's idempotency key: its id and a digest of what identifies it in the
    registry, nothing of the person (the event's own key holds their identifiers)."""
    digest = hashlib.sha256(f"{message_id}:{event_id}:{created_at}".encode()).hexdigest()
    return f"lg-{message_id}-{digest[:16]}"


__all__ = [
    "enqueue",
    "enqueue_for_delivery",
    "enqueue_per_event",
    "message_key",
]
