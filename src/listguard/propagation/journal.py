"""The worker's record of the messages it has sent, written as it goes.

A round of the worker sends up to a thousand messages. Recorded only at the end of
the round, a worker that dies midway would send all of them again at its restart
(the partner ignores the repeats by their idempotency key, but it still gets them,
and a worker dying repeatedly sent the same message many times). The journal
records sent messages in small batches from a thread of its own, so that sending
never waits for the registry: every ``SECONDS``, or as soon as ``BATCH`` messages
wait, in one short transaction, and whatever is left when the round ends or fails.
A worker killed outright sends again only what it had not recorded yet.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, bindparam, text

from listguard import audit
from listguard.storage.engine import writing

BATCH = 20  # messages
SECONDS = 0.2  # between two batches, at most

_SENT = text(
    # a partner may acknowledge before the send is recorded: that stays
    "UPDATE outbox SET status = CASE WHEN status = 'acknowledged' THEN status "
    "ELSE 'sent' END, attempts = attempts + 1, sent_at = :now, "
    "transport = :t, last_error = NULL, next_attempt_at = NULL WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def record_sent(
    conn: Connection, partner_id: str, transport: str, sent: list[tuple[int, str]], now: int
) -> None:
    """Mark ``sent`` (message id, idempotency key) as sent to ``partner_id`` through
    ``transport``, with their audit entry."""
    conn.execute(_SENT, {"now": now, "t": transport, "ids": [i for i, _ in sent]})
    audit.append(
        conn,
        "messages_sent",
        partner_id,
        {"transport": transport, "messages": [key for _, key in sent]},
        now,
    )


class SentJournal:
    """Sent messages, recorded in small batches by a thread of their own, so that the
    threads sending are never held up by the registry (``close`` records the rest)."""

    def __init__(self, engine: Engine, now: int, batch: int = BATCH) -> None:
        self.engine = engine
        self.now = now
        self.batch = batch
        self.recorded = 0
        self._pending: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._count = 0
        self._done = False
        self._failure: BaseException | None = None
        self._wake = threading.Condition()
        self._writing = threading.Lock()  # batches are written in the order they were taken
        self._thread = threading.Thread(target=self._run, name="sent-journal", daemon=True)
        self._thread.start()

    def sent(self, partner_id: str, transport: str, messages: list[tuple[int, str]]) -> None:
        """``messages`` (id, key) were sent: recorded within ``SECONDS``, or as soon as a
        batch is full."""
        with self._wake:
            self._pending.setdefault((partner_id, transport), []).extend(messages)
            self._count += len(messages)
            if self._count >= self.batch:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._done and self._count < self.batch:
                    self._wake.wait(SECONDS)
                done = self._done
            try:
                self.flush()
            except BaseException as exc:  # kept for ``close``: the round fails with it
                self._failure = exc
                return
            if done:
                return

    def flush(self) -> None:
        """Record every send not recorded yet."""
        with self._writing:
            with self._wake:
                pending, self._pending = self._pending, {}
                self._count = 0
            if not pending:
                return
            with writing(self.engine) as conn:
                for (partner_id, transport), sent in pending.items():
                    record_sent(conn, partner_id, transport, sent, self.now)
            self.recorded += sum(len(sent) for sent in pending.values())

    def close(self) -> None:
        """Record what is left and stop the thread; a failure to record is raised."""
        with self._wake:
            self._done = True
            self._wake.notify()
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        self.flush()


__all__ = ["BATCH", "SentJournal", "record_sent"]
