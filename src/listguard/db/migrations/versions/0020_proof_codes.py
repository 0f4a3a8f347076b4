"""proof_codes: the one-time codes sent by SMS so that a person obtains the proof of
their consents from the public rights page without an account (stored hashed)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 19:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proof_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proof_codes_person", "proof_codes", ["person"])


def downgrade() -> None:
    op.drop_index("ix_proof_codes_person", table_name="proof_codes")
    op.drop_table("proof_codes")
