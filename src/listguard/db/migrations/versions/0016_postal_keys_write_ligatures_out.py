"""postal keys write Œ and Æ out: Sacré-Cœur and Sacre-Coeur are one address

The keys that compare postal coordinates (``address_key``, ``recipient_key``)
dropped the accents of a contact's address and name through the Unicode
decomposition, which leaves Œ and Æ whole: they became a space, so that
"Sacré-Cœur" and "Sacre-Coeur", "Lætitia" and "Laetitia" had different keys, and
an opposition by post, a duplicate or a suppression entry written one way missed
a contact written the other. Keys now write them out (OE, AE), as the name keys
of oppositions already did.

The keys of every contact and contact version whose name or address holds one
are computed again. A suppression entry stores only its address key: for every
such contact, an entry under the old key gets a twin under the new one (same
list, partner and date), so that what was suppressed stays suppressed. An entry
for an address that is in no contact cannot be keyed again: suppression lists
naming such addresses with Œ or Æ are to be imported again (docs/rules.md).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from alembic import op
from sqlalchemy import bindparam, text

if TYPE_CHECKING:
    import polars as pl

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIGATURES = ("œ", "Œ", "æ", "Æ")
ADDRESS = ("address_line4", "address_line5", "postal_code", "city")
NAME = ("first_name", "last_name", "company")


def _old_key(frame: pl.DataFrame) -> pl.Series:
    """The address key as it was computed before this revision."""
    import polars as pl

    return frame.select(
        pl.concat_str([pl.col(c).fill_null("") for c in ADDRESS], separator=" ")
        .str.to_uppercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all(r"[^A-Z0-9]+", " ")
        .str.strip_chars()
        .replace("", None)
    ).to_series()


def _rekey(table: str) -> list[tuple[str, str]]:
    """Compute again the keys of the rows of ``table`` that hold a ligature; returns the
    (old, new) address keys that changed."""
    import polars as pl

    from listguard.imports.contacts import postal_keys

    conn = op.get_bind()
    columns = (*ADDRESS, *NAME)
    holds = " OR ".join(f"{c} LIKE '%{lig}%'" for c in columns for lig in LIGATURES)
    rows = conn.execute(
        text(f"SELECT id, civility, {', '.join(columns)} FROM {table} WHERE {holds}")
    ).all()
    if not rows:
        return []
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"id": pl.Int64, "civility": pl.String, **dict.fromkeys(columns, pl.String)},
        orient="row",
    )
    address, recipient = postal_keys(frame, "civility")
    conn.execute(
        text(f"UPDATE {table} SET address_key = :a, recipient_key = :r WHERE id = :i"),
        [{"i": i, "a": a, "r": r} for i, a, r in zip(frame["id"], address, recipient, strict=True)],
    )
    return [
        (old, new)
        for old, new in zip(_old_key(frame), address, strict=True)
        if old is not None and new is not None and old != new
    ]


def upgrade() -> None:
    changed = sorted({pair for table in ("contacts", "contact_versions") for pair in _rekey(table)})
    if not changed:
        return
    # a suppression entry under an old key gets a twin under the new one
    op.get_bind().execute(
        text(
            "INSERT INTO suppressions (list, partner_id, kind, value, added_at, import_id) "
            "SELECT s.list, s.partner_id, s.kind, :new, s.added_at, s.import_id "
            "FROM suppressions s WHERE s.kind = 'address' AND s.value = :old "
            "AND NOT EXISTS (SELECT 1 FROM suppressions t WHERE t.list = s.list "
            "AND t.kind = 'address' AND t.value = :new)"
        ).bindparams(bindparam("old"), bindparam("new")),
        [{"old": old, "new": new} for old, new in changed],
    )


def downgrade() -> None:
    """The keys stay written out: the code of revision 0015 reads them as any key."""
