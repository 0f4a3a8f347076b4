"""the outbox read by partner

A partner pulling its oppositions (``GET /api/v1/partner/oppositions``), the back
office's page of one partner's messages and the digest's last sending all read the
outbox by partner; with no index on ``partner_id`` each read scanned every message
ever queued, for every partner. The index is on (``partner_id``, ``id``): a partner's
messages come in the order they were queued.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_partner", "outbox", ["partner_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_partner", table_name="outbox")
