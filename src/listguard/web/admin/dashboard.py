"""The back office's dashboard: the registry's figures, the oppositions of the last 30
days (the figure is the chart's total), the messages to partners per partner and state
(the figure "to forward" is what the table's pending and failed columns add up to),
the refused requests, the last deliveries, and what a rental to one partner would
deliver today."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from listguard import reads
from listguard.db.schema import CHANNELS
from listguard.errors import ListguardError
from listguard.propagation.follow import partner_lines
from listguard.renting.order import Order
from listguard.renting.preview import preview
from listguard.timeutil import day_start, now_ts, to_day, to_iso, today
from listguard.web.admin.deliveries import delivery_view
from listguard.web.admin.router import router
from listguard.web.deps import SignedIn, W
from listguard.web.state import Web


def _scalar(conn: Any, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar()


def _rentable(w: Web, partner_id: str, lang: str) -> dict[str, Any]:
    """What a rental to ``partner_id`` on every channel, decided today for a 30-day
    campaign, would deliver (the rentals preview; nothing recorded)."""
    day = today()
    order = Order(
        partner=partner_id,
        channels=tuple(CHANNELS),
        purpose="Tableau de bord",
        campaign_start=day,
        campaign_end=day + dt.timedelta(days=30),
        as_of=day,
    )
    try:
        return {"partner": partner_id, **preview(w.engine, order, w.settings)}
    except ListguardError as exc:
        return {"partner": partner_id, "error": exc.said(lang)}


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: SignedIn, w: W, rentable: str | None = None) -> Response:
    now = now_ts()
    today = to_day(now)  # the registry's days are Paris days
    month = day_start(today.replace(day=1))
    with w.engine.connect() as conn:
        figures = {
            "contacts": _scalar(conn, "SELECT count(*) FROM contacts"),
            "partners": _scalar(
                conn,
                "SELECT count(*) FROM partners WHERE listed_from <= :n "
                "AND (listed_until IS NULL OR listed_until > :n)",
                n=now,
            ),
            "rentals_month": _scalar(
                conn, "SELECT count(*) FROM deliveries WHERE created_at >= :m", m=month
            ),
            "delivered_month": _scalar(
                conn,
                "SELECT coalesce(sum(contacts_delivered), 0) FROM deliveries "
                "WHERE created_at >= :m",
                m=month,
            ),
            "last_screening": _scalar(conn, "SELECT max(screened_at) FROM bloctel_screenings"),
        }
        # the 30 Paris days ending today: the figure is the chart's total, by construction
        start = day_start(today - dt.timedelta(days=29))
        per_day: dict[int, int] = {}
        for d, n in conn.execute(
            text(
                "SELECT (at - :s) / 86400 AS d, count(*) FROM events "
                "WHERE event = 'opposition' AND at >= :s AND at < :e "
                "GROUP BY (at - :s) / 86400"
            ),
            {"s": start, "e": day_start(today + dt.timedelta(days=1))},
        ):
            # a 25-hour day (the autumn clock change) in the window leaves today's last
            # hour in a 31st bucket: it is today's, and counted in the chart
            per_day[min(int(d), 29)] = per_day.get(min(int(d), 29), 0) + int(n)
        refusals = conn.execute(
            text(
                "SELECT route, reason, sum(count) AS n FROM refusals WHERE day >= :s "
                "GROUP BY route, reason ORDER BY n DESC, route, reason LIMIT 20"
            ),
            {"s": now - 7 * 86400},
        ).all()
    lines = partner_lines(w.engine, now, smtp=bool(w.settings.notify.smtp_host))
    chart = _bars(
        [
            ((today - dt.timedelta(days=29 - i)).isoformat(), int(per_day.get(i, 0)))
            for i in range(30)
        ]
    )
    figures["oppositions_30d"] = chart["total"]
    last = figures["last_screening"]
    age = (now - int(last)) // 86400 if last is not None else None
    return w.page(
        request,
        "admin/dashboard.html",
        session=session,
        figures=figures,
        screening=(to_iso(int(last))[:10] if last is not None else None, age),
        # not sent yet (pending, or failed for good), as the table's columns add up
        pending=sum(x.to_send for x in lines),
        failed=sum(x.failed for x in lines),
        overdue=sum(x.overdue for x in lines),
        lines=lines,
        refusals=[{"route": r.route, "reason": r.reason, "n": int(r.n)} for r in refusals],
        listed=[
            {"id": p["partner_id"], "name": p["name"]}
            for p in reads.partners(w.engine, now)
            if p["state"] == "listed"
        ],
        rentable=_rentable(w, rentable[:64], w.lang(request)) if rentable else None,
        chart=chart,
        deliveries=[delivery_view(d) for d in reads.deliveries(w.engine, limit=10)],
    )


def _bars(days: list[tuple[str, int]]) -> dict[str, Any]:
    """A bar chart drawn by the server (SVG, no script): one bar per day, its height
    relative to the busiest day, each with its day and count as a tooltip."""
    top = max((n for _d, n in days), default=0) or 1
    width, height = 12, 80
    return {
        "width": width * len(days),
        "height": height,
        "total": sum(n for _d, n in days),
        "top": top,
        "bars": [
            {
                "x": i * width,
                "y": height - round(height * n / top),
                "h": round(height * n / top),
                "w": width - 2,
                "label": f"{day} : {n}",
            }
            for i, (day, n) in enumerate(days)
        ],
    }
