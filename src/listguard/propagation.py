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
import functools
import hashlib
import hmac
import io
import json
import os
import random
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, TextClause, bindparam, select, text

from listguard import audit
from listguard.config import NotifySettings, Settings
from listguard.constant_time import same
from listguard.db import schema
from listguard.db.engine import writing
from listguard.db.keys import registry_secret
from listguard.errors import InputError
from listguard.io.formula import neutralise
from listguard.paths import confined
from listguard.sent_journal import SentJournal
from listguard.storage.base import ConnTx, Tx
from listguard.timeutil import day_start, now_ts, to_iso, years_before

PROPAGATED = ("opposition", "erasure", "rectification")
MAX_ATTEMPTS = 12
BACKOFF_BASE = 30  # seconds before the first retry
BACKOFF_CAP = 6 * 3600
SIGNATURE_HEADER = "Listguard-Signature"
REPLAY_WINDOW = 300  # seconds a signature stays acceptable
ACK_SECRET = "acks"  # the registry key acknowledgement links are signed with
ACK_PATH = "/accuse-reception"


_SUPERSEDED_ON = "l.contact_id = x.contact_id AND l.coordinate = x.v"


def enqueue(
    conn: Connection,
    events_where: str,
    params: Mapping[str, Any],
    retention_years: int,
    channels: tuple[str, ...] | None = None,
) -> int:
    """Outbox messages for the events of ``events_where`` (SQL on ``events e``); returns
    how many messages were written. ``channels``: only coordinates delivered on these."""
    return sum(enqueue_per_event(conn, events_where, params, retention_years, channels).values())


def enqueue_per_event(
    conn: Connection,
    events_where: str,
    params: Mapping[str, Any],
    retention_years: int,
    channels: tuple[str, ...] | None = None,
) -> dict[int, int]:
    """As ``enqueue``, for several events at once: the messages written per event id
    (events with none are left out)."""
    now = now_ts()
    since = day_start(years_before(dt.datetime.fromtimestamp(now, dt.UTC).date(), retention_years))
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
_WRITTEN_PER_EVENT = text(
    "SELECT event_id, count(*) AS n, min(id) AS first_id, max(id) AS last_id FROM outbox "
    "WHERE id > :last GROUP BY event_id"
)


@functools.lru_cache(maxsize=64)
def delivered_items_sql(events_where: str, channels: tuple[str, ...] | None = None) -> str:
    """SQL: what the opposition, erasure and rectification events of ``events_where`` (on
    ``events e``) must be forwarded about: one row (event_id, partner_id, delivery_id,
    contact_ref, channel, coordinate) per coordinate they cover in a delivery made within
    the retention period (``:since``). ``channels``: only coordinates delivered on these."""
    selected = (
        "e.event IN ('opposition', 'erasure', 'rectification') AND e.scope <> 'own' "
        f"AND ({events_where})"
    )
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
    superseded = "\nUNION\n".join(
        f"SELECT e.id AS event_id, v.contact_id, {key} AS v FROM events e "
        f"JOIN contact_versions v ON v.{column} = {key} WHERE {selected} AND e.contact_id IS NULL"
        for column, key in (
            ("email_norm", "e.email_norm"),
            ("phone_e164", "e.phone_e164"),
            ("mobile_e164", "e.phone_e164"),
        )
    )
    delivered = (
        "SELECT x.event_id, d.partner_id, l.delivery_id, l.contact_ref, l.channel, l.coordinate "
        "FROM {source} JOIN ledger l ON {on} JOIN deliveries d ON d.id = l.delivery_id "
        "JOIN events e ON e.id = x.event_id "
        "WHERE d.created_at >= :since AND (e.channel = 'all' OR e.channel = l.channel) "
        "AND (e.partner_id IS NULL OR e.partner_id = d.partner_id)"
    )
    if channels is not None:
        delivered += " AND l.channel IN ({})".format(
            ", ".join(f"'{c}'" for c in channels if c in schema.CHANNELS) or "''"
        )
    return "\nUNION\n".join(
        [
            delivered.format(source=f"({covered}) x", on="l.contact_id = x.contact_id"),
            # a coordinate delivered before the contact changed it is still covered: the
            # superseded versions that had it name the contact
            delivered.format(source=f"({superseded}) x", on=_SUPERSEDED_ON),
        ]
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


# --- sending -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    partner_id: str
    name: str
    notify_url: str | None
    notify_email: str | None
    secret: str
    hashed: bool = False  # file drops carry keyed hashes of the coordinates, not them


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
    return same(sign(secret, body, at), header)


class WebhookTransport:
    """POST the message as JSON to the partner's ``notify_url``, signed with its secret:
    only to an address ``netguard`` accepts, checked again as it is sent (see there);
    a redirect is a failure. The answer's status decides, its body is not read, and
    the whole request takes at most about ``timeout``. The error kept for the owner
    names the kind of failure, never the network's own text."""

    name = "webhook"

    def __init__(self, timeout: float = 10.0, allow_private: bool | None = None) -> None:
        from listguard import netguard

        self.allow_private = (
            netguard.private_endpoints_allowed() if allow_private is None else allow_private
        )
        self.timeout = timeout  # for the whole request, not only each phase of it
        self._client = netguard.client(timeout, self.allow_private)

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None:
        import httpx

        from listguard import netguard

        assert endpoint.notify_url is not None
        try:
            url = netguard.check_endpoint_url(endpoint.notify_url, self.allow_private)
        except InputError:
            raise TransportError("refused: not an acceptable webhook address") from None
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            SIGNATURE_HEADER: sign(endpoint.secret, message.body, now),
        }
        try:
            request = self._client.build_request("POST", url, content=message.body, headers=headers)
        except Exception:  # httpx.InvalidURL: an address stored before the checks
            raise TransportError("refused: not an acceptable webhook address") from None
        try:
            response = netguard.post_status(self._client, request, self.timeout)
        except netguard.NotPublic as exc:
            raise TransportError(f"refused: {exc}") from None
        except httpx.TimeoutException:
            raise TransportError("no answer in time") from None
        except httpx.HTTPError:
            raise TransportError("cannot connect") from None
        if response.is_redirect:
            raise TransportError(f"HTTP {response.status_code}: a redirect, not followed")
        if not response.is_success:
            raise TransportError(f"HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()


def coordinate_hash(secret: str, coordinate: str) -> str:
    """A keyed hash of a coordinate (HMAC-SHA256 with the partner's secret, hex), as
    written in the file drops of a partner that asked for hashes: it finds its own
    records by hashing its coordinates the same way; whoever reads the file without the
    key learns nothing."""
    return hmac.new(secret.encode(), coordinate.encode("utf-8"), hashlib.sha256).hexdigest()


def messages_csv(messages: list[Message], hash_key: str | None = None) -> str:
    """The messages as one CSV (UTF-8 text, ``;``): one line per coordinate; with
    ``hash_key``, a column ``coordinate_sha256`` of keyed hashes instead of the
    coordinates (and of the corrected values). A coordinate is the only cell that data
    can start: it is neutralised against spreadsheet formulas (``io/formula.py``; the
    others are listguard's codes, dates, URL and JSON)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    coordinate = "coordinate" if hash_key is None else "coordinate_sha256"
    writer.writerow(
        [
            "message",
            "type",
            "occurred_at",
            "contact_ref",
            "channel",
            coordinate,
            "corrected",
            "ack_url",
        ]
    )
    for message in messages:
        payload = json.loads(message.body)
        for item in payload["contacts"]:
            value = item["coordinate"]
            corrected = item.get("corrected") or {}
            if hash_key is not None:
                value = coordinate_hash(hash_key, value)
                corrected = {k: coordinate_hash(hash_key, v) for k, v in corrected.items()}
            writer.writerow(
                [
                    message.key,
                    payload["type"],
                    payload["occurred_at"],
                    item["contact_ref"],
                    item["channel"],
                    neutralise(value, numbers=True),
                    json.dumps(corrected, ensure_ascii=False, sort_keys=True) if corrected else "",
                    payload.get("ack_url", ""),
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
        body = messages_csv([message], endpoint.secret if endpoint.hashed else None)
        try:  # names from the registry: still, never outside the folder
            target = confined(self.folder, endpoint.partner_id)
            confined(target, f"{message.key}.csv")
        except InputError:
            raise TransportError("refused: the partner id cannot name a folder") from None
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
            "(contact_ref), le canal et la coordonnée. Le lien de chaque message confirme "
            "sa prise en compte.\n\n"
            + "\n".join(f"- {m.key} {json.loads(m.body).get('ack_url', '')}" for m in messages)
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
    ack_base: str = ""  # the public address of the owner's site: messages carry ack links

    @classmethod
    def from_settings(
        cls, settings: Settings, webhook: Transport | None, drop_folder: Path | None = None
    ) -> Transports:
        """The transports the settings configure: the given webhook, an email digest
        where SMTP is set, the file drop to ``drop_folder``; ack links on the public URL."""
        return cls(
            webhook=webhook,
            file_drop=FileDropTransport(drop_folder) if drop_folder else None,
            email=EmailDigest(settings.notify, settings.owner.name)
            if settings.notify.smtp_host
            else None,
            ack_base=settings.web.public_url,
        )

    def reaches(self, partner: str = "p") -> str:
        """SQL on ``partners`` (as ``partner``): the partners some transport reaches."""
        if self.file_drop is not None:
            return "1 = 1"
        ways = []
        if self.webhook is not None:
            ways.append(f"coalesce({partner}.notify_url, '') <> ''")
        if self.email is not None:
            ways.append(f"coalesce({partner}.notify_email, '') <> ''")
        return " OR ".join(ways) or "1 = 0"

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


def ack_signature(secret: str, key: str) -> str:
    """What proves an acknowledgement link was made by the registry for message ``key``."""
    return hmac.new(secret.encode(), f"ack:{key}".encode(), hashlib.sha256).hexdigest()[:32]


def ack_url(base: str, secret: str, key: str) -> str:
    """The link a partner follows (GET: a page with a button) or posts to (POST: done)
    to acknowledge message ``key``, without an API key."""
    return f"{base}{ACK_PATH}/{key}?s={ack_signature(secret, key)}"


def check_ack_signature(conn: Connection, key: str, signature: str) -> bool:
    secret = registry_secret(conn, ACK_SECRET, create=False)
    return secret is not None and same(ack_signature(secret, key), signature)


@dataclass(frozen=True)
class PartnerEndpoint:
    notify_url: str | None
    notify_email: str | None
    file_identifiers: str  # clear | hashed


_UNCHANGED: Any = object()


def check_notify_url(url: str) -> str:
    """A webhook address: see ``netguard.check_endpoint_url``."""
    from listguard.netguard import check_endpoint_url

    return check_endpoint_url(url)


def get_endpoint(conn: Connection, partner_id: str) -> PartnerEndpoint:
    row = conn.execute(
        text(
            "SELECT p.notify_url, p.notify_email, s.file_identifiers FROM partners p "
            "LEFT JOIN partner_settings s ON s.partner_id = p.partner_id "
            "WHERE p.partner_id = :p"
        ),
        {"p": partner_id},
    ).first()
    if row is None:
        raise InputError(f"unknown partner {partner_id!r}")
    return PartnerEndpoint(row.notify_url, row.notify_email, row.file_identifiers or "clear")


def set_endpoint(
    engine: Engine,
    partner_id: str,
    *,
    notify_url: str | None = _UNCHANGED,
    notify_email: str | None = _UNCHANGED,
    file_identifiers: str = _UNCHANGED,
    by: str = "api",
) -> PartnerEndpoint:
    """Change where (and how) a partner receives its messages; what is not given stays.
    A changed address makes a new version of the partner (the previous one is kept);
    the change is in the audit log. An empty value removes the address."""
    from listguard.normalise.email import normalise_email

    if notify_url is not _UNCHANGED and notify_url:
        notify_url = check_notify_url(notify_url)
    if notify_email is not _UNCHANGED and notify_email:
        normalised, valid = normalise_email(notify_email)
        if not valid:
            raise InputError(f"{notify_email!r} is not a valid email address")
        notify_email = normalised
    if file_identifiers is not _UNCHANGED and file_identifiers not in schema.FILE_IDENTIFIERS:
        raise InputError(
            f"file_identifiers {file_identifiers!r}: expected "
            + " or ".join(schema.FILE_IDENTIFIERS)
        )
    now = now_ts()
    with writing(engine) as conn:
        before = get_endpoint(conn, partner_id)
        changes = {
            k: v or None
            for k, v in (("notify_url", notify_url), ("notify_email", notify_email))
            if v is not _UNCHANGED and (v or None) != getattr(before, k)
        }
        if changes:
            fields = [c.name for c in schema.partner_versions.columns if c.name != "id"]
            cols = ", ".join(fields)
            conn.execute(
                text(
                    f"INSERT INTO partner_versions ({cols}) SELECT {cols} FROM partners "
                    "WHERE partner_id = :p"
                ),
                {"p": partner_id},
            )
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            conn.execute(
                text(
                    f"UPDATE partners SET {sets}, import_id = NULL, recorded_at = :now, "
                    "version = version + 1 WHERE partner_id = :p"
                ),
                {**changes, "now": now, "p": partner_id},
            )
        if file_identifiers is not _UNCHANGED and file_identifiers != before.file_identifiers:
            conn.execute(
                text(
                    "INSERT INTO partner_settings (partner_id, file_identifiers, updated_at) "
                    "VALUES (:p, :f, :now) ON CONFLICT (partner_id) DO UPDATE SET "
                    "file_identifiers = excluded.file_identifiers, updated_at = excluded.updated_at"
                ),
                {"p": partner_id, "f": file_identifiers, "now": now},
            )
            changes["file_identifiers"] = file_identifiers
        if changes:
            audit.append(conn, "partner_endpoint", partner_id, {**changes, "by": by}, now)
        return get_endpoint(conn, partner_id)


def load_messages(
    conn: Connection, ids: list[int], ack_base: str = "", ack_secret: str | None = None
) -> dict[int, Message]:
    """The messages ``ids`` as they are sent, read in two set-based queries; with
    ``ack_base`` and ``ack_secret``, each carries its signed acknowledgement link."""
    if not ids:
        return {}
    heads = conn.execute(
        text(
            "SELECT o.id, o.partner_id, o.event_id, o.created_at, e.event, e.channel, e.at "
            "FROM outbox o "
            "JOIN events e ON e.id = o.event_id WHERE o.id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": ids},
    ).all()
    items: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for message_id, contact_ref, channel, coordinate, corrected in conn.execute(
        text(
            "SELECT message_id, contact_ref, channel, coordinate, corrected FROM outbox_items "
            "WHERE message_id IN :ids ORDER BY message_id, contact_ref, channel, coordinate"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": ids},
    ):
        item: dict[str, Any] = {
            "contact_ref": contact_ref,
            "channel": channel,
            "coordinate": coordinate,
        }
        if corrected:
            item["corrected"] = json.loads(corrected)
        items[message_id].append(item)
    out = {}
    for h in heads:
        key = _key(int(h.id), int(h.event_id), int(h.created_at))
        payload: dict[str, Any] = {
            "type": h.event,
            "message_id": key,
            "occurred_at": to_iso(int(h.at)),
            "channel": h.channel,
            "contacts": items[int(h.id)],
        }
        if ack_base and ack_secret:
            payload["ack_url"] = ack_url(ack_base, ack_secret, key)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        out[int(h.id)] = Message(int(h.id), key, h.partner_id, body)
    return out


def _key(message_id: int, event_id: int, created_at: int) -> str:
    """The message's idempotency key: its id and a digest of what identifies it in the
    registry, nothing of the person (the event's own key holds their identifiers)."""
    digest = hashlib.sha256(f"{message_id}:{event_id}:{created_at}".encode()).hexdigest()
    return f"lg-{message_id}-{digest[:16]}"


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


@dataclass
class _Outcome:
    """What happened to one partner's due messages in this round, but the messages sent
    (recorded as they go)."""

    failed_id: int | None = None  # the message that failed; the later ones were not tried
    held: list[int] = field(default_factory=list)
    error: str | None = None
    transport: str | None = None
    retry_at: int | None = None  # when the held messages are due again, if not after a failure


def run_once(
    engine: Engine,
    transports: Transports,
    *,
    now: int | None = None,
    limit: int = 1000,
    concurrency: int = 16,
) -> WorkerReport:
    """Send the messages due at ``now`` (up to ``limit``).

    Partners are served in parallel, each one's messages in order: when one fails,
    that partner's later messages wait for its retry, so they arrive in order. Sent
    messages are recorded as they go, in small batches (``sent_journal``); failures
    at the end. A message sent but not yet recorded (the worker was killed) is sent
    again, with the same idempotency key.
    """
    from concurrent.futures import ThreadPoolExecutor

    clock = now if now is not None else now_ts()
    report = WorkerReport()
    # a partner's messages go in order: none overtakes an earlier one still waiting for
    # its retry (each partner's first such message bars the later ones; one pass, not a
    # look-up per message)
    is_due = (
        "FROM outbox o JOIN partners p ON p.partner_id = o.partner_id "
        "LEFT JOIN (SELECT partner_id, min(id) AS first_id FROM outbox "
        "WHERE status = 'pending' AND next_attempt_at > :now GROUP BY partner_id) w "
        "ON w.partner_id = o.partner_id "
        "WHERE o.status = 'pending' AND o.next_attempt_at <= :now "
        "AND (w.first_id IS NULL OR o.id < w.first_id) "
    )
    reach = transports.reaches("p")
    with engine.connect() as conn:  # reading only: writers are not held up
        # messages no transport reaches stay pending, untouched, until one does (or the
        # partner pulls them through the API): counted, not loaded round after round
        report.waiting = int(
            conn.execute(
                text(f"SELECT count(*) {is_due} AND NOT ({reach})"), {"now": clock}
            ).scalar_one()
        )
        due = conn.execute(
            text(
                "SELECT o.id, o.partner_id, o.attempts, p.name, p.notify_url, p.notify_email, "
                "(SELECT s.file_identifiers FROM partner_settings s "
                "WHERE s.partner_id = o.partner_id) AS identifiers "
                f"{is_due} AND ({reach}) ORDER BY o.id LIMIT :n"
            ),
            {"now": clock, "n": limit},
        ).all()
        if not due:
            return report
        by_partner: dict[str, list[Any]] = {}
        for row in due:
            by_partner.setdefault(row.partner_id, []).append(row)
    with writing(engine) as conn:  # a partner's secret (and the ack key) made on first use
        endpoints = {
            pid: Endpoint(
                pid,
                rows[0].name,
                rows[0].notify_url,
                rows[0].notify_email,
                partner_secret(conn, pid),
                hashed=rows[0].identifiers == "hashed",
            )
            for pid, rows in by_partner.items()
        }
        ack_secret = registry_secret(conn, ACK_SECRET, create=True) if transports.ack_base else None
        messages = load_messages(conn, [int(r.id) for r in due], transports.ack_base, ack_secret)
    attempts = {int(r.id): int(r.attempts) for r in due}
    outcomes: dict[str, _Outcome] = {}
    journal = SentJournal(engine, clock)
    work = []
    for pid, rows in by_partner.items():
        transport = transports.for_endpoint(endpoints[pid])
        assert transport is not None  # only partners a transport reaches were selected
        ids = [int(r.id) for r in rows]
        if isinstance(transport, EmailDigest):
            work.append(
                (
                    pid,
                    lambda p=pid, t=transport, i=ids: _digest(
                        engine, t, endpoints[p], [messages[m] for m in i], clock, journal
                    ),
                )
            )
        else:
            work.append(
                (
                    pid,
                    lambda p=pid, t=transport, i=ids: _in_order(
                        t, endpoints[p], [messages[m] for m in i], clock, journal
                    ),
                )
            )
    try:
        with ThreadPoolExecutor(max(1, min(concurrency, len(work) or 1))) as pool:
            futures = {pid: pool.submit(job) for pid, job in work}
            for pid, future in futures.items():
                outcomes[pid] = future.result()
    finally:  # what was sent is recorded even when the round fails
        journal.close()
        report.sent += journal.recorded
    with writing(engine) as conn:
        for pid, outcome in outcomes.items():
            _record(conn, pid, outcome, messages, attempts, clock, report)
    return report


def _in_order(
    transport: Transport,
    endpoint: Endpoint,
    messages: list[Message],
    now: int,
    journal: SentJournal,
) -> _Outcome:
    outcome = _Outcome(transport=transport.name)
    for i, message in enumerate(messages):
        try:
            transport.send(endpoint, message, now)
        except TransportError as exc:
            outcome.failed_id = message.id
            outcome.error = str(exc)
            outcome.held = [m.id for m in messages[i + 1 :]]
            break
        journal.sent(endpoint.partner_id, transport.name, [(message.id, message.key)])
    return outcome


def _digest(
    engine: Engine,
    digest: EmailDigest,
    endpoint: Endpoint,
    messages: list[Message],
    now: int,
    journal: SentJournal,
) -> _Outcome:
    """One email with every message due, unless the partner had one less than
    ``digest.interval`` ago (then they wait for the next one)."""
    with engine.connect() as conn:
        last = conn.execute(
            text(
                "SELECT max(sent_at) FROM outbox WHERE partner_id = :p AND transport = 'email' "
                "AND sent_at IS NOT NULL"
            ),
            {"p": endpoint.partner_id},
        ).scalar_one()
    ids = [m.id for m in messages]
    if last is not None and now - int(last) < digest.interval:
        return _Outcome(held=ids, transport=digest.name, retry_at=int(last) + digest.interval)
    try:
        digest.send_digest(endpoint, messages, now)
    except TransportError as exc:
        return _Outcome(failed_id=ids[0], held=ids[1:], error=str(exc), transport=digest.name)
    journal.sent(endpoint.partner_id, digest.name, [(m.id, m.key) for m in messages])
    journal.flush()  # one email: recorded at once
    return _Outcome(transport=digest.name)


def _record(
    conn: Connection,
    partner_id: str,
    outcome: _Outcome,
    messages: dict[int, Message],
    attempts: dict[int, int],
    now: int,
    report: WorkerReport,
) -> None:
    next_at = None
    if outcome.failed_id is not None:
        tried = attempts[outcome.failed_id] + 1
        error = outcome.error or "failed"
        report.errors.append(f"{partner_id}: {error}")
        if tried >= MAX_ATTEMPTS:
            report.failed += 1
            conn.execute(
                text(
                    "UPDATE outbox SET status = 'failed', attempts = :a, last_error = :e, "
                    "transport = :t, next_attempt_at = NULL WHERE id = :i"
                ),
                {"a": tried, "e": error, "t": outcome.transport, "i": outcome.failed_id},
            )
            audit.append(
                conn,
                "message_failed",
                partner_id,
                {"message": messages[outcome.failed_id].key, "attempts": tried, "error": error},
                now,
            )
        else:
            report.retried += 1
            next_at = now + backoff(tried)
            conn.execute(
                text(
                    "UPDATE outbox SET attempts = :a, next_attempt_at = :next, last_error = :e, "
                    "transport = :t WHERE id = :i"
                ),
                {
                    "a": tried,
                    "next": next_at,
                    "e": error,
                    "t": outcome.transport,
                    "i": outcome.failed_id,
                },
            )
    if outcome.held:  # after a failure, with it; else at the next digest or a while later
        due_again = next_at or outcome.retry_at or now + backoff(1)
        conn.execute(
            text(
                "UPDATE outbox SET next_attempt_at = :next, last_error = coalesce(:e, last_error) "
                "WHERE id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {
                "next": due_again,
                "e": outcome.error if outcome.failed_id is None else None,
                "ids": outcome.held,
            },
        )


def run_forever(
    engine: Engine,
    transports: Transports,
    stop: threading.Event,
    poll: float = 1.0,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Send what is due, then wait ``poll`` seconds, until ``stop`` is set. A round that
    the database refuses (locked by a long import, the server restarting) is reported
    and tried again after a pause: nothing of it was recorded, nothing is lost."""
    from sqlalchemy.exc import OperationalError

    pause = poll
    while not stop.is_set():
        try:
            run_once(engine, transports)
            pause = poll
        except OperationalError as exc:
            pause = min(max(pause * 2, 1.0), 60.0)
            if warn is not None:
                warn(f"database unavailable, trying again in {pause:.0f} s: {exc.orig}")
        stop.wait(pause)


def acknowledge(
    engine: Engine, key: str, at: int | None = None, partner_id: str | None = None
) -> bool:
    """Record the partner's acknowledgement of the message ``key``; False if unknown (or,
    given ``partner_id``, addressed to another partner)."""
    try:
        message_id = int(key.split("-")[1])
    except (IndexError, ValueError):
        return False
    when = at if at is not None else now_ts()
    with writing(engine) as conn:
        row = conn.execute(
            text(
                "SELECT o.id, o.partner_id, o.status, o.event_id, o.created_at FROM outbox o "
                "WHERE o.id = :i"
            ),
            {"i": message_id},
        ).first()
        if row is None or not same(_key(int(row.id), int(row.event_id), int(row.created_at)), key):
            return False
        if partner_id is not None and row.partner_id != partner_id:
            return False
        if row.status != "acknowledged":
            conn.execute(
                text(
                    "UPDATE outbox SET status = 'acknowledged', acknowledged_at = :at WHERE id = :i"
                ),
                {"at": when, "i": message_id},
            )
            audit.append(conn, "message_acknowledged", row.partner_id, {"message": key}, when)
            # an erased person's coordinates were kept only for the partner to act on:
            # once it has, no message to it keeps them (nor an earlier opposition's)
            conn.execute(
                text(
                    "UPDATE outbox_items SET coordinate = 'erased', corrected = NULL "
                    "WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = :e "
                    "AND e.event = 'erasure') AND EXISTS (SELECT 1 FROM outbox_items a "
                    "WHERE a.message_id = :i AND a.delivery_id = outbox_items.delivery_id "
                    "AND a.contact_ref = outbox_items.contact_ref)"
                ),
                {"i": message_id, "e": row.event_id},
            )
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
    "PartnerEndpoint",
    "Transports",
    "WebhookTransport",
    "ack_url",
    "acknowledge",
    "check_ack_signature",
    "coordinate_hash",
    "enqueue",
    "get_endpoint",
    "load_messages",
    "run_once",
    "set_endpoint",
    "sign",
    "status",
    "verify_signature",
]
