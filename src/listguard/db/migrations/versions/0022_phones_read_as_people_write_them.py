"""phones read as people write them: a label, an extension, 33 without +

A number written ``Tel: 04 13 75 05 71``, ``06 12 34 56 78 poste 12`` or
``33612345678`` (the country code a spreadsheet left without its ``+``) was held
as an invalid number: no E.164, line type ``invalid``, so the contact was never
reached by phone, and an opposition naming that number did not find it. Imports
now read such numbers (``listguard.normalise.phone``).

The numbers of every contact and contact version held as invalid are read again;
those that are numbers now get their E.164 and line type. The given text is kept
as it was. Nothing else changes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _read_again(table: str, column: str) -> None:
    import polars as pl

    from listguard.normalise.phone import normalise_phones

    conn = op.get_bind()
    rows = conn.execute(
        text(f"SELECT id, {column} FROM {table} WHERE {column}_type = 'invalid'")
    ).all()
    if not rows:
        return
    frame = pl.DataFrame(
        [tuple(r) for r in rows], schema={"id": pl.Int64, "given": pl.String}, orient="row"
    )
    read = pl.concat([frame, normalise_phones(frame["given"])], how="horizontal").filter(
        pl.col("e164").is_not_null()
    )
    if read.height:
        conn.execute(
            text(f"UPDATE {table} SET {column}_e164 = :e, {column}_type = :t WHERE id = :i"),
            [{"i": i, "e": e, "t": t} for i, _, e, t in read.iter_rows()],
        )


def upgrade() -> None:
    for table in ("contacts", "contact_versions"):
        for column in ("phone", "mobile"):
            _read_again(table, column)


def downgrade() -> None:
    """The numbers stay read: the code of revision 0020 reads them as any number."""
