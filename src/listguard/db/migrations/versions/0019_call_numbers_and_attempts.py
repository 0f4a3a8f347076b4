"""call_numbers and call_attempts: on the partner side, the numbers received in
deliveries (to call until when) and the calls or attempts made, so that
``listguard calls check`` can tell whether a number may be called now

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_numbers",
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("delivery", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("usable_until", sa.BigInteger()),
        sa.PrimaryKeyConstraint("number", "source", "delivery"),
    )
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", "at", name="uq_call_attempts_number_at"),
    )


def downgrade() -> None:
    op.drop_table("call_attempts")
    op.drop_table("call_numbers")
