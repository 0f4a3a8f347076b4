"""The audit log: append-only, each entry's hash covering its content and the previous hash.

Every opposition, message to a partner, acknowledgement and rights request is
appended here, in the transaction of the change it records. Altering or
removing any entry breaks the chain from that entry on, which ``verify``
reports. The chain's head (last id and hash) is one row that every writer
updates first, so writers take turns. Each entry's id, its place in the
chain, is part of what its hash covers: the head ``COUNT:HASH`` that ``verify``
prints, once published outside the registry, holds the log to at least that
many entries, unchanged (removing the last entries and moving the head row
back is otherwise undetectable). An entry about a person names them by keyed
digest (``identifiers``), never by an identifier, so that an erasure never has
to touch the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select, text

from listguard.db import schema
from listguard.errors import InputError
from listguard.timeutil import now_ts

if TYPE_CHECKING:
    from listguard.storage.base import Tx

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
    tx: Tx, action: str, subject: str | None, detail: dict[str, Any], at: int | None = None
) -> int:
    """``append`` in a transaction of the storage interface (a delivery's)."""
    tx.execute(_TAKE_HEAD)
    last, prev = tx.execute(_READ_HEAD)[0]
    (row,) = _chained(int(last), str(prev), [(action, subject, detail, at)])
    tx.execute(_INSERT, row)
    tx.execute(_MOVE_HEAD, {"id": row["id"], "hash": row["hash"]})
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


# an entry written before the log named people by keyed digest, its subject since replaced
# by one (migration 0018): its hash is the one it was chained with, and an
# ``audit_redacted`` entry after it records which entries were redacted
REDACTED = "redacted:"
REDACTION = "audit_redacted"


def redaction_detail(entries: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The detail of the ``audit_redacted`` entry recording the redaction of ``entries``,
    each ``(id, at, action, subject, detail)`` as it stands once redacted: their content
    can no longer be checked against their own hashes, so it is fixed here, in an entry
    that is itself chained (a redacted entry altered later is seen)."""
    listed = ",".join(str(e[0]) for e in entries)
    content = json.dumps([[str(v) if v is not None else None for v in e] for e in entries])
    return {
        "entries": len(entries),
        "ids_sha256": hashlib.sha256(listed.encode()).hexdigest(),
        "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
    }


@dataclass
class Verification:
    entries: int
    problem: str | None = None  # the first break found, None when the chain is whole
    head: str = GENESIS  # the hash of the last entry checked: publish it, compare it later

    @property
    def ok(self) -> bool:
        return self.problem is None


def parse_head(value: str) -> tuple[int, str]:
    """A published head ``COUNT:HASH`` (as ``audit verify`` prints it)."""
    count, _, digest = value.strip().partition(":")
    if not count.isdigit() or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise InputError(
            f"{value!r} is not a published head: expected COUNT:HASH, as `audit verify` prints"
        )
    return int(count), digest


def verify(engine: Engine, published: tuple[int, str] | None = None) -> Verification:
    """Recompute the chain from the first entry; report the first entry that does not fit.

    ``published``: a head (entry count, hash) printed by an earlier verification and
    kept outside the registry. The registry's own head row moves with whoever rewrites
    the log, so that removing its last entries and moving the head back leaves a chain
    that checks out; the count and hash published outside do not move with it: the
    log must still hold that entry, with that hash."""
    prev, expected, count = GENESIS, 1, 0
    # redacted entries not yet covered by a redaction entry: (id, at, action, subject, detail)
    redacted: list[tuple[Any, ...]] = []
    published_seen = published is None or published[0] == 0
    with engine.connect() as conn:
        rows = conn.execute(select(schema.audit_log).order_by(schema.audit_log.c.id))
        for row in rows:
            if row.id != expected:
                return Verification(count, f"entry {expected} is missing (next is {row.id})", prev)
            if row.prev_hash != prev:
                return Verification(
                    count, f"entry {row.id} does not follow entry {row.id - 1}", prev
                )
            if row.subject is not None and str(row.subject).startswith(REDACTED):
                # its content cannot be recomputed: the redaction entry fixes it
                redacted.append((int(row.id), row.at, row.action, row.subject, row.detail))
            else:
                digest = _digest(prev, row.id, row.at, row.action, row.subject, row.detail)
                if digest != row.hash:
                    return Verification(count, f"entry {row.id} was altered", prev)
                if row.action == REDACTION:
                    if json.loads(row.detail) != redaction_detail(redacted):
                        return Verification(
                            count,
                            f"the entries redacted before entry {row.id} are not those it "
                            "records: an entry was altered",
                            prev,
                        )
                    redacted = []
            prev, expected, count = row.hash, expected + 1, count + 1
            if published is not None and count == published[0]:
                if row.hash != published[1]:
                    return Verification(
                        count,
                        f"entry {count} is not the one published (its hash differs): "
                        "the log was rewritten",
                        prev,
                    )
                published_seen = True
        head = conn.execute(select(schema.audit_head).where(schema.audit_head.c.id == 1)).one()
    if redacted:
        return Verification(count, f"entry {redacted[0][0]} was altered", prev)
    if not published_seen:
        assert published is not None
        return Verification(
            count,
            f"the log holds {count} entries, fewer than the {published[0]} published: "
            "entries were removed",
            prev,
        )
    if head.last_id != count or head.hash != prev:
        return Verification(
            count, f"entries after {count} were removed (the log ended at {head.last_id})", prev
        )
    return Verification(count, None, prev)


__all__ = [
    "REDACTED",
    "REDACTION",
    "Verification",
    "append",
    "parse_head",
    "redaction_detail",
    "verify",
]
