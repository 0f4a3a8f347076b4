"""contacts indexed by recorded_at: the contacts recorded since the clusters were computed

Every rental, enrichment and rental preview counts them (``processing.clusters``);
without the index that count read the whole table (about 0.6 s for a million).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 22:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_recorded_at", "contacts", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_contacts_recorded_at", table_name="contacts")
