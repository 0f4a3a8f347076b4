"""Import of partners and their listing dates.

Partner ids are never reused: a row with a known id is the same partner, and a
changed row becomes a new version (its previous version is kept in
``partner_versions``; ``partner_history`` shows every version).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine

from listguard.db import schema
from listguard.imports.common import (
    Check,
    Kind,
    MergeContext,
    Rejects,
    Steps,
    blank,
    in_the_future,
    keep_valid,
    text_or_null,
    upsert_versioned,
)
from listguard.io.dates import parse_instants
from listguard.io.tabular import Batch, TabularFile
from listguard.netguard import link_problem, webhook_problem
from listguard.partner_ids import PATTERN as PARTNER_ID
from listguard.partner_ids import RULE as PARTNER_ID_RULE
from listguard.timeutil import now_ts

SECTORS = ("commercial", "press", "public_service", "polling", "non_profit")
KNOWN = (
    "partner_id",
    "name",
    "legal_name",
    "category",
    "privacy_policy_url",
    "sector",
    "listed_from",
    "listed_until",
    "notify_url",
    "notify_email",
)
REQUIRED = ("partner_id", "name", "category")
FIELDS = tuple(c.name for c in schema.partners.columns if c.name not in ("partner_id",))
COMPARED = tuple(c for c in FIELDS if c not in ("import_id", "recorded_at", "version"))


def _day(col: str) -> pl.Expr:
    """A listing date is a whole day: its first second in Paris."""
    return parse_instants(pl.col(col).str.strip_chars().str.slice(0, 10))


def _steps(tab: TabularFile, _engine: Engine) -> Steps:
    now = now_ts()

    def stage(batch: Batch, rejects: Rejects) -> dict[str, pl.DataFrame]:
        frame = batch.frame
        sector = pl.col("sector").str.strip_chars().str.to_lowercase()
        frame = frame.with_columns(
            pl.when(sector == "").then(pl.lit("commercial")).otherwise(sector).alias("_sector"),
            _day("listed_from").alias("_from"),
            _day("listed_until").alias("_until"),
            pl.col("partner_id").str.strip_chars().alias("partner_id"),
        )
        dup = frame.group_by("partner_id").len().filter(pl.col("len") > 1)["partner_id"]
        frame = _refuse_bad_urls(frame, rejects)
        checks = [
            Check("partner_id", blank("partner_id"), "partner_id is required"),
            Check(
                "partner_id",
                ~blank("partner_id")
                & (
                    ~pl.col("partner_id").str.contains(f"^{PARTNER_ID}$")
                    | pl.col("partner_id").str.contains("..", literal=True)
                ),
                PARTNER_ID_RULE,
            ),
            Check(
                "partner_id",
                pl.col("partner_id").is_in(dup.implode()),
                "this partner_id appears on several lines of the file",
            ),
            Check("name", blank("name"), "name is required"),
            Check("category", blank("category"), "category is required"),
            Check(
                "sector",
                ~pl.col("_sector").is_in(list(SECTORS)),
                f"sector must be one of {', '.join(SECTORS)}",
            ),
            Check(
                "listed_from",
                ~blank("listed_from") & pl.col("_from").is_null(),
                "listed_from is not a real date",
            ),
            Check(
                "listed_from",
                in_the_future("_from", now),
                "listed_from is after the import: a partner is listed from the day it is "
                "added to the list, not before",
            ),
            Check(
                "listed_until",
                ~blank("listed_until") & pl.col("_until").is_null(),
                "listed_until is not a real date",
            ),
            Check(
                "listed_until",
                pl.col("_until").is_not_null()
                & (pl.col("_from").is_null() | (pl.col("_until") < pl.col("_from"))),
                "listed_until is before listed_from",
            ),
        ]
        good = keep_valid(frame, checks, rejects)
        rows = good.select(
            "partner_id",
            text_or_null("name"),
            text_or_null("legal_name"),
            text_or_null("category"),
            text_or_null("privacy_policy_url"),
            pl.col("_sector").alias("sector"),
            pl.col("_from").alias("listed_from"),
            pl.col("_until").alias("listed_until"),
            text_or_null("notify_url"),
            text_or_null("notify_email"),
        )
        return {"partners": rows}

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


def _refuse_bad_urls(frame: pl.DataFrame, rejects: Rejects) -> pl.DataFrame:
    """``frame`` without the lines whose ``notify_url`` is not an acceptable webhook
    address or whose ``privacy_policy_url`` is not a web link (``netguard``: the same
    check as every other route); those go to ``rejects`` with the reason. Each distinct
    address is checked once (a partners file has a few dozen lines)."""
    found = []
    for column, problem in (("notify_url", webhook_problem), ("privacy_policy_url", link_problem)):
        values = frame.select(pl.col(column).str.strip_chars()).to_series()
        reasons = {v: problem(v) for v in values.drop_nulls().unique().to_list() if v}
        bad = {v: f"{column}: {why}" for v, why in reasons.items() if why is not None}
        if bad:
            found.append(
                frame.filter(pl.col(column).str.strip_chars().is_in(list(bad))).select(
                    pl.col("_line").cast(pl.Int64).alias("line"),
                    pl.lit(column).alias("column"),
                    pl.col(column).alias("value"),
                    pl.col(column)
                    .str.strip_chars()
                    .replace_strict(bad, return_dtype=pl.String)
                    .alias("message"),
                )
            )
    if not found:
        return frame
    refused = pl.concat(found)
    rejects.add(refused)
    return frame.filter(~pl.col("_line").is_in(refused["line"].implode()))


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
