"""initial registry

Revision ID: 0001
Revises:
Create Date: 2026-11-28 06:58:19.790104
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bloctel_screenings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("screened_at", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.Column("numbers", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bloctel_screenings")),
        sa.UniqueConstraint("file_sha256", "screened_at", name="uq_bloctel_screenings_file"),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_new", sa.Integer(), nullable=False),
        sa.Column("rows_changed", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_table(
        "bloctel_results",
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("listed", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["bloctel_screenings.id"],
            name=op.f("fk_bloctel_results_screening_id_bloctel_screenings"),
        ),
        sa.PrimaryKeyConstraint("screening_id", "phone_e164", name=op.f("pk_bloctel_results")),
    )
    with op.batch_alter_table("bloctel_results", schema=None) as batch_op:
        batch_op.create_index("ix_bloctel_results_phone", ["phone_e164"], unique=False)

    op.create_table(
        "contact_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("civility", sa.String(length=8), nullable=True),
        sa.Column("civility_given", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("audience", sa.String(length=3), nullable=False),
        sa.Column("address_line2", sa.Text(), nullable=True),
        sa.Column("address_line3", sa.Text(), nullable=True),
        sa.Column("address_line4", sa.Text(), nullable=True),
        sa.Column("address_line5", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("address_status", sa.String(length=8), nullable=False),
        sa.Column("address_key", sa.Text(), nullable=True),
        sa.Column("recipient_key", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("phone_type", sa.String(length=16), nullable=True),
        sa.Column("mobile", sa.Text(), nullable=True),
        sa.Column("mobile_e164", sa.String(length=20), nullable=True),
        sa.Column("mobile_type", sa.String(length=16), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("email_norm", sa.Text(), nullable=True),
        sa.Column("email_status", sa.String(length=8), nullable=True),
        sa.Column("birth_date", sa.String(length=10), nullable=True),
        sa.Column("collected_at", sa.BigInteger(), nullable=False),
        sa.Column("collection_source", sa.Text(), nullable=True),
        sa.Column("notice_version", sa.Text(), nullable=True),
        sa.Column("partners_postal", sa.String(length=10), nullable=True),
        sa.Column("partners_phone", sa.String(length=10), nullable=True),
        sa.Column("partners_automated_call", sa.String(length=10), nullable=True),
        sa.Column("partners_sms", sa.String(length=10), nullable=True),
        sa.Column("partners_email", sa.String(length=10), nullable=True),
        sa.Column("own_postal", sa.String(length=10), nullable=True),
        sa.Column("own_phone", sa.String(length=10), nullable=True),
        sa.Column("own_automated_call", sa.String(length=10), nullable=True),
        sa.Column("own_sms", sa.String(length=10), nullable=True),
        sa.Column("own_email", sa.String(length=10), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_contact_versions_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_versions")),
        sa.UniqueConstraint("contact_id", "version", name="uq_contact_versions_contact_version"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("civility", sa.String(length=8), nullable=True),
        sa.Column("civility_given", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("audience", sa.String(length=3), nullable=False),
        sa.Column("address_line2", sa.Text(), nullable=True),
        sa.Column("address_line3", sa.Text(), nullable=True),
        sa.Column("address_line4", sa.Text(), nullable=True),
        sa.Column("address_line5", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("address_status", sa.String(length=8), nullable=False),
        sa.Column("address_key", sa.Text(), nullable=True),
        sa.Column("recipient_key", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("phone_type", sa.String(length=16), nullable=True),
        sa.Column("mobile", sa.Text(), nullable=True),
        sa.Column("mobile_e164", sa.String(length=20), nullable=True),
        sa.Column("mobile_type", sa.String(length=16), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("email_norm", sa.Text(), nullable=True),
        sa.Column("email_status", sa.String(length=8), nullable=True),
        sa.Column("birth_date", sa.String(length=10), nullable=True),
        sa.Column("collected_at", sa.BigInteger(), nullable=False),
        sa.Column("collection_source", sa.Text(), nullable=True),
        sa.Column("notice_version", sa.Text(), nullable=True),
        sa.Column("partners_postal", sa.String(length=10), nullable=True),
        sa.Column("partners_phone", sa.String(length=10), nullable=True),
        sa.Column("partners_automated_call", sa.String(length=10), nullable=True),
        sa.Column("partners_sms", sa.String(length=10), nullable=True),
        sa.Column("partners_email", sa.String(length=10), nullable=True),
        sa.Column("own_postal", sa.String(length=10), nullable=True),
        sa.Column("own_phone", sa.String(length=10), nullable=True),
        sa.Column("own_automated_call", sa.String(length=10), nullable=True),
        sa.Column("own_sms", sa.String(length=10), nullable=True),
        sa.Column("own_email", sa.String(length=10), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_contacts_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_contacts_contact_id")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_email_norm", ["email_norm"], unique=False)
        batch_op.create_index("ix_contacts_mobile_e164", ["mobile_e164"], unique=False)
        batch_op.create_index("ix_contacts_phone_e164", ["phone_e164"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=True),
        sa.Column("email_norm", sa.Text(), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("partner_id", sa.Text(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("via", sa.String(length=80), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("event_key", sa.Text(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_events_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_events_event_key")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_contact_id", ["contact_id"], unique=False)
        batch_op.create_index("ix_events_email_norm", ["email_norm"], unique=False)
        batch_op.create_index("ix_events_phone_e164", ["phone_e164"], unique=False)

    op.create_table(
        "partner_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("privacy_policy_url", sa.Text(), nullable=True),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("listed_from", sa.BigInteger(), nullable=True),
        sa.Column("listed_until", sa.BigInteger(), nullable=True),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("notify_email", sa.Text(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_partner_versions_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_versions")),
    )
    op.create_table(
        "partners",
        sa.Column("partner_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("privacy_policy_url", sa.Text(), nullable=True),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("listed_from", sa.BigInteger(), nullable=True),
        sa.Column("listed_until", sa.BigInteger(), nullable=True),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("notify_email", sa.Text(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_partners_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partners")),
    )
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list", sa.Text(), nullable=False),
        sa.Column("partner_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_suppressions_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("list", "kind", "value", name="uq_suppressions_entry"),
    )
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index("ix_suppressions_value", ["kind", "value"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Text(), nullable=False),
        sa.Column("order_text", sa.Text(), nullable=False),
        sa.Column("order_sha256", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.String(length=10), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("packs", sa.Text(), nullable=False),
        sa.Column("partner_list_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("out_dir", sa.Text(), nullable=False),
        sa.Column("contacts_delivered", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.partner_id"], name=op.f("fk_deliveries_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("coordinate", sa.Text(), nullable=False),
        sa.Column("contact_ref", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_ledger_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger")),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_contact_id", ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_contact_id")

    op.drop_table("ledger")
    op.drop_table("deliveries")
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_value")

    op.drop_table("suppressions")
    op.drop_table("partners")
    op.drop_table("partner_versions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_phone_e164")
        batch_op.drop_index("ix_events_email_norm")
        batch_op.drop_index("ix_events_contact_id")

    op.drop_table("events")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_phone_e164")
        batch_op.drop_index("ix_contacts_mobile_e164")
        batch_op.drop_index("ix_contacts_email_norm")

    op.drop_table("contacts")
    op.drop_table("contact_versions")
    with op.batch_alter_table("bloctel_results", schema=None) as batch_op:
        batch_op.drop_index("ix_bloctel_results_phone")

    op.drop_table("bloctel_results")
    op.drop_table("imports")
    op.drop_table("bloctel_screenings")
