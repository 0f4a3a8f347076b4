"""Renting: decide an order, write the delivery folder, record the ledger.

The delivery folder (``shared/spec/formats.md``) is written to a temporary
folder beside ``out`` and moved in place at the end, inside the transaction
that records the delivery and its ledger: either everything exists, or nothing
does. The base itself is only read.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, text, update

from listguard import __version__
from listguard.config import Settings
from listguard.db import schema
from listguard.db.bulk import insert_rows
from listguard.db.engine import check_initialised
from listguard.errors import InputError
from listguard.io.tabular import file_sha256
from listguard.renting.notice import notice_text
from listguard.renting.order import Order
from listguard.renting.partner_list import partner_list_version
from listguard.rules.engine import FLAG, Plan, make_plan, reasons_sql, run_pipeline
from listguard.rules.reasons import CODES
from listguard.timeutil import now_ts, to_iso

POSTAL_FIELDS = (
    "civility",
    "first_name",
    "last_name",
    "company",
    "address_line2",
    "address_line3",
    "address_line4",
    "address_line5",
    "postal_code",
    "city",
    "country",
)
FETCH = 100_000


@dataclass
class DeliveryReport:
    delivery_id: int
    out: Path
    packs: tuple[str, ...]
    contacts_delivered: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> reason -> n
    eligible: dict[str, int] = field(default_factory=dict)  # channel -> eligible coordinates
    rows: int = 0


def _agg(conn: Connection, expr: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"string_agg({expr}, '|')"
    return f"group_concat({expr}, '|')"


def _write_query_csv(
    conn: Connection, sql: str, params: dict[str, Any], path: Path, header: list[str], sep: str
) -> int:
    """Stream the rows of ``sql`` to a CSV (UTF-8 with BOM) through Polars, chunk by chunk."""
    rows = 0
    result = conn.execute(text(sql), params)
    schema_ = dict.fromkeys(header, pl.String)
    with path.open("wb") as f:
        f.write("\ufeff".encode())
        first = True
        while True:
            chunk = result.fetchmany(FETCH)
            if not chunk and not first:
                break
            frame = pl.DataFrame([tuple(r) for r in chunk], schema=schema_, orient="row")
            frame.write_csv(f, separator=sep, include_header=first, line_terminator="\r\n")
            rows += frame.height
            first = False
            if not chunk:
                break
    return rows


def _decision_counts(conn: Connection) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Per channel: how many rows carry each reason, and how many are eligible."""
    sums = ", ".join(f"SUM({FLAG[c]})" for c in CODES)
    counts: dict[str, dict[str, int]] = {}
    eligible: dict[str, int] = {}
    for row in conn.execute(
        text(f"SELECT channel, SUM(eligible), {sums} FROM lg_decision GROUP BY channel")
    ):
        eligible[row[0]] = int(row[1] or 0)
        counts[row[0]] = {c: int(n) for c, n in zip(CODES, row[2:], strict=True) if n}
    return counts, eligible


def _prepare_out(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            "the delivery folder already exists and is not empty: choose a new folder "
            "(a delivery is never overwritten)",
            where=str(out),
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{secrets.token_hex(4)}")
    tmp.mkdir()
    return tmp


def rent(
    engine: Engine,
    order: Order,
    out: Path,
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
) -> DeliveryReport:
    """Decide ``order``, write the delivery folder at ``out`` and record the delivery."""
    check_initialised(engine)
    if order.seeds:
        raise InputError(
            "seeds: planting control addresses is not available yet; set seeds = 0",
            where="order",
        )
    step = progress or (lambda _msg: None)
    sep = settings.output.csv_delimiter
    tmp = _prepare_out(out)
    try:
        with engine.begin() as conn:
            step("deciding")
            plan = make_plan(conn, order, settings.rules)
            run_pipeline(conn, plan)
            step("writing decisions")
            report = _deliver(conn, plan, tmp, settings, sep, step)
            tmp.rename(out) if not out.exists() else _move_into(tmp, out)
            report.out = out
        return report
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _move_into(tmp: Path, out: Path) -> None:
    for item in tmp.iterdir():
        item.rename(out / item.name)
    tmp.rmdir()


def _deliver(
    conn: Connection,
    plan: Plan,
    tmp: Path,
    settings: Settings,
    sep: str,
    step: Callable[[str], None],
) -> DeliveryReport:
    order = plan.order
    dend = plan.params["dend"]
    reasons = reasons_sql()
    decisions_rows = _write_query_csv(
        conn,
        "SELECT contact_id, channel, coordinate, "
        "CASE WHEN eligible = 1 THEN 'eligible' ELSE 'excluded' END, "
        f"{reasons} FROM lg_decision",
        {},
        tmp / "decisions.csv",
        ["contact_id", "channel", "coordinate", "decision", "reasons"],
        sep,
    )
    counts, eligible = _decision_counts(conn)
    version, version_start = partner_list_version(conn, dend)
    created = now_ts()
    delivery_id = conn.execute(
        insert(schema.deliveries)
        .values(
            partner_id=order.partner,
            order_text=order.text,
            order_sha256=_sha_text(order.text),
            as_of=order.as_of.isoformat(),
            channels="|".join(order.channels),
            packs="|".join(plan.applied.ids),
            partner_list_version=version,
            created_at=created,
            out_dir=str(tmp.parent / tmp.name),
            contacts_delivered=0,
        )
        .returning(schema.deliveries.c.id)
    ).scalar_one()
    step("recording the ledger")
    ids = pl.DataFrame(
        conn.execute(text("SELECT DISTINCT cid FROM lg_decision WHERE eligible = 1")).all(),
        schema={"cid": pl.Int64},
        orient="row",
    )
    n = ids.height
    refs = ids.with_columns(
        (
            pl.lit(f"D{delivery_id}-")
            + pl.int_range(1, n + 1, dtype=pl.Int64)
            .shuffle(seed=secrets.randbits(32))
            .cast(pl.String)
            .str.zfill(max(len(str(n)), 6))
        ).alias("contact_ref")
    )
    conn.execute(text("DROP TABLE IF EXISTS lg_refs"))
    conn.execute(text("CREATE TEMP TABLE lg_refs (cid BIGINT PRIMARY KEY, contact_ref TEXT)"))
    insert_rows(conn, "lg_refs", refs)
    conn.execute(
        text(
            "INSERT INTO ledger (delivery_id, contact_id, channel, coordinate, contact_ref) "
            "SELECT :did, d.contact_id, d.channel, d.coordinate, r.contact_ref "
            "FROM lg_decision d JOIN lg_refs r ON r.cid = d.cid "
            "WHERE d.eligible = 1"
        ),
        {"did": delivery_id},
    )
    step("writing the partner's file")
    header, sql = _contacts_sql(conn, order)
    _write_query_csv(conn, sql, {"source": settings.owner.name}, tmp / "contacts.csv", header, sep)
    (tmp / "notice.txt").write_text(
        notice_text(settings.owner, plan.partner, order), encoding="utf-8"
    )
    screenings = [
        to_iso(int(r[0]))[:10]
        for r in conn.execute(
            text(
                "SELECT DISTINCT screened_at FROM bloctel_screenings "
                "WHERE screened_at >= :f AND screened_at <= :t ORDER BY screened_at"
            ),
            {"f": plan.params["bloctel_from"], "t": dend},
        )
        if any(ch in ("phone", "automated_call") for ch in order.channels)
    ]
    manifest: dict[str, Any] = {
        "format_version": 1,
        "software": {"name": "listguard", "version": __version__},
        "delivery_id": delivery_id,
        "created_at": to_iso(created),
        "owner": settings.owner.name,
        "partner": {
            "partner_id": plan.partner.partner_id,
            "name": plan.partner.name,
            "category": plan.partner.category,
        },
        "order": {
            "channels": list(order.channels),
            "purpose": order.purpose,
            "call_purpose": order.call_purpose,
            "campaign_start": order.campaign_start.isoformat(),
            "campaign_end": order.campaign_end.isoformat(),
            "as_of": order.as_of.isoformat(),
            "limit": order.limit,
            "segment": {
                "postal_code_prefix": list(order.segment.postal_code_prefix),
                "audience": order.segment.audience,
            },
            "sha256": _sha_text(order.text),
        },
        "rule_packs": [
            {"id": p.id, "in_force_from": p.start.isoformat(), "sources": list(p.sources)}
            for p in plan.applied.packs
        ],
        "rules": {
            "retention_years": settings.rules.retention_years,
            "bloctel_validity_days": settings.rules.bloctel_validity_days,
            "phone_consent_max_age_days": settings.rules.phone_consent_max_age_days,
            "bloctel_screening": "required" if plan.applied.bloctel_required else "optional",
            "regimes": {
                ch: {a: plan.applied.regime(ch, a) for a in ("b2c", "b2b")} for ch in order.channels
            },
        },
        "partner_list_version": {
            "version": version,
            "since": to_iso(version_start)[:10] if version_start else None,
        },
        "bloctel_screening_dates": screenings,
        "counts": {
            ch: {
                "coordinates": 0,
                "eligible": eligible.get(ch, 0),
                "excluded_by_reason": {
                    c: counts.get(ch, {}).get(c, 0) for c in CODES if counts.get(ch, {}).get(c)
                },
            }
            for ch in order.channels
        },
        "contacts_delivered": n,
        "decision_rows": decisions_rows,
        "files": {
            name: file_sha256(tmp / name)
            for name in ("contacts.csv", "notice.txt", "decisions.csv")
        },
    }
    per_channel_rows: dict[str, int] = dict(
        conn.execute(text("SELECT channel, COUNT(*) FROM lg_decision GROUP BY channel")).all()
    )
    for ch in order.channels:
        manifest["counts"][ch]["coordinates"] = int(per_channel_rows.get(ch, 0))
    body = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (tmp / "manifest.json").write_text(body, encoding="utf-8")
    conn.execute(
        update(schema.deliveries)
        .where(schema.deliveries.c.id == delivery_id)
        .values(contacts_delivered=n, manifest_sha256=_sha_text(body))
    )
    return DeliveryReport(
        delivery_id=delivery_id,
        out=tmp,
        packs=plan.applied.ids,
        contacts_delivered=n,
        counts=counts,
        eligible=eligible,
        rows=decisions_rows,
    )


def _contacts_sql(conn: Connection, order: Order) -> tuple[list[str], str]:
    header = ["contact_ref"]
    select = ["r.contact_ref"]
    joins = []
    for ch in order.channels:
        alias = f"e_{ch}"
        joins.append(
            f"LEFT JOIN (SELECT cid, {_agg(conn, 'coordinate')} AS coords FROM lg_decision "
            f"WHERE eligible = 1 AND channel = '{ch}' GROUP BY cid) {alias} "
            f"ON {alias}.cid = r.cid"
        )
        if ch == "postal":
            header += list(POSTAL_FIELDS)
            select += [f"CASE WHEN {alias}.cid IS NOT NULL THEN c.{f} END" for f in POSTAL_FIELDS]
        else:
            header.append(ch)
            select.append(f"{alias}.coords")
    header.append("source")
    select.append(":source")
    sql = (
        f"SELECT {', '.join(select)} FROM lg_refs r JOIN contacts c ON c.id = r.cid "
        + " ".join(joins)
        + " ORDER BY r.contact_ref"
    )
    return header, sql


def _sha_text(body: str) -> str:
    import hashlib

    return hashlib.sha256(body.encode("utf-8")).hexdigest()


__all__ = ["DeliveryReport", "rent"]
