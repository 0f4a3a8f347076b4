"""Import of partners and their listing dates.

Partner ids are never reused: a row with a known id is the same partner, and a
changed row becomes a new version (its previous version is kept in
``partner_versions``; ``partner_history`` shows every version). The rows are checked
as the back office's form checks them (``domain.partner_rows``).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine

from listguard.db import schema
from listguard.domain.partner_rows import (
    COMPARED,
    FIELDS,
    KNOWN,
    REQUIRED,
    SECTORS,
    checked_partners,
)
from listguard.imports.common import Kind, MergeContext, Rejects, Steps, upsert_versioned
from listguard.io.tabular import Batch, TabularFile
from listguard.timeutil import now_ts


def _steps(tab: TabularFile, _engine: Engine) -> Steps:
    now = now_ts()

    def stage(batch: Batch, rejects: Rejects) -> dict[str, pl.DataFrame]:
        return {"partners": checked_partners(batch.frame, rejects.add, now)}

    def merge(ctx: MergeContext) -> None:
        upsert_versioned(
            ctx,
            schema.partners,
            schema.partner_versions,
            "partner_id",
            COMPARED,
            COMPARED,
            ctx.table("partners"),
        )

    return Steps(stage, merge)


KIND = Kind("partners", REQUIRED, KNOWN, _steps)

__all__ = ["COMPARED", "FIELDS", "KIND", "KNOWN", "REQUIRED", "SECTORS"]
