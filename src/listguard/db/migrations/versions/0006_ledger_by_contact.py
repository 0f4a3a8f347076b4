"""ledger looked up by contact only: superseded contact versions indexed by email and number

The ledger's coordinate index made every rental pay a random insertion per delivered
coordinate (about 4 s of 13 for a million contacts). A coordinate in the ledger always
comes from the contact's own record, current or superseded, so the contacts that ever
had an email or a number, found through these indexes, lead to it as well.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 11:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSION_INDEXES = {
    "ix_contact_versions_email_norm": "email_norm",
    "ix_contact_versions_phone_e164": "phone_e164",
    "ix_contact_versions_mobile_e164": "mobile_e164",
}


def upgrade() -> None:
    op.drop_index("ix_ledger_coordinate", table_name="ledger")
    for name, column in VERSION_INDEXES.items():
        op.create_index(name, "contact_versions", [column])


def downgrade() -> None:
    for name in VERSION_INDEXES:
        op.drop_index(name, table_name="contact_versions")
    op.create_index("ix_ledger_coordinate", "ledger", ["coordinate"])
