"""audit_log: entries written before the log named people by keyed digest are redacted

An opposition, access request, rectification or collection used to be written to
the audit log with the person's contact id, email or number as its subject (and an
access request with the contact ids found). Since then such entries name the person
by keyed digest (``listguard.identifiers``). The entries already written are
redacted here: the subject becomes ``redacted:`` and the keyed digest of the
identifier (its kind read from its form: an email holds ``@``, a number is ``+`` and
digits, anything else is a contact id), the contact ids of an access request their
digests.

Their hashes are not recomputed: the chain, and every head published from it, stay
as they were. An ``audit_redacted`` entry appended after them records how many
entries were redacted and a hash of their ids; ``audit verify`` then accepts these
entries without recomputing them (their content is no longer what was hashed) and
still checks that each follows the one before.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = ("opposition_recorded", "access_request", "rectification", "collection")
_NUMBER = re.compile(r"\+[0-9]{4,15}")


def _kind(value: str) -> str:
    if "@" in value:
        return "email"
    return "phone" if _NUMBER.fullmatch(value) else "contact_id"


def upgrade() -> None:
    from listguard import audit
    from listguard.identifiers import identifier_secret, keyed_digest

    conn = op.get_bind()
    rows = conn.execute(
        text(
            "SELECT id, action, subject, detail FROM audit_log WHERE action IN "
            f"({', '.join(repr(a) for a in ACTIONS)}) AND subject IS NOT NULL "
            "AND subject NOT LIKE 'redacted:%' ORDER BY id"
        )
    ).all()
    if not rows:
        return
    secret = identifier_secret(conn, create=True)
    assert secret is not None

    def digest(value: str) -> str:
        return keyed_digest(secret, _kind(value), value)

    def detail(action: str, body: str) -> str:
        if action != "access_request":
            return body
        parsed = json.loads(body)
        parsed["contacts"] = [keyed_digest(secret, "contact_id", c) for c in parsed["contacts"]]
        return json.dumps(parsed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    conn.execute(
        text("UPDATE audit_log SET subject = :s, detail = :d WHERE id = :i"),
        [
            {
                "i": r.id,
                "s": audit.REDACTED + digest(str(r.subject)),
                "d": detail(str(r.action), str(r.detail)),
            }
            for r in rows
        ],
    )
    redacted = conn.execute(
        text(
            "SELECT id, at, action, subject, detail FROM audit_log "
            "WHERE subject LIKE 'redacted:%' AND id > (SELECT coalesce(max(id), 0) "
            f"FROM audit_log WHERE action = '{audit.REDACTION}') ORDER BY id"
        )
    ).all()
    audit.append(conn, audit.REDACTION, None, audit.redaction_detail([tuple(r) for r in redacted]))


def downgrade() -> None:
    """The identifiers redacted cannot come back; the entries stay as they are."""
