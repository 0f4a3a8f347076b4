"""a rights request's deadline extended by two months

Art. 12(3) GDPR lets the owner extend the one-month deadline by two further months
"where necessary, taking into account the complexity and number of the requests",
telling the person within the first month, with the reasons. A request now records
when the extension was decided and why, and when the person was told
(``listguard.rights_extension``); its ``due_on`` moves to the extended deadline once
they are. Existing requests are not extended.

Downgrading puts back the first deadline of every extended request (the one a
registry at 0023 reckons with) before dropping the columns.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("extended_at", "extension_reason", "extension_told_at")


def upgrade() -> None:
    op.add_column("rights_requests", sa.Column("extended_at", sa.BigInteger()))
    op.add_column("rights_requests", sa.Column("extension_reason", sa.Text()))
    op.add_column("rights_requests", sa.Column("extension_told_at", sa.BigInteger()))


def downgrade() -> None:
    from listguard.rights_requests import due_on
    from listguard.timeutil import to_day

    conn = op.get_bind()
    told = conn.execute(
        text("SELECT id, received_at FROM rights_requests WHERE extension_told_at IS NOT NULL")
    ).all()
    if told:
        conn.execute(
            text("UPDATE rights_requests SET due_on = :d WHERE id = :i"),
            [{"d": due_on(to_day(int(at))).isoformat(), "i": i} for i, at in told],
        )
    with op.batch_alter_table("rights_requests") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
