"""What the owner API does for the owner's systems (a CRM), below the web layer: one
contact's decision explained as ``listguard check`` explains it, an order previewed
then delivered under the hash of what was previewed, and the deliveries read back.

Each action that reads a person or a delivery's content, or makes a delivery, is
appended to the audit log under the key that asked (``key:<prefix>``); a person is
named there by keyed digest, as everywhere in the log. Listing the deliveries and
reading one's counts are not: they name no person.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from listguard import audit, reads
from listguard.config import Settings
from listguard.errors import InputError
from listguard.identifiers import person_subject
from listguard.processing.clusters import stale_clusters
from listguard.renting import preview as previewing
from listguard.renting.check_order import CheckOptions
from listguard.renting.delivery_files import kept_file, kept_files
from listguard.renting.order import MAX_ORDER_BYTES, Order, backdated, parse_order
from listguard.renting.order_hash import order_hash
from listguard.rules.check import explanation
from listguard.storage.engine import writing
from listguard.timeutil import to_iso


def by_key(prefix: str) -> str:
    """Who an owner API action is by, in the audit log."""
    return f"key:{prefix}"


# --- one decision explained ---------------------------------------------------------


def explain(
    engine: Engine, settings: Settings, contact_id: str, options: CheckOptions, *, by: str
) -> dict[str, Any]:
    """``listguard check``'s explanation as data, with its text (``text``): the same
    decision, the same reasons and sources."""
    facts = explanation(engine, settings, contact_id, options).facts
    with writing(engine) as conn:
        audit.append(
            conn,
            "decision_explained",
            person_subject(conn, contact_id=contact_id),
            {"by": by, "partner": facts["partner"], "channel": facts["channel"]},
        )
    return facts


# --- an order: from JSON or TOML, previewed, delivered ------------------------------


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes, control characters and lone
    surrogates escaped (a lone surrogate is then refused by the TOML reader)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, key) for v in value) + "]"
    raise InputError(f"{key}: a value of this kind has no place in an order", where="order")


def order_text(order: dict[str, Any]) -> str:
    """The TOML text of an order given as JSON (keys as in an order file; ``null``
    means left out): the text a delivery records and the hash covers."""
    lines: list[str] = []
    tables: list[str] = []
    for key, value in order.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append(f"\n[{_toml_string(key)}]")
            tables.extend(
                f"{_toml_string(k)} = {_toml_value(v, f'{key}.{k}')}"
                for k, v in value.items()
                if v is not None
            )
        else:
            lines.append(f"{_toml_string(key)} = {_toml_value(value, key)}")
    return "\n".join(lines + tables) + "\n"


def _parsed(text: str) -> Order:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ORDER_BYTES:
        raise InputError(f"an order is a few lines; this one is over {MAX_ORDER_BYTES:,} bytes")
    return parse_order(text, where="order")


def _warnings(engine: Engine, order: Order) -> list[str]:
    return [str(note) for note in (backdated(order), stale_clusters(engine)) if note]


def preview_order(engine: Engine, settings: Settings, text: str, *, by: str) -> dict[str, Any]:
    """What delivering the order would deliver, per channel and reason, computed as
    renting does and nothing recorded, with the order's hash (``order_hash``) that
    ``deliver_order`` asks for. One rental at a time (``turn.Busy`` otherwise)."""
    _parsed(text)
    shown = previewing.preview_order(engine, text, settings)
    with writing(engine) as conn:
        audit.append(
            conn, "rental_previewed", shown.order.partner, {"by": by, "order_hash": shown.digest}
        )
    return {
        "order_hash": shown.digest,
        "partner": shown.order.partner,
        "as_of": shown.order.as_of.isoformat(),
        **shown.counts,
        "warnings": [str(note) for note in shown.warnings],
    }


@dataclass(frozen=True)
class Delivered:
    delivery_id: int
    order_hash: str
    partner: str
    as_of: str
    packs: list[str]
    contacts_delivered: int
    channels: dict[str, dict[str, Any]]
    files: list[str]
    warnings: list[str]


def deliver_order(
    engine: Engine, settings: Settings, text: str, expected_hash: str, *, by: str
) -> dict[str, Any]:
    """Deliver the order into a new folder of ``[web] deliveries_dir``, only if its hash
    is ``expected_hash`` (the preview's): ``order_hash.OrderChanged`` otherwise, nothing done.
    One rental at a time (``turn.Busy`` otherwise)."""
    order = _parsed(text)
    report = previewing.deliver_previewed(engine, text, expected_hash, settings)
    digest = expected_hash.strip().lower()
    with writing(engine) as conn:
        audit.append(
            conn,
            "rental_delivered",
            order.partner,
            {"by": by, "order_hash": digest, "delivery": report.delivery_id},
        )
    manifest = json.loads((report.out / "manifest.json").read_text(encoding="utf-8"))
    return asdict(
        Delivered(
            delivery_id=report.delivery_id,
            order_hash=digest,
            partner=order.partner,
            as_of=order.as_of.isoformat(),
            packs=list(report.packs),
            contacts_delivered=report.contacts_delivered,
            channels=manifest.get("counts", {}),
            files=kept_files(report.out),
            warnings=_warnings(engine, order),
        )
    )


# --- deliveries read back -----------------------------------------------------------


def _summary(d: reads.Delivery) -> dict[str, Any]:
    return {
        "delivery_id": d.id,
        "kind": d.kind,
        "partner": d.partner_id,
        "partner_name": d.name,
        "delivered_at": to_iso(d.created_at),
        "as_of": d.as_of,
        "channels": d.channels.split("|"),
        "packs": d.packs.split("|") if d.packs else [],
        "contacts_delivered": d.contacts_delivered,
        "files": kept_files(d.out_dir),
    }


def list_deliveries(
    engine: Engine, *, partner: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The deliveries (rentals and enrichments), newest first."""
    return [_summary(d) for d in reads.deliveries(engine, partner_id=partner, limit=limit)]


def one_delivery(engine: Engine, delivery_id: int) -> dict[str, Any] | None:
    """One delivery with its order (text and hash), counts and manifest; None if none."""
    rows = reads.deliveries(engine, delivery_id=delivery_id)
    if not rows:
        return None
    d = rows[0]
    path = kept_file(d.out_dir, "manifest.json")
    manifest = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
    try:
        digest: str | None = order_hash(d.order_text, dt.date.fromisoformat(d.as_of))
    except (InputError, ValueError):  # an enrichment's recorded request need not be an order
        digest = None
    return {
        **_summary(d),
        "order": d.order_text,
        "order_hash": digest,
        "partner_list_version": d.partner_list_version,
        "counts": (manifest or {}).get("counts", {}),
        "manifest": manifest,
    }


def delivery_file(engine: Engine, delivery_id: int, name: str, *, by: str) -> Path | None:
    """The file ``name`` of a delivery, audited as read; None when the delivery does
    not exist. ``FileNotFoundError`` when it exists but no longer keeps the file."""
    rows = reads.deliveries(engine, delivery_id=delivery_id)
    if not rows:
        return None
    path = kept_file(rows[0].out_dir, name)
    if path is None:
        raise FileNotFoundError(name)
    with writing(engine) as conn:
        audit.append(
            conn,
            "delivery_file_read",
            rows[0].partner_id,
            {"by": by, "delivery": delivery_id, "file": name},
        )
    return path


__all__ = [
    "Delivered",
    "by_key",
    "deliver_order",
    "delivery_file",
    "explain",
    "list_deliveries",
    "one_delivery",
    "order_text",
    "preview_order",
]
