"""a rights request's deadline extended by two months

Art. 12(3) GDPR lets the owner extend the one-month deadline by two further months
"where necessary, taking into account the complexity and number of the requests",
telling the person within the first month, with the reasons. A request now records
when it was extended and why (``listguard.rights_extension``); its ``due_on`` then
holds the extended deadline. Existing requests are not extended.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rights_requests", sa.Column("extended_at", sa.BigInteger()))
    op.add_column("rights_requests", sa.Column("extension_reason", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("rights_requests") as batch:
        batch.drop_column("extension_reason")
        batch.drop_column("extended_at")
