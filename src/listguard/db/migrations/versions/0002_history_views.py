"""versions tables hold superseded versions only; history views

The current row of a contact or partner lives in its table; the versions
table now keeps the versions it replaced (an import no longer copies every
new row there), and ``contact_history`` / ``partner_history`` show all of them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT_COLUMNS = (
    "contact_id, civility, civility_given, first_name, last_name, company, audience, "
    "address_line2, address_line3, address_line4, address_line5, postal_code, city, "
    "country, address_status, address_key, recipient_key, phone, phone_e164, "
    "phone_type, mobile, mobile_e164, mobile_type, email, email_norm, email_status, "
    "birth_date, collected_at, collection_source, notice_version, partners_postal, "
    "partners_phone, partners_automated_call, partners_sms, partners_email, "
    "own_postal, own_phone, own_automated_call, own_sms, own_email, attributes, "
    "import_id, recorded_at, version"
)
PARTNER_COLUMNS = (
    "partner_id, name, legal_name, category, privacy_policy_url, sector, listed_from, "
    "listed_until, notify_url, notify_email, import_id, recorded_at, version"
)
HISTORY = (
    ("contact_history", "contacts", "contact_versions", "contact_id", CONTACT_COLUMNS),
    ("partner_history", "partners", "partner_versions", "partner_id", PARTNER_COLUMNS),
)


def upgrade() -> None:
    for view, table, versions, key, columns in HISTORY:
        # the copy of each current row is the row itself
        op.execute(
            f"DELETE FROM {versions} WHERE EXISTS (SELECT 1 FROM {table} t "
            f"WHERE t.{key} = {versions}.{key} AND t.version = {versions}.version)"
        )
        op.execute(
            f"CREATE VIEW {view} AS SELECT {columns} FROM {versions} "
            f"UNION ALL SELECT {columns} FROM {table}"
        )


def downgrade() -> None:
    for view, table, versions, _key, columns in HISTORY:
        op.execute(f"DROP VIEW {view}")
        op.execute(f"INSERT INTO {versions} ({columns}) SELECT {columns} FROM {table}")
