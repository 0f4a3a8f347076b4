"""Forwarding oppositions and erasures to the partners that hold the person's coordinates.

``enqueue`` runs in the transaction that records the events (a transactional
outbox): for every opposition or erasure not scoped to the owner alone, one
message per partner whose deliveries (within the retention period) contain a
covered coordinate on a covered channel, with the coordinates concerned under
the partner's own contact references. It is set-based: one call covers one
event or a whole imported file.

``run_once`` sends the messages that are due, one short transaction each, so
a worker stopped at any point loses nothing: a message sent but not yet marked
is sent again, and its idempotency key lets the partner ignore the repeat. A
message that fails is retried with exponential backoff and jitter, and after
``MAX_ATTEMPTS`` it is parked as ``failed``, visible, never dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import random
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select, text

from listguard import audit
from listguard.config import NotifySettings
from listguard.db import schema
from listguard.errors import InputError
from listguard.timeutil import day_start, now_ts, to_iso, years_before

PROPAGATED = ("opposition", "erasure")
MAX_ATTEMPTS = 12
BACKOFF_BASE = 30  # seconds before the first retry
BACKOFF_CAP = 6 * 3600
SIGNATURE_HEADER = "Listguard-Signature"
REPLAY_WINDOW = 300  # seconds a signature stays acceptable


def enqueue(
    conn: Connection, events_where: str, params: Mapping[str, Any], retention_years: int
) -> int:
    """Outbox messages for the events of ``events_where`` (SQL on ``events e``); returns
    how many messages were written."""
    now = now_ts()
    since = day_start(years_before(dt.datetime.fromtimestamp(now, dt.UTC).date(), retention_years))
    selected = f"e.event IN ('opposition', 'erasure') AND e.scope <> 'own' AND ({events_where})"
    # the contacts each event covers (by id, email or number), then what was delivered
    covered = "\nUNION\n".join(
        f"SELECT e.id AS event_id, c.contact_id FROM events e JOIN contacts c ON {on} "
        f"WHERE {selected}{extra}"
        for on, extra in (
            ("c.contact_id = e.contact_id", ""),
            ("c.email_norm = e.email_norm", " AND e.contact_id IS NULL"),
            ("c.phone_e164 = e.phone_e164", " AND e.contact_id IS NULL"),
            ("c.mobile_e164 = e.phone_e164", " AND e.contact_id IS NULL"),
        )
    )
    delivered = (
        "SELECT x.event_id, d.partner_id, l.delivery_id, l.contact_ref, l.channel, l.coordinate "
        "FROM {source} JOIN ledger l ON {on} JOIN deliveries d ON d.id = l.delivery_id "
        "JOIN events e ON e.id = x.event_id "
        "WHERE d.created_at >= :since AND (e.channel = 'all' OR e.channel = l.channel) "
        "AND (e.partner_id IS NULL OR e.partner_id = d.partner_id)"
    )
    items = "\nUNION\n".join(
        [
            delivered.format(source=f"({covered}) x", on="l.contact_id = x.contact_id"),
            # a coordinate delivered before the contact changed it is still covered
            delivered.format(
                source=f"(SELECT e.id AS event_id, coalesce(e.email_norm, e.phone_e164) AS v "
                f"FROM events e WHERE {selected} AND e.contact_id IS NULL) x",
                on="l.coordinate = x.v",
            ),
        ]
    )
    last = conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
    conn.execute(text("DROP TABLE IF EXISTS lg_prop"))
    conn.execute(
        text(
            "CREATE TEMP TABLE lg_prop (event_id INTEGER, partner_id TEXT, delivery_id INTEGER, "
            "contact_ref TEXT, channel TEXT, coordinate TEXT)"
        )
    )
    bound = {**params, "since": since}
    conn.execute(text(f"INSERT INTO lg_prop {items}"), bound)
    conn.execute(
        text(
            "INSERT INTO outbox (event_id, partner_id, status, attempts, created_at, "
            "next_attempt_at) SELECT DISTINCT event_id, partner_id, 'pending', 0, :now, :now "
            "FROM lg_prop WHERE 1 = 1 ON CONFLICT (event_id, partner_id) DO NOTHING"
        ),
        {"now": now},
    )
    conn.execute(
        text(
            "INSERT INTO outbox_items (message_id, delivery_id, contact_ref, channel, coordinate) "
            "SELECT o.id, p.delivery_id, p.contact_ref, p.channel, p.coordinate FROM lg_prop p "
            "JOIN outbox o ON o.event_id = p.event_id AND o.partner_id = p.partner_id "
            "WHERE o.id > :last"
        ),
        {"last": last},
    )
    conn.execute(text("DROP TABLE lg_prop"))
    written = conn.execute(
        text("SELECT count(*), min(id), max(id) FROM outbox WHERE id > :last"), {"last": last}
    ).one()
    if written[0]:
        audit.append(
            conn,
            "messages_queued",
            None,
            {"messages": int(written[0]), "first": int(written[1]), "last": int(written[2])},
            now,
        )
    return int(written[0])


# --- sending -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    partner_id: str
    name: str
    notify_url: str | None
    notify_email: str | None
    secret: str


@dataclass(frozen=True)
class Message:
    id: int
    key: str  # the idempotency key: the same for every attempt
    partner_id: str
    body: bytes  # JSON


class TransportError(Exception):
    """A message could not be delivered this time (it will be retried)."""


class Transport(Protocol):
    name: str

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None: ...


def sign(secret: str, body: bytes, at: int) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<HMAC-SHA256 of "t." + body>``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, now: int) -> bool:
    """The partner side's check: the signature matches and is within the replay window."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - at) > REPLAY_WINDOW:
        return False
    return hmac.compare_digest(sign(secret, body, at), header)


class WebhookTransport:
    """POST the message as JSON to the partner's ``notify_url``, signed with its secret."""

    name = "webhook"

    def __init__(self, timeout: float = 10.0) -> None:
        import httpx

        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None:
        import httpx

        assert endpoint.notify_url is not None
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            SIGNATURE_HEADER: sign(endpoint.secret, message.body, now),
        }
        try:
            response = self._client.post(endpoint.notify_url, content=message.body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        if not response.is_success:
            raise TransportError(f"HTTP {response.status_code} from {endpoint.notify_url}")

    def close(self) -> None:
        self._client.close()


def messages_csv(messages: list[Message]) -> str:
    """The messages as one CSV (UTF-8 text, ``;``): one line per coordinate."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["message", "type", "occurred_at", "contact_ref", "channel", "coordinate"])
    for message in messages:
        payload = json.loads(message.body)
        for item in payload["contacts"]:
            writer.writerow(
                [
                    message.key,
                    payload["type"],
                    payload["occurred_at"],
                    item["contact_ref"],
                    item["channel"],
                    item["coordinate"],
                ]
            )
    return out.getvalue()


class FileDropTransport:
    """A CSV file per message in ``folder/<partner_id>/``, written whole then renamed into
    place (named by the idempotency key, so a repeat replaces it)."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None:
        body = messages_csv([message])
        target = self.folder / endpoint.partner_id
        try:
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / f".{message.key}.partial"
            tmp.write_text("\ufeff" + body, encoding="utf-8")
            os.replace(tmp, target / f"{message.key}.csv")
        except OSError as exc:
            raise TransportError(f"cannot write to {target}: {exc}") from None


class EmailDigest:
    """One email per partner with every message due for it (text and a CSV attachment),
    at most one every ``interval`` seconds."""

    name = "email"

    def __init__(self, settings: NotifySettings, owner: str) -> None:
        self.settings = settings
        self.owner = owner
        self.interval = settings.digest_minutes * 60

    def send_digest(self, endpoint: Endpoint, messages: list[Message], now: int) -> None:
        import smtplib
        from email.message import EmailMessage

        assert endpoint.notify_email is not None
        lines = messages_csv(messages)
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = endpoint.notify_email
        mail["Subject"] = f"Oppositions à appliquer ({self.owner}) : {len(messages)} message(s)"
        mail.set_content(
            f"Bonjour,\n\n{self.owner} vous transmet {len(messages)} opposition(s) ou "
            "demande(s) d'effacement concernant des contacts que vous avez reçus de sa part "
            "(RGPD, art. 19 et 21). Merci de ne plus utiliser les coordonnées ci-dessous "
            "et de confirmer leur prise en compte.\n\n"
            "Chaque ligne du fichier joint donne la référence du contact dans votre livraison "
            "(contact_ref), le canal et la coordonnée.\n\n"
            + "\n".join(f"- {m.key}" for m in messages)
            + "\n"
        )
        mail.add_attachment(
            ("\ufeff" + lines).encode("utf-8"),
            maintype="text",
            subtype="csv",
            filename=f"oppositions-{endpoint.partner_id}.csv",
        )
        password = os.environ.get(self.settings.smtp_password_env, "")
        try:
            with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=30) as smtp:
                if self.settings.smtp_starttls:
                    smtp.starttls()
                if self.settings.smtp_username:
                    smtp.login(self.settings.smtp_username, password)
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {self.settings.smtp_host}: {exc}") from None


@dataclass
class Transports:
    """Which transport serves a partner: a webhook where it gave a URL, else an email
    digest where it gave an address (and SMTP is configured), else the file drop where
    one is configured. Partners none of them reaches wait (listed by ``status``)."""

    webhook: Transport | None = None
    file_drop: Transport | None = None
    email: EmailDigest | None = None

    def for_endpoint(self, endpoint: Endpoint) -> Transport | EmailDigest | None:
        if endpoint.notify_url and self.webhook is not None:
            return self.webhook
        if endpoint.notify_email and self.email is not None:
            return self.email
        return self.file_drop


def partner_secret(conn: Connection, partner_id: str) -> str:
    """The partner's webhook secret, made on first use."""
    secret = conn.execute(
        select(schema.partner_secrets.c.secret).where(
            schema.partner_secrets.c.partner_id == partner_id
        )
    ).scalar_one_or_none()
    if secret is None:
        if (
            conn.execute(
                select(schema.partners.c.partner_id).where(
                    schema.partners.c.partner_id == partner_id
                )
            ).first()
            is None
        ):
            raise InputError(f"unknown partner {partner_id!r}")
        secret = secrets.token_hex(32)
        conn.execute(
            schema.partner_secrets.insert().values(
                partner_id=partner_id, secret=secret, created_at=now_ts()
            )
        )
    return str(secret)


def _message(conn: Connection, row: Any) -> Message:
    event = conn.execute(
        text("SELECT event, channel, scope, at, event_key FROM events WHERE id = :i"),
        {"i": row.event_id},
    ).one()
    items = conn.execute(
        text(
            "SELECT contact_ref, channel, coordinate FROM outbox_items WHERE message_id = :m "
            "ORDER BY contact_ref, channel, coordinate"
        ),
        {"m": row.id},
    ).all()
    key = _key(int(row.id), event.event_key)
    payload = {
        "type": event.event,
        "message_id": key,
        "occurred_at": to_iso(int(event.at)),
        "channel": event.channel,
        "contacts": [
            {"contact_ref": r.contact_ref, "channel": r.channel, "coordinate": r.coordinate}
            for r in items
        ],
    }
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Message(int(row.id), key, row.partner_id, body)


def _key(message_id: int, event_key: str) -> str:
    return f"lg-{message_id}-{event_key[:16]}"


def backoff(attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failures: doubling, capped, with
    jitter (half to one and a half times), so that retries of many messages spread out."""
    delay = min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP)
    return int(delay * (0.5 + random.random()))


@dataclass
class WorkerReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    waiting: int = 0  # due, but no transport reaches the partner
    errors: list[str] = field(default_factory=list)


def run_once(
    engine: Engine, transports: Transports, *, now: int | None = None, limit: int = 1000
) -> WorkerReport:
    """Send every message due at ``now`` (up to ``limit``), each in its own transaction."""
    clock = now if now is not None else now_ts()
    report = WorkerReport()
    with engine.connect() as conn:
        due = conn.execute(
            text(
                "SELECT o.id, o.event_id, o.partner_id, o.attempts, p.name, p.notify_url, "
                "p.notify_email FROM outbox o JOIN partners p ON p.partner_id = o.partner_id "
                "WHERE o.status = 'pending' AND o.next_attempt_at <= :now ORDER BY o.id LIMIT :n"
            ),
            {"now": clock, "n": limit},
        ).all()
        conn.rollback()
    by_email: dict[str, list[Any]] = {}
    for row in due:
        with engine.begin() as conn:
            endpoint = Endpoint(
                row.partner_id,
                row.name,
                row.notify_url,
                row.notify_email,
                partner_secret(conn, row.partner_id),
            )
            transport = transports.for_endpoint(endpoint)
            if isinstance(transport, EmailDigest):
                by_email.setdefault(row.partner_id, []).append(row)
                continue
            message = _message(conn, row)
            attempts = int(row.attempts) + 1
            if transport is None:
                report.waiting += 1
                error = "no transport reaches this partner (no URL, email server or drop folder)"
                _retry(conn, row.id, attempts - 1, clock, error, None)
                continue
            try:
                transport.send(endpoint, message, clock)
            except TransportError as exc:
                error = str(exc)
                report.errors.append(f"{row.partner_id}: {error}")
                if attempts >= MAX_ATTEMPTS:
                    report.failed += 1
                    conn.execute(
                        text(
                            "UPDATE outbox SET status = 'failed', attempts = :a, last_error = :e, "
                            "transport = :t, next_attempt_at = NULL WHERE id = :i"
                        ),
                        {"a": attempts, "e": error, "t": transport.name, "i": row.id},
                    )
                    audit.append(
                        conn,
                        "message_failed",
                        row.partner_id,
                        {"message": message.key, "attempts": attempts, "error": error},
                        clock,
                    )
                else:
                    report.retried += 1
                    _retry(conn, row.id, attempts, clock, error, transport.name)
                continue
            report.sent += 1
            conn.execute(
                text(
                    "UPDATE outbox SET status = 'sent', attempts = :a, sent_at = :now, "
                    "transport = :t, last_error = NULL, next_attempt_at = NULL WHERE id = :i"
                ),
                {"a": attempts, "now": clock, "t": transport.name, "i": row.id},
            )
            audit.append(
                conn,
                "message_sent",
                row.partner_id,
                {"message": message.key, "transport": transport.name, "attempts": attempts},
                clock,
            )
    if transports.email is not None:
        for partner_id, rows in by_email.items():
            _send_digest(engine, transports.email, partner_id, rows, clock, report)
    return report


def _send_digest(
    engine: Engine,
    digest: EmailDigest,
    partner_id: str,
    rows: list[Any],
    clock: int,
    report: WorkerReport,
) -> None:
    """One email with every message due for the partner, unless it had one less than
    ``digest.interval`` ago (then they wait for the next one)."""
    ids = [int(r.id) for r in rows]
    marks = ", ".join(f":m{i}" for i in range(len(ids)))
    bound = {f"m{i}": v for i, v in enumerate(ids)}
    with engine.begin() as conn:
        last = conn.execute(
            text(
                "SELECT max(sent_at) FROM outbox WHERE partner_id = :p AND transport = 'email' "
                "AND sent_at IS NOT NULL"
            ),
            {"p": partner_id},
        ).scalar_one()
        if last is not None and clock - int(last) < digest.interval:
            conn.execute(
                text(f"UPDATE outbox SET next_attempt_at = :next WHERE id IN ({marks})"),
                {**bound, "next": int(last) + digest.interval},
            )
            return
        row0 = rows[0]
        endpoint = Endpoint(
            partner_id,
            row0.name,
            row0.notify_url,
            row0.notify_email,
            partner_secret(conn, partner_id),
        )
        messages = [_message(conn, r) for r in rows]
        try:
            digest.send_digest(endpoint, messages, clock)
        except TransportError as exc:
            report.errors.append(f"{partner_id}: {exc}")
            for r in rows:
                attempts = int(r.attempts) + 1
                if attempts >= MAX_ATTEMPTS:
                    report.failed += 1
                    conn.execute(
                        text(
                            "UPDATE outbox SET status = 'failed', attempts = :a, last_error = :e, "
                            "transport = 'email', next_attempt_at = NULL WHERE id = :i"
                        ),
                        {"a": attempts, "e": str(exc), "i": r.id},
                    )
                else:
                    report.retried += 1
                    _retry(conn, int(r.id), attempts, clock, str(exc), "email")
            return
        conn.execute(
            text(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = :now, "
                f"transport = 'email', last_error = NULL, next_attempt_at = NULL "
                f"WHERE id IN ({marks})"
            ),
            {**bound, "now": clock},
        )
        report.sent += len(rows)
        audit.append(
            conn,
            "digest_sent",
            partner_id,
            {"messages": [m.key for m in messages], "to": endpoint.notify_email},
            clock,
        )


def _retry(
    conn: Connection, message_id: int, attempts: int, now: int, error: str, transport: str | None
) -> None:
    conn.execute(
        text(
            "UPDATE outbox SET attempts = :a, next_attempt_at = :next, last_error = :e, "
            "transport = :t WHERE id = :i"
        ),
        {
            "a": attempts,
            "next": now + backoff(max(attempts, 1)),
            "e": error,
            "t": transport,
            "i": message_id,
        },
    )


def run_forever(
    engine: Engine, transports: Transports, stop: threading.Event, poll: float = 1.0
) -> None:
    """Send what is due, then wait ``poll`` seconds, until ``stop`` is set."""
    while not stop.is_set():
        run_once(engine, transports)
        stop.wait(poll)


def acknowledge(engine: Engine, key: str, at: int | None = None) -> bool:
    """Record the partner's acknowledgement of the message ``key``; False if unknown."""
    try:
        message_id = int(key.split("-")[1])
    except (IndexError, ValueError):
        return False
    when = at if at is not None else now_ts()
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT o.id, o.partner_id, o.status, e.event_key FROM outbox o "
                "JOIN events e ON e.id = o.event_id WHERE o.id = :i"
            ),
            {"i": message_id},
        ).first()
        if row is None or not hmac.compare_digest(_key(row.id, row.event_key), key):
            return False
        if row.status != "acknowledged":
            conn.execute(
                text(
                    "UPDATE outbox SET status = 'acknowledged', acknowledged_at = :at WHERE id = :i"
                ),
                {"at": when, "i": message_id},
            )
            audit.append(conn, "message_acknowledged", row.partner_id, {"message": key}, when)
    return True


@dataclass
class StatusLine:
    partner_id: str
    status: str
    messages: int
    overdue: int
    oldest: int | None


def status(
    engine: Engine, overdue_after: int = 24 * 3600, now: int | None = None
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


__all__ = [
    "Endpoint",
    "FileDropTransport",
    "Message",
    "Transports",
    "WebhookTransport",
    "acknowledge",
    "enqueue",
    "run_once",
    "sign",
    "status",
    "verify_signature",
]
