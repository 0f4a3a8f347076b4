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


def save_partner(engine: Engine, row: dict[str, str], *, by: str) -> str:
    """Create or change one partner from a form (the back office): the row goes through
    this import, so it gets the same checks and a new version when it changes; a bad
    value raises ``InputError`` with the import's message. Returns "new", "changed" or
    "unchanged"."""
    import csv
    import tempfile
    from pathlib import Path

    from listguard.errors import InputError
    from listguard.imports import import_file

    unknown = sorted(set(row) - set(KNOWN))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}")
    with tempfile.TemporaryDirectory(prefix="listguard-partner-") as folder:
        name = "".join(c if c.isalnum() else "-" for c in row.get("partner_id", ""))[:40]
        path = Path(folder) / f"{by}-{name or 'partner'}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, KNOWN, delimiter=";")
            writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in KNOWN})
        report = import_file(engine, "partners", path, rejects_path=Path(folder) / "rejects.csv")
        if report.rows_rejected:
            assert report.rejects_path is not None
            with report.rejects_path.open(encoding="utf-8-sig") as f:
                bad = list(csv.DictReader(f, delimiter=";"))
            raise InputError("; ".join(f"{b['column']}: {b['message']}" for b in bad))
    return "new" if report.rows_new else "changed" if report.rows_changed else "unchanged"


__all__ = ["COMPARED", "FIELDS", "KIND", "KNOWN", "REQUIRED", "SECTORS", "save_partner"]
