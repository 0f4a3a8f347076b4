"""outbox: a message per event, partner and delivery, so that a backdated delivery
forwards an opposition under its own contact references

A message queued when an event is recorded covers every delivery the partner then
held (``delivery_id`` 0). A delivery decided as of a past day queues, for the
oppositions it leaves out, a message of its own (its ``delivery_id``), even when
the partner was told of the opposition for an earlier delivery: the partner holds
the person again, under this delivery's references.

On SQLite the UNIQUE constraint is part of the table, so ``outbox`` is made again.
``outbox_items`` refers to it: its rows are held in a table without the reference,
both tables are dropped, then made again in order with their indexes, the
references checked as the rows come back; all in the migration's transaction.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 09:30:00
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_outbox_event_partner"
NEW = "uq_outbox_event_partner_delivery"
_OLD_SQL = f"CONSTRAINT {OLD} UNIQUE (event_id, partner_id)"
_NEW_SQL = f"CONSTRAINT {NEW} UNIQUE (event_id, partner_id, delivery_id)"
COLUMN = "delivery_id INTEGER NOT NULL DEFAULT 0"


def _rebuild_sqlite(change: Callable[[str], str]) -> None:
    """Make ``outbox`` again under the definition ``change`` gives of its present one,
    with its rows (ids kept) and indexes; and ``outbox_items``, which refers to it, with
    its rows and index."""
    conn = op.get_bind()

    def definitions(kind: str, table: str) -> list[str]:
        rows = conn.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE type = :k AND tbl_name = :t "
                "AND sql IS NOT NULL ORDER BY name"
            ),
            {"k": kind, "t": table},
        ).scalars()
        return [str(r) for r in rows]

    (outbox_sql,) = definitions("table", "outbox")
    (items_sql,) = definitions("table", "outbox_items")
    indexes = definitions("index", "outbox") + definitions("index", "outbox_items")
    new_sql, named = re.subn(
        r'^CREATE TABLE "?outbox"?', "CREATE TABLE lg_outbox_new", change(outbox_sql)
    )
    if named != 1:
        raise RuntimeError(f"outbox: unexpected definition {outbox_sql[:40]!r}")
    # the items wait in a table without the reference while both tables are made again
    op.execute("CREATE TABLE lg_outbox_items_held AS SELECT * FROM outbox_items")
    op.execute("DROP TABLE outbox_items")
    op.execute(new_sql)
    columns = ", ".join(
        str(r[1]) for r in conn.execute(text("PRAGMA table_info(lg_outbox_new)")).all()
    )
    op.execute(f"INSERT INTO lg_outbox_new ({columns}) SELECT {columns} FROM outbox")
    op.execute("DROP TABLE outbox")
    op.execute("ALTER TABLE lg_outbox_new RENAME TO outbox")
    op.execute(items_sql)
    op.execute("INSERT INTO outbox_items SELECT * FROM lg_outbox_items_held")
    op.execute("DROP TABLE lg_outbox_items_held")
    for sql in indexes:
        op.execute(sql)


def _replaced(sql: str, old: str, new: str) -> str:
    if sql.count(old) != 1:
        raise RuntimeError(f"outbox: {old!r} not found in its definition")
    return sql.replace(old, new)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE outbox ADD COLUMN {COLUMN}")
        _rebuild_sqlite(lambda sql: _replaced(sql, _OLD_SQL, _NEW_SQL))
        return
    op.add_column(
        "outbox", sa.Column("delivery_id", sa.Integer(), nullable=False, server_default="0")
    )
    op.drop_constraint(OLD, "outbox", type_="unique")
    op.create_unique_constraint(NEW, "outbox", ["event_id", "partner_id", "delivery_id"])


def downgrade() -> None:
    conn = op.get_bind()
    if conn.execute(text("SELECT count(*) FROM outbox WHERE delivery_id <> 0")).scalar_one():
        raise RuntimeError(
            "the outbox holds messages queued by backdated deliveries, which 0016 cannot hold"
        )
    if conn.dialect.name == "sqlite":

        def change(sql: str) -> str:
            without = re.sub(r",\s*delivery_id INTEGER NOT NULL DEFAULT 0", "", sql)
            return _replaced(without, _NEW_SQL, _OLD_SQL)

        _rebuild_sqlite(change)
        return
    op.drop_constraint(NEW, "outbox", type_="unique")
    op.create_unique_constraint(OLD, "outbox", ["event_id", "partner_id"])
    op.drop_column("outbox", "delivery_id")
