"""contacts_stamp: a token that changes with every change or deletion of a contact

On SQLite, triggers renew it in the transaction that updates or deletes a contact
row, whoever runs the statement. The columnar copy of the contacts kept beside a
SQLite registry is valid only under the token it was made with.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENEW = "UPDATE contacts_stamp SET token = lower(hex(randomblob(16)))"


def upgrade() -> None:
    op.create_table(
        "contacts_stamp",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name != "sqlite":
        return  # the columnar copy is made for SQLite registries only
    op.execute("INSERT INTO contacts_stamp (id, token) VALUES (1, lower(hex(randomblob(16))))")
    for when in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER contacts_stamp_{when.lower()} AFTER {when} ON contacts "
            f"BEGIN {RENEW}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for when in ("update", "delete"):
            op.execute(f"DROP TRIGGER contacts_stamp_{when}")
    op.drop_table("contacts_stamp")
