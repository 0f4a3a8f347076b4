"""The registry's rows an order's decision is computed from, filtered where they are
stored: each a :class:`Query` read as Arrow in one snapshot.

``contacts`` (the base of the order: collected on or before D, in the segment),
``events`` (dated on or before D), ``suppressions`` (active on D for this partner),
``bloctel`` (results of the screenings of the validity window), ``events_seen`` (the
snapshot's last event id, which a delivery checks against before it commits).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from listguard.db.schema import ADDRESS_COLUMNS, CHANNELS
from listguard.domain.vocabulary import NUMBER_CHANNELS
from listguard.rules.plan import Plan
from listguard.storage.query import PARAM, Copied, Query

POSTAL_FIELDS = ("civility", "first_name", "last_name", "company", *ADDRESS_COLUMNS, "country")
_S, _I = pa.string(), pa.int64()


def _base_where(plan: Plan, alias: str = "c") -> tuple[str, dict[str, Any]]:
    where = [f"{alias}.collected_at <= :dend"]
    params: dict[str, Any] = {}
    seg = plan.order.segment
    if seg.audience:
        where.append(f"{alias}.audience = :seg_audience")
        params["seg_audience"] = seg.audience
    if seg.postal_code_prefix:
        ors = []
        for i, prefix in enumerate(seg.postal_code_prefix):
            params[f"seg_pc{i}"] = prefix
            ors.append(f"substr({alias}.postal_code, 1, {len(prefix)}) = :seg_pc{i}")
        where.append("(" + " OR ".join(ors) + ")")
    if plan.contact_ids:
        names = []
        for i, cid in enumerate(plan.contact_ids):
            params[f"cid{i}"] = cid
            names.append(f":cid{i}")
        where.append(f"{alias}.contact_id IN ({', '.join(names)})")
    return " AND ".join(where), params


def _contact_fields(channels: tuple[str, ...]) -> list[tuple[str, pa.DataType]]:
    """The columns of the contacts extract: what the order's channels need, no more
    (and the keys that resolve events naming an email or a number)."""
    names = ["contact_id", "audience", "email_norm", "phone_e164", "mobile_e164"]
    names += [f"partners_{ch}" for ch in channels]
    if "email" in channels:
        names += ["email", "email_status"]
    if any(ch in NUMBER_CHANNELS for ch in channels):
        names += ["phone", "phone_type", "mobile", "mobile_type"]
    if "postal" in channels:
        names += [*POSTAL_FIELDS, "address_status", "address_key", "recipient_key"]
    return [("collected_at", _I), *((name, _S) for name in names)]


def contacts_copy_query() -> Query:
    """The whole contacts table with every column an order can need: the query whose
    columnar copy is kept beside a SQLite registry (ADR 0013), and which a first import
    writes as it loads the table (ADR 0015)."""
    every = _contact_fields(CHANNELS)
    return Query(
        f"SELECT id AS cid, {', '.join(name for name, _ in every)} FROM contacts WHERE 1 = 1",
        pa.schema([("cid", _I), *every]),
        copy=Copied("contacts"),
    )


def extracts(plan: Plan, copied: bool = False) -> dict[str, Query]:
    """The registry's rows the order can concern, filtered where they are stored.
    ``copied``: the whole contacts table (``contacts_all``, read from its columnar
    copy) and ``clusters`` instead, filtered by ``base_contacts_sql``."""
    p = plan.params
    contacts: dict[str, Query]
    if copied:
        contacts = {
            "contacts_all": contacts_copy_query(),
            "clusters": Query(
                "SELECT contact_id, cluster_id FROM contact_clusters",
                pa.schema([("contact_id", _S), ("cluster_id", _S)]),
            ),
        }
    else:
        base, seg_params = _base_where(plan)
        fields = _contact_fields(plan.order.channels)
        contacts = {
            "contacts": Query(
                f"SELECT c.id AS cid, {', '.join(f'c.{name}' for name, _ in fields)}, "
                "k.cluster_id FROM contacts c "
                f"LEFT JOIN contact_clusters k ON k.contact_id = c.contact_id WHERE {base}",
                pa.schema([("cid", _I), *fields, ("cluster_id", _S)]),
                {"dend": p.dend, **seg_params},
                split=("c.id", "SELECT min(id), max(id) FROM contacts"),
            )
        }
    queries = {
        **contacts,
        "events": Query(
            "SELECT contact_id, email_norm, phone_e164, event, channel, scope, partner_id, "
            "at AS ts FROM events WHERE at <= :dend",
            pa.schema(
                [
                    *((name, _S) for name in ("contact_id", "email_norm", "phone_e164")),
                    *((name, _S) for name in ("event", "channel", "scope", "partner_id")),
                    ("ts", _I),
                ]
            ),
            {"dend": p.dend},
        ),
        # the last event this decision saw: an opposition recorded after it, while the
        # order is being delivered, is found by the delivery before it commits
        "events_seen": Query(
            "SELECT coalesce(max(id), 0) AS seen FROM events", pa.schema([("seen", _I)])
        ),
        "suppressions": Query(
            "SELECT DISTINCT kind, value FROM suppressions WHERE added_at <= :dend "
            "AND (partner_id IS NULL OR partner_id = :partner)",
            pa.schema([("kind", _S), ("value", _S)]),
            {"dend": p.dend, "partner": p.partner},
        ),
    }
    if any(ch in NUMBER_CHANNELS for ch in plan.order.channels):
        queries["bloctel"] = Query(
            "SELECT r.phone_e164, r.listed, s.screened_at, s.id FROM bloctel_results r "
            "JOIN bloctel_screenings s ON s.id = r.screening_id "
            "WHERE s.screened_at >= :bloctel_from AND s.screened_at <= :dend",
            pa.schema([("phone_e164", _S), ("listed", _I), ("screened_at", _I), ("id", _I)]),
            {"bloctel_from": p.bloctel_from, "dend": p.dend},
        )
    return queries


def base_contacts_sql(
    plan: Plan, every: str, only: str | None = None
) -> tuple[str, dict[str, Any]]:
    """DuckDB's query of the contacts extract (as ``extracts`` reads it from the registry)
    out of the relation ``every`` (the whole table) and the table ``clusters``: the same
    condition and columns; ``only``, a relation of ``contact_id``s to keep. Its
    parameters are written ``$name``."""
    base, params = _base_where(plan)
    if only is not None:
        base += f" AND c.contact_id IN (SELECT contact_id FROM {only})"
    fields = ", ".join(f"c.{name}" for name, _ in _contact_fields(plan.order.channels))
    sql = (
        f"SELECT c.cid, {fields}, k.cluster_id FROM {every} c "
        f"LEFT JOIN clusters k ON k.contact_id = c.contact_id WHERE {base}"
    )
    return PARAM.sub(r"$\1", sql), {"dend": plan.params.dend, **params}


__all__ = [
    "POSTAL_FIELDS",
    "base_contacts_sql",
    "contacts_copy_query",
    "extracts",
]
