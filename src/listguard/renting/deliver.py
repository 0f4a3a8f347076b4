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
from listguard.db.engine import check_initialised
from listguard.errors import InputError
from listguard.io.tabular import file_sha256
from listguard.renting.notice import notice_text
from listguard.renting.order import Order
from listguard.renting.partner_list import partner_list_version
from listguard.rules.engine import ELIGIBLE, FLAG, Plan, make_plan, run_pipeline
from listguard.rules.reasons import CODES
from listguard.timeutil import now_ts, to_iso

POSTAL_FIELDS = (
    "civility",
    "first_name",
    "last_name",
    "company",
    *schema.ADDRESS_COLUMNS,
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


def _write_rows(
    conn: Connection, sql: str, params: dict[str, Any], path: Path, header: list[str], sep: str
) -> int:
    """Stream the rows of ``sql`` (text columns) to a CSV, UTF-8 with BOM, chunk by chunk."""
    return _stream_csv(conn, sql, params, path, header, sep, lambda frame: frame)


def _stream_csv(
    conn: Connection,
    sql: str,
    params: dict[str, Any],
    path: Path,
    columns: list[str],
    sep: str,
    shape: Callable[[pl.DataFrame], pl.DataFrame],
    schema_: dict[str, Any] | None = None,
) -> int:
    result = conn.execute(text(sql), params)
    cursor = result.cursor  # plain tuples: no per-row objects of the ORM layer
    schema_ = schema_ or dict.fromkeys(columns, pl.String)
    rows = 0
    with path.open("wb") as f:
        f.write("\ufeff".encode())
        first = True
        while True:
            chunk = cursor.fetchmany(FETCH)
            frame = shape(pl.DataFrame(chunk, schema=schema_, orient="row"))
            if first or frame.height:
                frame.write_csv(f, separator=sep, include_header=first, line_terminator="\r\n")
            rows += frame.height
            first = False
            if not chunk:
                break
    result.close()
    return rows


@dataclass
class DecisionCounts:
    """Per channel: how many rows carry each reason, and how many are eligible."""

    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, channel: str, mask: int, n: int) -> None:
        self.rows[channel] = self.rows.get(channel, 0) + n
        if mask == 0:
            self.eligible[channel] = self.eligible.get(channel, 0) + n
        per = self.excluded.setdefault(channel, {})
        for i, code in enumerate(CODES):
            if mask >> i & 1:
                per[code] = per.get(code, 0) + n


def _write_decisions(conn: Connection, path: Path, sep: str) -> tuple[int, DecisionCounts]:
    """``decisions.csv``; the reasons of a row travel as one bit mask, spelled out here,
    and counted on the way."""
    mask = " + ".join(f"{FLAG[c]} * {1 << i}" for i, c in enumerate(CODES))
    spelled: dict[int, str] = {}
    counts = DecisionCounts()

    def shape(frame: pl.DataFrame) -> pl.DataFrame:
        for channel, m, n in frame.group_by("channel", "mask").len().iter_rows():
            counts.add(channel, m, n)
            if m not in spelled:
                spelled[m] = "|".join(c for i, c in enumerate(CODES) if m >> i & 1)
        return frame.select(
            "contact_id",
            "channel",
            "coordinate",
            pl.when(pl.col("mask") == 0)
            .then(pl.lit("eligible"))
            .otherwise(pl.lit("excluded"))
            .alias("decision"),
            pl.col("mask").replace_strict(spelled, return_dtype=pl.String).alias("reasons"),
        )

    rows = _stream_csv(
        conn,
        f"SELECT contact_id, channel, coordinate, {mask} FROM lg_decision ORDER BY rid",
        {},
        path,
        ["contact_id", "channel", "coordinate", "mask"],
        sep,
        shape,
        {"contact_id": pl.String, "channel": pl.String, "coordinate": pl.String, "mask": pl.Int64},
    )
    return rows, counts


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
            report = _deliver(conn, plan, tmp, out, settings, sep, step)
            if out.exists():  # an empty folder made beforehand
                _move_into(tmp, out)
            else:
                tmp.rename(out)
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
    out: Path,
    settings: Settings,
    sep: str,
    step: Callable[[str], None],
) -> DeliveryReport:
    order = plan.order
    dend = plan.params["dend"]
    decisions_rows, tally = _write_decisions(conn, tmp / "decisions.csv", sep)
    counts, eligible = tally.excluded, tally.eligible
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
            out_dir=str(out.resolve()),
            contacts_delivered=0,
        )
        .returning(schema.deliveries.c.id)
    ).scalar_one()
    step("recording the ledger")
    # contact_ref: the rank of each delivered contact in a random permutation of this
    # delivery (a secret affine map modulo a prime), so it reveals nothing of the owner's id
    modulus = 2_147_483_647
    conn.execute(text("DROP TABLE IF EXISTS lg_elig"))
    conn.execute(
        text(
            "CREATE TEMP TABLE lg_elig AS SELECT cid, contact_id, channel, coordinate "
            f"FROM lg_decision WHERE {ELIGIBLE}"
        )
    )
    conn.execute(text("CREATE INDEX lg_elig_cid ON lg_elig (cid)"))
    conn.execute(text("DROP TABLE IF EXISTS lg_refs"))
    conn.execute(
        text("CREATE TEMP TABLE lg_refs (cid INTEGER PRIMARY KEY, n BIGINT, contact_ref TEXT)")
    )
    conn.execute(
        text(
            "INSERT INTO lg_refs (cid, n, contact_ref) SELECT cid, rn, :prefix || CAST(rn AS TEXT) "
            "FROM (SELECT cid, ROW_NUMBER() OVER ("
            "ORDER BY (CAST(cid AS BIGINT) * :mul + :add) % :mod, cid) AS rn "
            "FROM (SELECT DISTINCT cid FROM lg_elig) e) x"
        ),
        {
            "prefix": f"D{delivery_id}-",
            "mul": secrets.randbelow(modulus - 2) + 2,
            "add": secrets.randbelow(modulus),
            "mod": modulus,
        },
    )
    n = int(conn.execute(text("SELECT COUNT(*) FROM lg_refs")).scalar_one())
    conn.execute(
        text(
            "INSERT INTO ledger (delivery_id, contact_id, channel, coordinate, contact_ref) "
            "SELECT :did, d.contact_id, d.channel, d.coordinate, r.contact_ref "
            "FROM lg_elig d JOIN lg_refs r ON r.cid = d.cid"
        ),
        {"did": delivery_id},
    )
    step("writing the partner's file")
    header, fields, source = _contacts_query(conn, order)
    _write_rows(
        conn,
        f"SELECT {', '.join(fields)} {source}",
        {"source": settings.owner.name},
        tmp / "contacts.csv",
        header,
        sep,
    )
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
                "coordinates": tally.rows.get(ch, 0),
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
    body = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (tmp / "manifest.json").write_text(body, encoding="utf-8")
    conn.execute(
        update(schema.deliveries)
        .where(schema.deliveries.c.id == delivery_id)
        .values(contacts_delivered=n, manifest_sha256=_sha_text(body))
    )
    return DeliveryReport(
        delivery_id=delivery_id,
        out=out,
        packs=plan.applied.ids,
        contacts_delivered=n,
        counts=counts,
        eligible=eligible,
        rows=decisions_rows,
    )


def _contacts_query(conn: Connection, order: Order) -> tuple[list[str], list[str], str]:
    """(header, field expressions, FROM ...) of the partner's ``contacts.csv``."""
    header = ["contact_ref"]
    fields = ["r.contact_ref"]
    joins = []
    for ch in order.channels:
        alias = f"e_{ch}"
        joins.append(
            f"LEFT JOIN (SELECT cid, {_agg(conn, 'coordinate')} AS coords FROM lg_elig "
            f"WHERE channel = '{ch}' GROUP BY cid) {alias} "
            f"ON {alias}.cid = r.cid"
        )
        if ch == "postal":
            header += list(POSTAL_FIELDS)
            fields += [f"CASE WHEN {alias}.cid IS NOT NULL THEN c.{f} END" for f in POSTAL_FIELDS]
        else:
            header.append(ch)
            fields.append(f"{alias}.coords")
    header.append("source")
    fields.append("CAST(:source AS TEXT)")
    source = "FROM lg_refs r JOIN contacts c ON c.id = r.cid " + " ".join(joins) + " ORDER BY r.n"
    return header, fields, source


def _sha_text(body: str) -> str:
    import hashlib

    return hashlib.sha256(body.encode("utf-8")).hexdigest()


__all__ = ["DeliveryReport", "rent"]
