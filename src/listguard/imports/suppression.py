"""Import of suppression lists (deceased, undeliverable, Robinson-type, a partner's own).

A row names one or more coordinates: ``email``, ``phone``, or the address
columns; each becomes an entry of the list, matched against contacts'
normalised coordinates when rules are evaluated.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine

from listguard.db import schema
from listguard.domain.rows import Check, blank, in_the_future
from listguard.imports.common import (
    Kind,
    MergeContext,
    Rejects,
    Steps,
    keep_valid,
    merge_new,
)
from listguard.imports.contacts import ADDRESS_KEY, key_of
from listguard.io.dates import parse_instants
from listguard.io.tabular import Batch, TabularFile
from listguard.normalise.email import normalise_emails
from listguard.normalise.phone import SEVERAL, normalise_phones, refused_as_several
from listguard.normalise.postal import normalise_postal_code_expr
from listguard.timeutil import now_ts

ADDRESS = schema.ADDRESS_COLUMNS
KNOWN = ("list", "email", "phone", *ADDRESS, "added_at")


def _steps(tab: TabularFile, _engine: Engine) -> Steps:
    now = now_ts()  # an entry without added_at is added by this import

    def stage(batch: Batch, rejects: Rejects) -> dict[str, pl.DataFrame]:
        frame = batch.frame
        phones = normalise_phones(frame["phone"])
        emails = normalise_emails(frame["email"])
        frame = frame.with_columns(
            pl.col("list").str.strip_chars().alias("_list"),
            phones["e164"].alias("_phone"),
            refused_as_several(frame["phone"], phones["e164"]).alias("_several"),
            emails["email"].alias("_email"),
            parse_instants(pl.col("added_at")).alias("_added"),
            normalise_postal_code_expr().alias("postal_code"),
        )
        frame = frame.with_columns(
            pl.when(blank("address_line4") & blank("address_line5"))
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(key_of(frame, ADDRESS_KEY))
            .alias("_address")
        )
        checks = [
            Check(
                "list",
                blank("list"),
                "list is required (deceased, undeliverable, robinson, partner:<id> or a name)",
            ),
            Check(
                "email",
                ~blank("email") & pl.col("_email").is_null(),
                "not a valid email address",
            ),
            Check(
                "phone",
                ~blank("phone") & pl.col("_phone").is_null() & pl.col("_several"),
                f"not a valid phone number: {SEVERAL}",
            ),
            Check(
                "phone",
                ~blank("phone") & pl.col("_phone").is_null() & ~pl.col("_several"),
                "not a valid phone number",
            ),
            Check(
                "email",
                blank("email") & blank("phone") & pl.col("_address").is_null(),
                "the row names no coordinate: give an email, a phone or an address (line 4 or 5)",
            ),
            Check(
                "added_at",
                ~blank("added_at") & pl.col("_added").is_null(),
                "added_at is not a real date",
            ),
            Check(
                "added_at",
                in_the_future("_added", now),
                "added_at is after the import: an entry is added once it is known",
            ),
        ]
        good = keep_valid(frame, checks, rejects)
        added = pl.col("_added").fill_null(now)
        partner = (
            pl.when(pl.col("_list").str.starts_with("partner:"))
            .then(pl.col("_list").str.slice(8))
            .otherwise(pl.lit(None, dtype=pl.String))
        )
        entries = pl.concat(
            [
                good.filter(pl.col(col).is_not_null()).select(
                    pl.col("_list").alias("list"),
                    partner.alias("partner_id"),
                    pl.lit(kind).alias("kind"),
                    pl.col(col).alias("value"),
                    added.alias("added_at"),
                )
                for kind, col in (
                    ("email", "_email"),
                    ("phone", "_phone"),
                    ("address", "_address"),
                )
            ]
        )
        return {"suppressions": entries}

    def merge(ctx: MergeContext) -> None:
        merge_new(ctx, schema.suppressions, "list, kind, value", ctx.table("suppressions"))

    return Steps(stage, merge)


KIND = Kind("suppression", ("list",), KNOWN, _steps)
