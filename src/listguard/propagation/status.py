"""Where the messages stand: per partner and status, how many, how many overdue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from listguard.timeutil import now_ts

# a message not acknowledged this long after it was queued is overdue (seconds)
OVERDUE_AFTER = 24 * 3600


@dataclass
class StatusLine:
    partner_id: str
    status: str
    messages: int
    overdue: int
    oldest: int | None


def status(
    engine: Engine, overdue_after: int = OVERDUE_AFTER, now: int | None = None
) -> list[StatusLine]:
    """Messages per partner and status; ``overdue``: not acknowledged ``overdue_after``
    seconds after they were queued."""
    clock = now if now is not None else now_ts()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT partner_id, status, count(*) AS n, "
                "sum(CASE WHEN status <> 'acknowledged' AND created_at < :limit THEN 1 ELSE 0 END) "
                "AS late, min(created_at) AS oldest FROM outbox "
                "GROUP BY partner_id, status ORDER BY partner_id, status"
            ),
            {"limit": clock - overdue_after},
        ).all()
    return [StatusLine(r.partner_id, r.status, int(r.n), int(r.late or 0), r.oldest) for r in rows]


__all__ = ["OVERDUE_AFTER", "StatusLine", "status"]
