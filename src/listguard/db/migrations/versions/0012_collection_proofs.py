"""collection_proofs: what a form showed and what the person chose, as evidence

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collection_proofs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("collected_at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("collection_source", sa.Text()),
        sa.Column("notice_version", sa.Text(), nullable=False),
        sa.Column("notice_sha256", sa.String(64)),
        sa.Column("partner_list_version", sa.Integer()),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.Column("ip", sa.Text()),
        sa.Column("user_agent", sa.Text()),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_collection_proofs_contact_id", "collection_proofs", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_collection_proofs_contact_id", table_name="collection_proofs")
    op.drop_table("collection_proofs")
