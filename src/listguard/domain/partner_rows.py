"""A partner row of the partners format, checked as every route checks it.

The partners import (a file) and the partner service (the back office's form) read
rows through ``checked_partners``: a value refused on one route is refused on the
other with the same message. Each refused row is given to ``refuse`` with every check
it fails (``domain.rows``); the rows kept are the stored fields.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from listguard.db import schema
from listguard.domain.rows import Check, blank, in_the_future, rejects_of, text_or_null
from listguard.io.dates import parse_instants
from listguard.netguard import link_problem, webhook_problem
from listguard.partner_ids import PATTERN as PARTNER_ID
from listguard.partner_ids import RULE as PARTNER_ID_RULE

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
# the fields a row gives (the others are stamped when it is recorded)
COMPARED = tuple(c for c in FIELDS if c not in ("import_id", "recorded_at", "version"))

Refuse = Callable[[pl.DataFrame], None]  # rejects: line, column, value, message


def _day(col: str) -> pl.Expr:
    """A listing date is a whole day: its first second in Paris."""
    return parse_instants(pl.col(col).str.strip_chars().str.slice(0, 10))


def checked_partners(frame: pl.DataFrame, refuse: Refuse, now: int) -> pl.DataFrame:
    """The rows of ``frame`` (the partners format as text, with ``_line``) that pass every
    check, as stored fields (``partner_id`` and ``COMPARED``); the others go to
    ``refuse``. ``now``: the moment of the import (a partner is not listed ahead)."""
    sector = pl.col("sector").str.strip_chars().str.to_lowercase()
    frame = frame.with_columns(
        pl.when(sector == "").then(pl.lit("commercial")).otherwise(sector).alias("_sector"),
        _day("listed_from").alias("_from"),
        _day("listed_until").alias("_until"),
        pl.col("partner_id").str.strip_chars().alias("partner_id"),
    )
    dup = frame.group_by("partner_id").len().filter(pl.col("len") > 1)["partner_id"]
    frame = _refuse_bad_urls(frame, refuse)
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
    bad = rejects_of(frame, checks)
    refuse(bad)
    good = frame.filter(~pl.col("_line").is_in(bad["line"].implode()))
    return good.select(
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


def _refuse_bad_urls(frame: pl.DataFrame, refuse: Refuse) -> pl.DataFrame:
    """``frame`` without the lines whose ``notify_url`` is not an acceptable webhook
    address or whose ``privacy_policy_url`` is not a web link (``netguard``: the same
    check as every other route); those go to ``refuse`` with the reason. Each distinct
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
    refuse(refused)
    return frame.filter(~pl.col("_line").is_in(refused["line"].implode()))


__all__ = ["COMPARED", "FIELDS", "KNOWN", "REQUIRED", "SECTORS", "checked_partners"]
