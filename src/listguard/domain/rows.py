"""Checking rows: every check a row fails, each with its column and a message.

A ``Check`` is one rule over a batch of rows (a Polars expression true where a row
breaks it); ``rejects_of`` runs them all and gives one reject per failed check, so a
row is reported with every error it has, not only the first. The imports, the
collection API and the rights (a rectified row) check rows through these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Check:
    column: str
    bad: pl.Expr
    message: str


def rejects_of(frame: pl.DataFrame, checks: Sequence[Check]) -> pl.DataFrame:
    """The rejects of ``frame`` (one row per failed check), in line order."""
    if not checks or frame.height == 0:
        return empty_rejects()
    # every check in one pass first: most batches have no bad row, or few bad checks
    failing = frame.select(
        check.bad.fill_null(False).any().alias(str(i)) for i, check in enumerate(checks)
    ).row(0)
    parts = []
    for check, fails in zip(checks, failing, strict=True):
        if not fails:
            continue
        value = pl.col(check.column) if check.column in frame.columns else pl.lit("")
        parts.append(
            frame.filter(check.bad.fill_null(False)).select(
                pl.col("_line").alias("line"),
                pl.lit(check.column).alias("column"),
                value.cast(pl.String).fill_null("").alias("value"),
                pl.lit(check.message).alias("message"),
            )
        )
    if not parts:
        return empty_rejects()
    return pl.concat(parts)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"line": pl.Int64, "column": pl.String, "value": pl.String, "message": pl.String}
    )


# a date after the import records something that has not happened yet; a clock a
# little ahead (a partner's server) is tolerated, as for a collection posted to the API
CLOCK_TOLERANCE_SECONDS = 300


def in_the_future(col: str, now: int) -> pl.Expr:
    """True where the instant ``col`` (Unix seconds) is after ``now``, beyond the clock
    tolerance: such a date cannot record something that happened."""
    return pl.col(col) > now + CLOCK_TOLERANCE_SECONDS


def blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")


def text_or_null(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().replace("", None).alias(col)


__all__ = [
    "CLOCK_TOLERANCE_SECONDS",
    "Check",
    "blank",
    "empty_rejects",
    "in_the_future",
    "rejects_of",
    "text_or_null",
]
