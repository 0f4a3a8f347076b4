"""The worker: sends the messages that are due, and records what became of them.

``run_once`` sends the messages that are due, one short transaction each, so
a worker stopped at any point loses nothing: a message sent but not yet marked
is sent again, and its idempotency key lets the partner ignore the repeat. A
message that fails is retried with exponential backoff and jitter, and after
``MAX_ATTEMPTS`` it is parked as ``failed``, visible, never dropped.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import OperationalError

from listguard import audit
from listguard.db.keys import registry_secret
from listguard.propagation.acks import ACK_SECRET
from listguard.propagation.journal import SentJournal
from listguard.propagation.messages import load_messages
from listguard.propagation.signing import partner_secret
from listguard.propagation.transports.base import Endpoint, Message, Transport
from listguard.propagation.transports.routing import Transports
from listguard.storage.engine import writing
from listguard.timeutil import now_ts

MAX_ATTEMPTS = 12
BACKOFF_BASE = 30  # seconds before the first retry
BACKOFF_CAP = 6 * 3600


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
    messages are recorded as they go, in small batches (``journal``); failures
    at the end. A message sent but not yet recorded (the worker was killed) is sent
    again, with the same idempotency key.
    """
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
        batch = [messages[int(r.id)] for r in rows]
        work.append((pid, transport, batch))
    try:
        with ThreadPoolExecutor(max(1, min(concurrency, len(work) or 1))) as pool:
            futures = {
                pid: pool.submit(_deliver, engine, transport, endpoints[pid], batch, clock, journal)
                for pid, transport, batch in work
            }
            for pid, future in futures.items():
                outcomes[pid] = future.result()
    finally:  # what was sent is recorded even when the round fails
        journal.close()
        report.sent += journal.recorded
    with writing(engine) as conn:
        for pid, outcome in outcomes.items():
            _record(conn, pid, outcome, messages, attempts, clock, report)
    return report


_LAST_SENT = text(
    "SELECT max(sent_at) FROM outbox WHERE partner_id = :p AND transport = :t "
    "AND sent_at IS NOT NULL"
)


def _deliver(
    engine: Engine,
    transport: Transport,
    endpoint: Endpoint,
    messages: Sequence[Message],
    now: int,
    journal: SentJournal,
) -> _Outcome:
    """One partner's due messages through ``transport``, in order; those sent recorded
    as they go. A paced transport (the email digest) that served the partner less than
    its ``interval`` ago sends nothing: the messages wait for the next sending."""
    ids = [m.id for m in messages]
    if transport.interval:
        with engine.connect() as conn:
            last = conn.execute(
                _LAST_SENT, {"p": endpoint.partner_id, "t": transport.name}
            ).scalar_one()
        if last is not None and now - int(last) < transport.interval:
            return _Outcome(
                held=ids, transport=transport.name, retry_at=int(last) + transport.interval
            )

    def sent(done: Sequence[Message]) -> None:
        journal.sent(endpoint.partner_id, transport.name, [(m.id, m.key) for m in done])
        if transport.interval:  # recorded at once: the next sending is paced by it
            journal.flush()

    failure = transport.deliver(endpoint, messages, now, sent)
    if failure is None:
        return _Outcome(transport=transport.name)
    return _Outcome(
        failed_id=failure.message_id,
        held=ids[ids.index(failure.message_id) + 1 :],
        error=failure.error,
        transport=transport.name,
    )


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


__all__ = ["MAX_ATTEMPTS", "WorkerReport", "backoff", "run_forever", "run_once"]
