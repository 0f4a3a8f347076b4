"""rights_requests: the requests persons make to exercise their rights (access,
rectification, erasure, objection, portability, consent proof), confirmed through a
signed link or an SMS code on the public rights page or recorded by the owner's
systems, tracked to their legal deadline (GDPR art. 12(3)) and answered

The person is named by keyed digest (as the audit log names them); what is needed to
answer them (their address or number, the corrections asked) and the answer itself
are kept encrypted with a key of the registry's.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("reference", sa.String(200)),
        sa.Column("confirm_key", sa.String(64)),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", sa.BigInteger(), nullable=False),
        sa.Column("handled_by", sa.String(320)),
        sa.Column("reason", sa.Text()),
        sa.Column("outcome", sa.Text()),
        sa.Column("answer", sa.Text()),
        sa.Column("answer_name", sa.String(100)),
        sa.Column("answer_type", sa.String(100)),
        sa.Column("answer_until", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("confirm_key", name="uq_rights_requests_confirm_key"),
    )
    op.create_index("ix_rights_requests_status_due", "rights_requests", ["status", "due_on"])
    op.create_index("ix_rights_requests_person", "rights_requests", ["person"])


def downgrade() -> None:
    op.drop_index("ix_rights_requests_person", table_name="rights_requests")
    op.drop_index("ix_rights_requests_status_due", table_name="rights_requests")
    op.drop_table("rights_requests")
