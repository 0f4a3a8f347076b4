"""delivery seeds: the control addresses planted in each delivery

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_seeds",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("seed_id", sa.Text(), nullable=False),
        sa.Column("contact_ref", sa.String(length=32), nullable=False),
        sa.Column("planted", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"]),
        sa.PrimaryKeyConstraint("delivery_id", "seed_id"),
    )


def downgrade() -> None:
    op.drop_table("delivery_seeds")
