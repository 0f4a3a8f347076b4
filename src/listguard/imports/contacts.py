"""Import of the owner's base (``contacts`` format).

Staging checks and normalises each batch, and stages the good rows and, for
every line, its ``contact_id``. The merge first rejects every line whose
``contact_id`` appears on several lines of the file (none of them can be
recorded faithfully), then upserts the others: a contact that changed has its
previous version copied to ``contact_versions`` first (``contact_history``
shows every version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine, text

from listguard.db import schema
from listguard.domain.contact_rows import (
    ADDRESS_KEY,
    CHOICE_COLUMNS,
    FIELDS,
    KNOWN,
    TEXT_COLUMNS,
    checks,
    future_checks,
    key_of,
    normalise,
    normalise_row,
    normalise_rows,
    postal_keys,
    prepare,
)
from listguard.domain.erased import ERASED_MESSAGE, erased_filter
from listguard.imports.common import (
    FirstLoad,
    Kind,
    MergeContext,
    Rejects,
    Steps,
    duplicate_rejects,
    duplicated_keys,
    keep_valid,
    upsert_versioned,
)
from listguard.io.tabular import Batch, TabularFile
from listguard.timeutil import now_ts

if TYPE_CHECKING:
    from listguard.storage.query import Query

REQUIRED = ("contact_id", "collected_at")
# columns compared to decide whether a re-imported row changed (derived ones follow from these)
COMPARED = (
    "civility_given",
    *TEXT_COLUMNS,
    "audience",
    "postal_code",
    "country",
    "phone",
    "mobile",
    "email",
    "birth_date",
    "collected_at",
    *CHOICE_COLUMNS,
    "attributes",
)


DUPLICATE_ID = "this contact_id appears on several lines of the file: none of them is imported"


def _copy_query() -> Query:
    """The contacts' columnar copy, which a first load writes (ADR 0015)."""
    from listguard.rules.extracts import contacts_copy_query

    return contacts_copy_query()


def _steps(tab: TabularFile, engine: Engine) -> Steps:
    extra = [c for c in tab.columns if c not in KNOWN]
    rules = (*checks(), *future_checks(now_ts()))
    erased = erased_filter(engine)

    def stage(batch: Batch, rejects: Rejects) -> dict[str, pl.DataFrame]:
        frame = prepare(batch.frame, extra)
        ids = frame.select(
            pl.col("_line").alias("line"), pl.col("contact_id").str.strip_chars()
        ).filter(pl.col("contact_id") != "")
        good = keep_valid(frame, rules, rejects)
        rows = normalise(good, extra)
        if erased is not None and rows.height:
            hit = erased(rows)
            rejects.add(
                rows.filter(hit).select(
                    pl.col("_line").alias("line"),
                    pl.lit("contact_id").alias("column"),
                    pl.col("contact_id").alias("value"),
                    pl.lit(ERASED_MESSAGE).alias("message"),
                )
            )
            rows = rows.filter(~hit)
        return {"contacts": rows.drop("_line"), "ids": ids}

    def merge(ctx: MergeContext) -> None:
        conn, ids = ctx.conn, ctx.table("ids")
        dup = duplicated_keys(ids, "contact_id")
        lines = conn.execute(
            text(f"SELECT line, contact_id FROM {ids} WHERE contact_id IN ({dup})")
        ).all()
        table = pa.table(
            {"line": [int(r[0]) for r in lines], "contact_id": [r[1] for r in lines]},
            schema=pa.schema([("line", pa.int64()), ("contact_id", pa.string())]),
        )
        ctx.rejects.add(duplicate_rejects(table, "contact_id", DUPLICATE_ID))
        # into an empty registry, look-up indexes are built once at the end (sorted, fast)
        first_load = conn.execute(text("SELECT 1 FROM contacts LIMIT 1")).first() is None
        deferred = [i for i in schema.contacts.indexes if not i.unique] if first_load else []
        for index in deferred:
            index.drop(conn)
        upsert_versioned(
            ctx,
            schema.contacts,
            schema.contact_versions,
            "contact_id",
            FIELDS,
            COMPARED,
            ctx.table("contacts"),
            where=f"s.contact_id NOT IN ({dup})",
        )
        for index in deferred:
            index.create(conn)

    first = FirstLoad(
        schema.contacts, "contacts", "ids", "contact_id", DUPLICATE_ID, copy=_copy_query
    )
    return Steps(stage, merge, first_load=first, attributes=tuple(extra))


KIND = Kind("contacts", REQUIRED, KNOWN, _steps)

# the contact rows are the domain's (``domain.contact_rows``); named here too for the
# migrations that read them through this module, as of their day
__all__ = [
    "ADDRESS_KEY",
    "COMPARED",
    "DUPLICATE_ID",
    "ERASED_MESSAGE",
    "FIELDS",
    "KIND",
    "KNOWN",
    "REQUIRED",
    "key_of",
    "normalise_row",
    "normalise_rows",
    "postal_keys",
]
