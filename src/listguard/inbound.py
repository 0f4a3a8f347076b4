"""The partner side: a registry that rents from an owner running listguard receives the
owner's messages (oppositions, erasures, rectifications), applies them, and tells the
owner they are applied.

A *source* is an owner whose signed webhooks this registry accepts: its name, the
signing key the owner gave (``GET /api/v1/partner/endpoint`` on the owner's side) and
the suppression list its oppositions go to. ``receive`` checks the signature (HMAC-
SHA256 over timestamp and body, within the replay window), records the message once
(its idempotency key) and applies it in the same transaction:

- an opposition puts each coordinate on the source's suppression list, so that none is
  used again (every later rental of this registry excludes them);
- an erasure erases the person here too, in the transaction that records the message
  (their records, keeping keyed digests only, so that they are not imported again;
  their numbers leave the deliveries received and the call log, so that ``listguard
  calls check`` no longer allows a call; the rectifications received earlier lose
  what they held of them); nothing of them goes on a list;
- a rectification is recorded with its corrected values (``inbound_messages.body``),
  for the partner to apply to its own records.

Then ``acknowledge_pending`` posts to the acknowledgement link each message carries;
one that cannot be told now is told later (``listguard inbound ack``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from listguard import audit
from listguard.calls.log import forget
from listguard.domain.retention import DEFAULT_RETENTION, Retention
from listguard.erasure import after_erasure
from listguard.errors import InputError
from listguard.oppositions import person_keys
from listguard.owners import check_source
from listguard.propagation.signing import verify_signature
from listguard.rights import erase_in
from listguard.storage.engine import writing
from listguard.timeutil import now_ts

TYPES = ("opposition", "erasure", "rectification")
KIND_OF = {
    "email": "email",
    "phone": "phone",
    "automated_call": "phone",
    "sms": "phone",
    "postal": "address",
}
MAX_ITEMS = 100_000


class Refused(Exception):
    """A message refused: ``status`` is the HTTP answer, ``reason`` a short code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Received:
    key: str
    type: str
    applied: int  # coordinates put on the list (or persons erased)
    repeat: bool  # already received: nothing applied again


def add_source(engine: Engine, source: str, secret: str, list_name: str | None = None) -> str:
    """Accept the messages of ``source`` signed with ``secret``; returns the list name.
    Adding it again replaces its key (the owner made a new one)."""
    check_source(source)
    if len(secret) < 16 or len(secret) > 128:
        raise InputError("the signing key is 16 to 128 characters (the owner's, as given)")
    chosen = list_name or f"opposition:{source}"
    with writing(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO inbound_sources (source, secret, list, created_at) "
                "VALUES (:s, :k, :l, :t) ON CONFLICT (source) DO UPDATE "
                "SET secret = excluded.secret, list = excluded.list"
            ),
            {"s": source, "k": secret, "l": chosen, "t": now_ts()},
        )
        audit.append(conn, "inbound_source", source, {"list": chosen})
    return chosen


def _address_keys(displays: list[str]) -> list[str]:
    """The key of each address as the owner wrote it (upper case, no accents or
    punctuation), compared with this registry's address keys: keyed as they are."""
    if not displays:
        return []
    import polars as pl

    from listguard.normalise.text import text_keys

    return [str(k) for k in text_keys(pl.Series(displays, dtype=pl.String)).to_list()]


def _parse(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed_body", "the body is not JSON") from None
    if not isinstance(message, dict):
        raise Refused(400, "malformed_body", "the body is not a JSON object")
    key, kind, contacts = message.get("message_id"), message.get("type"), message.get("contacts")
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        raise Refused(400, "malformed_body", "message_id: a text of 1 to 64 characters")
    if kind not in TYPES:
        raise Refused(400, "malformed_body", f"type: one of {', '.join(TYPES)}")
    if not isinstance(contacts, list) or len(contacts) > MAX_ITEMS:
        raise Refused(400, "malformed_body", "contacts: a list")
    for i, item in enumerate(contacts):
        if (
            not isinstance(item, dict)
            or item.get("channel") not in KIND_OF
            or not isinstance(item.get("coordinate"), str)
            or not isinstance(item.get("contact_ref", ""), str)
        ):
            raise Refused(
                400, "malformed_body", f"contacts[{i}]: contact_ref, channel and coordinate"
            )
    ack = message.get("ack_url")
    if ack is not None and not (isinstance(ack, str) and ack.startswith(("https://", "http://"))):
        raise Refused(400, "malformed_body", "ack_url: an http(s) address")
    return message


def receive(
    engine: Engine,
    source: str,
    body: bytes,
    signature: str,
    now: int | None = None,
    retention: Retention = DEFAULT_RETENTION,
) -> Received:
    """Check, record and apply one message; raises ``Refused`` (and changes nothing)
    for an unknown source, a bad or stale signature or a malformed body. An erasure is
    forwarded to the partners of the deliveries of ``retention`` (the settings')."""
    clock = now if now is not None else now_ts()
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT secret, list FROM inbound_sources WHERE source = :s"), {"s": source}
        ).first()
    if row is None:
        raise Refused(404, "unknown_source", "no such source")
    if not verify_signature(str(row.secret), signature, body, clock):
        raise Refused(401, "bad_signature", "bad or expired signature")
    message = _parse(body)
    key, kind, items = message["message_id"], message["type"], message["contacts"]
    erased: list[dict[str, str | None]] = []
    with writing(engine) as conn:
        seen = conn.execute(
            text("SELECT 1 FROM inbound_messages WHERE source = :s AND message_key = :k"),
            {"s": source, "k": key},
        ).first()
        if seen is not None:
            return Received(key, kind, 0, repeat=True)
        applied = 0
        if kind == "opposition":
            given = [i for i in items if i["coordinate"] and i["coordinate"] != "erased"]
            keys = iter(_address_keys([i["coordinate"] for i in given if i["channel"] == "postal"]))
            entries = [
                {
                    "l": row.list,
                    "k": KIND_OF[i["channel"]],
                    "v": next(keys) if i["channel"] == "postal" else i["coordinate"],
                    "t": clock,
                }
                for i in given
            ]
            if entries:
                applied = conn.execute(
                    text(
                        "INSERT INTO suppressions (list, kind, value, added_at) "
                        "VALUES (:l, :k, :v, :t) ON CONFLICT (list, kind, value) DO NOTHING"
                    ),
                    entries,
                ).rowcount
        elif kind == "erasure":
            erased = _erasures(conn, items)
            forget(conn, [i["coordinate"] for i in items if KIND_OF[i["channel"]] == "phone"])
            # in the transaction that records the message: a message recorded is one
            # applied, and one that failed is applied when the owner sends it again
            for person in erased:
                _erase(conn, source, person, retention)
            _redact(conn, source, items)
        kept = body.decode("utf-8") if kind == "rectification" else None
        _record(conn, source, key, kind, len(items), clock, message.get("ack_url"), kept)
    if erased:
        after_erasure(engine)
    return Received(key, kind, applied if kind != "erasure" else len(erased), repeat=False)


def _erasures(conn: Connection, items: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    """The persons an erasure names here: by the owner's reference (the contact id this
    registry gave the delivered row, if it imported the delivery as is), email, number."""
    people: list[dict[str, str | None]] = []
    for item in items:
        if item["coordinate"] in ("", "erased"):
            continue
        kind = KIND_OF[item["channel"]]
        if kind not in ("email", "phone"):
            continue
        person = {kind: item["coordinate"]}
        try:  # a coordinate that is no email or number cannot name anyone here
            person_keys(None, person.get("email"), person.get("phone"))
        except InputError:
            continue
        people.append(person)
    refs = sorted({i["contact_ref"] for i in items if i.get("contact_ref")})
    if refs:
        known = conn.execute(
            text("SELECT contact_id FROM contacts WHERE contact_id IN :r").bindparams(
                bindparam("r", expanding=True)
            ),
            {"r": refs},
        ).scalars()
        people += [{"contact_id": str(c)} for c in known]
    unique = {json.dumps(p, sort_keys=True): p for p in people}
    return list(unique.values())


def _redact(conn: Connection, source: str, items: list[dict[str, Any]]) -> None:
    """An erasure received: the rectifications ``source`` sent earlier lose their items
    naming the person (by the owner's reference, the coordinate or a corrected value),
    old and corrected values alike; a body left without any item is emptied."""
    refs = {i["contact_ref"] for i in items if i.get("contact_ref")}
    coordinates = {i["coordinate"].casefold() for i in items} - {"", "erased"}
    if not refs and not coordinates:
        return

    def names_them(item: Any) -> bool:
        if not isinstance(item, dict):
            return False
        corrected = item.get("corrected")
        values = [
            item.get("coordinate"),
            *(corrected.values() if isinstance(corrected, dict) else ()),
        ]
        return item.get("contact_ref") in refs or any(
            isinstance(v, str) and v.casefold() in coordinates for v in values
        )

    rows = conn.execute(
        text(
            "SELECT message_key, body FROM inbound_messages WHERE source = :s AND body IS NOT NULL"
        ),
        {"s": source},
    ).all()
    for row in rows:
        message = json.loads(row.body)
        contacts = message.get("contacts") or []
        kept = [i for i in contacts if not names_them(i)]
        if len(kept) == len(contacts):
            continue
        message["contacts"] = kept
        conn.execute(
            text("UPDATE inbound_messages SET body = :b WHERE source = :s AND message_key = :k"),
            {
                "b": json.dumps(message, ensure_ascii=False) if kept else None,
                "s": source,
                "k": row.message_key,
            },
        )


def _erase(
    conn: Connection, source: str, person: dict[str, str | None], retention: Retention
) -> None:
    erase_in(
        conn,
        contact_id=person.get("contact_id"),
        email=person.get("email"),
        phone=person.get("phone"),
        via=f"source:{source}",
        retention=retention,
    )


def _record(
    conn: Connection,
    source: str,
    key: str,
    kind: str,
    coordinates: int,
    now: int,
    ack_url: str | None,
    body: str | None,
) -> None:
    conn.execute(
        text(
            "INSERT INTO inbound_messages (source, message_key, type, coordinates, "
            "received_at, ack_url, body) VALUES (:s, :k, :t, :c, :now, :a, :b)"
        ),
        {"s": source, "k": key, "t": kind, "c": coordinates, "now": now, "a": ack_url, "b": body},
    )
    audit.append(conn, "inbound_message", source, {"message": key, "type": kind}, now)


@dataclass
class AckReport:
    acknowledged: int = 0
    failed: int = 0
    errors: list[str] | None = None


def acknowledge_pending(
    engine: Engine, source: str | None = None, key: str | None = None, timeout: float = 10.0
) -> AckReport:
    """Post to the acknowledgement link of every message received and applied but not
    acknowledged yet (or only ``source``'s message ``key``). The link comes from the
    owner's message: it is posted to only where a webhook could be (``netguard``)."""
    import httpx

    from listguard import netguard

    where = "acked_at IS NULL AND ack_url IS NOT NULL"
    if source is not None:
        where += " AND source = :s"
    if key is not None:
        where += " AND message_key = :k"
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT source, message_key, ack_url FROM inbound_messages WHERE {where} "
                "ORDER BY received_at"
            ),
            {"s": source, "k": key},
        ).all()
    report = AckReport(errors=[])
    assert report.errors is not None
    with netguard.client(timeout) as client:
        for r in rows:
            error = None
            try:
                netguard.check_endpoint_url(r.ack_url)
                try:
                    request = client.build_request(
                        "POST", r.ack_url, headers={"Accept": "application/json"}
                    )
                except Exception:  # httpx.InvalidURL: never stops the others
                    raise InputError("not an acceptable webhook address") from None
                response = netguard.post_status(client, request, timeout)
                if not response.is_success:
                    error = f"HTTP {response.status_code}"
            except (InputError, netguard.NotPublic) as exc:
                error = f"refused: {exc}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            with writing(engine) as conn:
                conn.execute(
                    text(
                        "UPDATE inbound_messages SET acked_at = :at, ack_error = :e "
                        "WHERE source = :s AND message_key = :k"
                    ),
                    {
                        "at": None if error else now_ts(),
                        "e": error,
                        "s": r.source,
                        "k": r.message_key,
                    },
                )
            if error:
                report.failed += 1
                report.errors.append(f"{r.source} {r.message_key}: {error}")
            else:
                report.acknowledged += 1
    return report


__all__ = ["Received", "Refused", "acknowledge_pending", "add_source", "receive"]
