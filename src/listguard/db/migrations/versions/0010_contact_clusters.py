"""contact_clusters: the persons the registry holds more than once

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_clusters",
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("cluster_id", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    op.create_index("ix_contact_clusters_cluster_id", "contact_clusters", ["cluster_id"])


def downgrade() -> None:
    op.drop_index("ix_contact_clusters_cluster_id", table_name="contact_clusters")
    op.drop_table("contact_clusters")
