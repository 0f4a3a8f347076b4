"""deliveries: the range of ledger ids each delivery wrote

A partner names a contact by the contact_ref of one of its deliveries; the range lets
that look-up read one delivery's rows without an index on contact_ref (which every
rental would pay for with a random insertion per delivered coordinate).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("ledger_first_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ledger_last_id", sa.Integer(), nullable=True))
    # deliveries made before: their rows are found by delivery id, once, here
    op.execute(
        "UPDATE deliveries SET ledger_first_id = (SELECT min(id) FROM ledger "
        "WHERE ledger.delivery_id = deliveries.id), ledger_last_id = (SELECT max(id) "
        "FROM ledger WHERE ledger.delivery_id = deliveries.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("ledger_last_id")
        batch.drop_column("ledger_first_id")
