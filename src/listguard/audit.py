"""The audit log: append-only, each entry's hash covering its content and the previous hash.

Every opposition, message to a partner, acknowledgement and rights request is
appended here, in the transaction of the change it records. Altering or
removing any entry breaks the chain from that entry on, which ``verify``
reports. The chain's head (last id and hash) is one row that every writer
updates first, so writers take turns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from listguard.db import schema
from listguard.db.engine import Run
from listguard.timeutil import now_ts

GENESIS = "0" * 64
_TAKE_HEAD = text("UPDATE audit_head SET last_id = last_id WHERE id = 1")
_READ_HEAD = text("SELECT last_id, hash FROM audit_head WHERE id = 1")
_INSERT = text(
    "INSERT INTO audit_log (id, at, action, subject, detail, prev_hash, hash) "
    "VALUES (:id, :at, :action, :subject, :detail, :prev, :hash)"
)
_MOVE_HEAD = text("UPDATE audit_head SET last_id = :id, hash = :hash WHERE id = 1")


def _digest(
    prev: str, entry_id: int, at: int, action: str, subject: str | None, detail: str
) -> str:
    body = json.dumps([prev, entry_id, at, action, subject, detail], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    action: str,
    subject: str | None,
    detail: dict[str, Any],
    at: int | None = None,
) -> int:
    """Append one entry in ``conn``'s transaction; returns its id."""
    return append_many(conn, [(action, subject, detail, at)])[0]


def append_many(
    conn: Connection, entries: Sequence[tuple[str, str | None, dict[str, Any], int | None]]
) -> list[int]:
    """Append entries (action, subject, detail, at) in order, in ``conn``'s transaction:
    the chain is the same as with one ``append`` each, the head taken and moved once.
    Returns their ids."""
    if not entries:
        return []
    # the write comes first: it takes the lock before the head is read
    conn.execute(_TAKE_HEAD)
    head = conn.execute(_READ_HEAD).one()
    rows = _chained(int(head.last_id), str(head.hash), entries)
    conn.execute(_INSERT, rows)
    conn.execute(_MOVE_HEAD, {"id": rows[-1]["id"], "hash": rows[-1]["hash"]})
    return [int(r["id"]) for r in rows]


def append_through(
    run: Run, action: str, subject: str | None, detail: dict[str, Any], at: int | None = None
) -> int:
    """``append`` in a transaction held elsewhere (a delivery's writer process), through
    ``run``, which executes a statement with its parameters and returns its rows."""
    run(_TAKE_HEAD, {})
    last, prev = run(_READ_HEAD, {})[0]
    (row,) = _chained(int(last), str(prev), [(action, subject, detail, at)])
    run(_INSERT, row)
    run(_MOVE_HEAD, {"id": row["id"], "hash": row["hash"]})
    return int(row["id"])


def _chained(
    last: int, prev: str, entries: Sequence[tuple[str, str | None, dict[str, Any], int | None]]
) -> list[dict[str, Any]]:
    """The rows of ``entries``, chained after the entry ``last`` whose hash is ``prev``."""
    now = now_ts()
    rows: list[dict[str, Any]] = []
    for action, subject, detail, at in entries:
        last += 1
        when = at if at is not None else now
        body = json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest = _digest(prev, last, when, action, subject, body)
        rows.append(
            {
                "id": last,
                "at": when,
                "action": action,
                "subject": subject,
                "detail": body,
                "prev": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


@dataclass
class Verification:
    entries: int
    problem: str | None = None  # the first break found, None when the chain is whole

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(engine: Engine) -> Verification:
    """Recompute the chain from the first entry; report the first entry that does not fit."""
    prev, expected, count = GENESIS, 1, 0
    with engine.connect() as conn:
        rows = conn.execute(select(schema.audit_log).order_by(schema.audit_log.c.id))
        for row in rows:
            if row.id != expected:
                return Verification(count, f"entry {expected} is missing (next is {row.id})")
            if row.prev_hash != prev:
                return Verification(count, f"entry {row.id} does not follow entry {row.id - 1}")
            digest = _digest(prev, row.id, row.at, row.action, row.subject, row.detail)
            if digest != row.hash:
                return Verification(count, f"entry {row.id} was altered")
            prev, expected, count = row.hash, expected + 1, count + 1
        head = conn.execute(select(schema.audit_head).where(schema.audit_head.c.id == 1)).one()
    if head.last_id != count or head.hash != prev:
        return Verification(
            count, f"entries after {count} were removed (the log ended at {head.last_id})"
        )
    return Verification(count)


__all__ = ["Verification", "append", "verify"]
