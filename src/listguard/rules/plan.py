"""An order's plan: everything the decision needs, computed once from the order, the
partner as the registry holds it, and the rule settings.

The values the SQL of the decision uses are :class:`PlanParams`, every one named and
typed; DuckDB receives them as named parameters (``PlanParams.bound``) where the
pipeline's steps are run, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import Connection, text

from listguard.config import RuleSettings
from listguard.errors import InputError
from listguard.renting.order import Order
from listguard.rules.packs import Applied, applicable_packs
from listguard.timeutil import day_end, day_start, years_before

# "no bound": a limit, a listing date that is not set
NEVER = 2**62


@dataclass(frozen=True)
class PartnerFacts:
    partner_id: str
    name: str
    category: str
    sector: str
    listed_from: int | None
    listed_until: int | None
    category_intervals: tuple[tuple[int, int | None], ...]  # merged listing periods of its category


@dataclass(frozen=True)
class PlanParams:
    """The values an order's decision is computed with (timestamps in seconds)."""

    dend: int  # the end of the order's as_of day: nothing recorded later is seen
    partner: str
    retention_cutoff: int  # a contact without activity since then is past retention
    bloctel_from: int  # the Bloctel screenings from then on are valid
    limit: int  # the order's limit of contacts (``NEVER``: none)
    listed_from: int  # when the partner was first on the partner list (``NEVER``: never)
    listed_until: int  # when it was removed from it (``NEVER``: not removed)
    # the merged listing periods of the partner's category (end None: still listed)
    category_intervals: tuple[tuple[int, int | None], ...] = ()
    # per channel with a maximum age of consent: the oldest consent still valid
    consent_cutoffs: tuple[tuple[str, int], ...] = ()

    def consent_cutoff(self, channel: str) -> int | None:
        """The oldest consent still valid on ``channel``; None: consent does not age."""
        return dict(self.consent_cutoffs).get(channel)

    def bound(self) -> dict[str, int | str]:
        """The values as the pipeline's SQL names them (``$dend``, ``$cat_from0``...)."""
        out: dict[str, int | str] = {
            "dend": self.dend,
            "partner": self.partner,
            "retention_cutoff": self.retention_cutoff,
            "bloctel_from": self.bloctel_from,
            "limit": self.limit,
            "listed_from": self.listed_from,
            "listed_until": self.listed_until,
        }
        for i, (start, end) in enumerate(self.category_intervals):
            out[f"cat_from{i}"] = start
            if end is not None:
                out[f"cat_until{i}"] = end
        for channel, cutoff in self.consent_cutoffs:
            out[f"consent_cutoff_{channel}"] = cutoff
        return out


@dataclass
class Plan:
    """Everything the SQL needs, computed once from the order and settings."""

    order: Order
    applied: Applied
    partner: PartnerFacts
    params: PlanParams
    contact_ids: tuple[str, ...] = ()  # restricts the base to a few contacts (``check``)
    only: pa.Array | None = None  # restricts the base to these contact ids (``enrich``)


def partner_facts(conn: Connection, partner_id: str) -> PartnerFacts:
    row = conn.execute(
        text(
            "SELECT partner_id, name, category, sector, listed_from, listed_until "
            "FROM partners WHERE partner_id = :p"
        ),
        {"p": partner_id},
    ).first()
    if row is None:
        raise InputError(
            f"unknown partner {partner_id!r}: import it first with `listguard import partners`",
            fr=f"partenaire inconnu {partner_id!r} : ajoutez-le d'abord (Partenaires)",
        )
    periods = conn.execute(
        text(
            "SELECT listed_from, listed_until FROM partners "
            "WHERE category = :c AND listed_from IS NOT NULL ORDER BY listed_from"
        ),
        {"c": row.category},
    ).all()
    merged: list[list[int | None]] = []
    for start, end in periods:
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_end = merged[-1][1]
            merged[-1][1] = None if end is None or last_end is None else max(last_end, end)
        else:
            merged.append([start, end])
    return PartnerFacts(
        row.partner_id,
        row.name,
        row.category,
        row.sector,
        row.listed_from,
        row.listed_until,
        tuple((int(s), e) for s, e in merged if s is not None),
    )


def make_plan(
    conn: Connection,
    order: Order,
    settings: RuleSettings,
    contact_ids: tuple[str, ...] = (),
    only: pa.Array | None = None,
) -> Plan:
    applied = applicable_packs(
        order.as_of, order.campaign_start, order.campaign_end, settings, order.call_purpose
    )
    partner = partner_facts(conn, order.partner)
    d = order.as_of
    last_day = max(d, order.campaign_end)
    cutoffs = []
    for ch in order.channels:
        days = applied.consent_max_age_days(ch)
        if days is not None:
            cutoffs.append((ch, day_start(last_day - dt.timedelta(days=days))))
    params = PlanParams(
        dend=day_end(d),
        partner=partner.partner_id,
        retention_cutoff=day_start(years_before(d, settings.retention_years)),
        bloctel_from=day_start(d - dt.timedelta(days=settings.bloctel_validity_days)),
        limit=order.limit if order.limit is not None else NEVER,
        listed_from=partner.listed_from if partner.listed_from is not None else NEVER,
        listed_until=partner.listed_until if partner.listed_until is not None else NEVER,
        category_intervals=partner.category_intervals,
        consent_cutoffs=tuple(cutoffs),
    )
    return Plan(order, applied, partner, params, contact_ids, only)


__all__ = ["NEVER", "PartnerFacts", "Plan", "PlanParams", "make_plan", "partner_facts"]
