"""rectifications in messages, partners' own settings, the partner side's inbound
messages, counts of refused inputs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_items") as batch:
        batch.add_column(sa.Column("corrected", sa.Text(), nullable=True))
    op.create_table(
        "partner_settings",
        sa.Column("partner_id", sa.Text(), nullable=False),
        sa.Column("file_identifiers", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.partner_id"]),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "inbound_sources",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("list", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("coordinates", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("ack_url", sa.Text(), nullable=True),
        sa.Column("acked_at", sa.BigInteger(), nullable=True),
        sa.Column("ack_error", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["source"], ["inbound_sources.source"]),
        sa.PrimaryKeyConstraint("source", "message_key"),
    )
    op.create_table(
        "refusals",
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "route", "reason"),
    )


def downgrade() -> None:
    op.drop_table("refusals")
    op.drop_table("inbound_messages")
    op.drop_table("inbound_sources")
    op.drop_table("partner_settings")
    with op.batch_alter_table("outbox_items") as batch:
        batch.drop_column("corrected")
