"""The persons erased from the registry, recognised when their identifiers come back.

An erasure keeps only keyed digests of the person's identifiers (``identifiers``);
an import of contacts or events tests its normalised rows against them, so that a
person erased is not written again by a later file.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import polars as pl
import pyarrow as pa
from sqlalchemy import Engine, text

from listguard.identifiers import identifier_secret

ERASED_MESSAGE = "this person asked to be erased: not imported again"


def erased_filter(engine: Engine) -> Callable[[pl.DataFrame], pl.Series] | None:
    """A test of normalised rows against the persons erased from the registry (their keyed
    digests), or None when nobody was erased. The digests are computed by DuckDB, column
    by column."""
    with engine.connect() as conn:
        secret = identifier_secret(conn, create=False)
        if secret is None:
            return None
        digests = conn.execute(text("SELECT kind, digest FROM erased")).all()
    table = pa.table(
        {"kind": [d[0] for d in digests], "digest": [d[1] for d in digests]},
        schema=pa.schema([("kind", pa.string()), ("digest", pa.string())]),
    )

    def hit(rows: pl.DataFrame) -> pl.Series:
        db = duckdb.connect()
        try:
            db.register("erased", table)
            db.register("batch", rows.select(*_ERASABLE).to_arrow())
            tests = " OR ".join(
                f"coalesce(sha256($s || ':{kind}:' || {col}) IN "
                f"(SELECT digest FROM erased WHERE kind = '{kind}'), FALSE)"
                for col, kind in _ERASABLE.items()
            )
            flags = db.sql(f"SELECT {tests} AS erased FROM batch", params={"s": secret})
            column = pl.from_arrow(flags.to_arrow_table())
        finally:
            db.close()
        assert isinstance(column, pl.DataFrame)
        return column.to_series()

    return hit


# the identifiers of a normalised contact row that an erasure keeps digests of
_ERASABLE = {
    "contact_id": "contact_id",
    "email_norm": "email",
    "phone_e164": "phone",
    "mobile_e164": "phone",
}


__all__ = ["ERASED_MESSAGE", "erased_filter"]
