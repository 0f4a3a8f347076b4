"""A contact row of the contacts format, checked and normalised as every route does it.

The contacts import (a batch at a time), the collection API (a form), the opposition
by postal address and the rectification of a person's data read a row through these
functions, so a value accepted, normalised or refused on one route is the same on
every other: ``prepare`` derives the values the checks look at, ``checks`` and
``future_checks`` are the rules (every failed one is reported, ``domain.rows``),
``normalise`` gives the stored fields. ``normalise_rows`` does all of it for rows given
as mappings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import polars as pl

from listguard.db import schema
from listguard.domain.rows import Check, blank, in_the_future, rejects_of, text_or_null
from listguard.errors import InputError
from listguard.io.dates import parse_dates_iso, parse_instants_of
from listguard.normalise.civility import normalise_civilities
from listguard.normalise.email import normalise_emails
from listguard.normalise.phone import normalise_phones
from listguard.normalise.postal import address_status_expr, normalise_postal_code_expr
from listguard.normalise.text import by_distinct, text_keys, trimmed_lower
from listguard.timeutil import now_ts, to_day

# the stored fields the file decides (the import adds import_id, recorded_at and version)
FIELDS = tuple(c for c in schema.CONTACT_FIELDS if c not in ("import_id", "recorded_at", "version"))
CHOICE_COLUMNS = tuple(f"{scope}_{ch}" for scope in ("partners", "own") for ch in schema.CHANNELS)
TEXT_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    *schema.ADDRESS_LINES,
    "city",
    "collection_source",
    "notice_version",
)
KNOWN = (
    "contact_id",
    "civility",
    "audience",
    "postal_code",
    "country",
    "phone",
    "mobile",
    "email",
    "birth_date",
    "collected_at",
    *TEXT_COLUMNS,
    *CHOICE_COLUMNS,
)


ADDRESS_KEY = ("address_line4", "address_line5", "postal_code", "city")
NAME_KEY = ("first_name", "last_name", "company")


def key_of(frame: pl.DataFrame, cols: tuple[str, ...]) -> pl.Series:
    """The key of ``cols`` for comparing postal coordinates, on every row of ``frame``:
    ``text_key`` of the columns joined (in capitals, without accents or punctuation,
    Œ and Æ written out). A null column adds no separator: most keys are then already
    clean, and ``text_keys`` leaves them as they are."""
    joined = frame.select(pl.concat_str(cols, separator=" ", ignore_nulls=True))
    return text_keys(joined.to_series())


def postal_keys(frame: pl.DataFrame, civility: str) -> tuple[pl.Series, pl.Series]:
    """``address_key`` (null when empty) and ``recipient_key`` (civility, name and
    address keys; null without an address) of every row of ``frame``: its address
    and name columns as normalised, and its normalised civility ``civility``."""
    address = key_of(frame, ADDRESS_KEY).replace("", None).alias("address_key")
    recipient = pl.DataFrame(
        [frame[civility].fill_null("").alias("c"), key_of(frame, NAME_KEY).alias("n"), address]
    ).select(pl.concat_str(["c", "n", "address_key"], separator="|").alias("recipient_key"))
    return address, recipient.to_series()


@cache
def checks() -> tuple[Check, ...]:
    """The rules a contact row follows whenever it is checked (the dates' order with
    the present aside: ``future_checks``)."""
    found = [
        Check("contact_id", blank("contact_id"), "contact_id is required"),
        Check("collected_at", blank("collected_at"), "collected_at is required"),
        Check(
            "collected_at",
            ~blank("collected_at") & pl.col("_collected_ts").is_null(),
            "collected_at is not a real date (expected 2026-03-14, 2026-03-14T09:30:00+01:00 "
            "or 14/03/2026)",
        ),
        Check(
            "audience",
            ~pl.col("_audience").is_in(["b2c", "b2b"]),
            "audience must be b2c or b2b",
        ),
        Check(
            "country",
            ~pl.col("_country").str.contains(r"^[A-Z]{2}$"),
            "country must be an ISO 3166-1 alpha-2 code such as FR",
        ),
        Check(
            "birth_date",
            ~blank("birth_date") & pl.col("_birth").is_null(),
            "birth_date is not a real date",
        ),
    ]
    for col in CHOICE_COLUMNS:
        given = pl.col(_choice(col))
        found.append(
            Check(
                col,
                (given != "") & ~given.is_in(list(schema.CHOICE_STATES)),
                "unknown choice value: expected consent, objection, informed or empty",
            )
        )
    return tuple(found)


def future_checks(now: int) -> tuple[Check, ...]:
    """Dates after the import (``now``): they cannot record something that happened."""
    return (
        Check(
            "collected_at",
            in_the_future("_collected_ts", now),
            "collected_at is after the import: choices are recorded once they were made",
        ),
        Check(
            "birth_date",
            pl.col("_birth") > to_day(now).isoformat(),
            "birth_date is after the import",
        ),
    )


def _choice(col: str) -> str:
    """The column of ``_prepare`` holding the choice ``col`` trimmed and lower-cased."""
    return f"_choice_{col}"


def prepare(frame: pl.DataFrame, extra: list[str]) -> pl.DataFrame:
    audience = pl.col("audience").str.strip_chars().str.to_lowercase()
    country = pl.col("country").str.strip_chars().str.to_uppercase()
    return frame.with_columns(
        parse_instants_of(frame["collected_at"]).alias("_collected_ts"),
        pl.when(audience == "").then(pl.lit("b2c")).otherwise(audience).alias("_audience"),
        pl.when(country == "").then(pl.lit("FR")).otherwise(country).alias("_country"),
        parse_dates_iso(pl.col("birth_date")).alias("_birth"),
        *(trimmed_lower(frame[c], schema.CHOICE_STATES).alias(_choice(c)) for c in CHOICE_COLUMNS),
    )


def normalise(frame: pl.DataFrame, extra: list[str]) -> pl.DataFrame:
    phones = normalise_phones(frame["phone"])
    mobiles = normalise_phones(frame["mobile"])
    emails = normalise_emails(frame["email"])
    attributes = (
        pl.struct([pl.col(c) for c in extra]).struct.json_encode()
        if extra
        else pl.lit(None, dtype=pl.String)
    )
    out = frame.with_columns(
        pl.col("contact_id").str.strip_chars(),
        normalise_civilities(frame["civility"]).alias("civility_norm"),
        text_or_null("civility").alias("civility_given"),
        *[text_or_null(c) for c in (*TEXT_COLUMNS, "phone", "mobile", "email")],
        by_distinct(frame["postal_code"], normalise_postal_code_expr("v"), pl.String).alias(
            "postal_code"
        ),
        pl.col("_audience").alias("audience"),
        pl.col("_country").alias("country"),
        pl.col("_birth").alias("birth_date"),
        pl.col("_collected_ts").alias("collected_at"),
        *[
            pl.when(pl.col(_choice(c)) == "")
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.col(_choice(c)))
            .alias(c)
            for c in CHOICE_COLUMNS
        ],
        phones["e164"].alias("phone_e164"),
        phones["line_type"].alias("phone_type"),
        mobiles["e164"].alias("mobile_e164"),
        mobiles["line_type"].alias("mobile_type"),
        emails["email"].alias("email_norm"),
        pl.when(emails["valid"].is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(emails["valid"])
        .then(pl.lit("valid"))
        .otherwise(pl.lit("invalid"))
        .alias("email_status"),
        attributes.alias("attributes"),
    )
    out = out.with_columns(
        address_status_expr().alias("address_status"), *postal_keys(out, "civility_norm")
    )
    out = out.rename({"civility": "civility_raw"}).rename({"civility_norm": "civility"})
    return out.select("_line", "contact_id", *FIELDS)


def normalise_row(raw: dict[str, str]) -> dict[str, Any]:
    """One contact row of the contacts format (text values; unknown keys are extra
    attributes), checked and normalised exactly as an import does; a bad value raises
    ``InputError`` naming the column."""
    done = normalise_rows([raw])[0]
    if isinstance(done, InputError):
        raise done
    return done


def normalise_rows(raws: Sequence[dict[str, str]]) -> list[dict[str, Any] | InputError]:
    """Rows of the contacts format checked and normalised together, exactly as an import
    does (one batch: the fixed cost of the columnar path is paid once); each is its
    normalised row, or the ``InputError`` of its first bad value."""
    extra = sorted({c for raw in raws for c in raw if c not in KNOWN})
    names = (*KNOWN, *extra)
    frame = pl.DataFrame(
        {
            "_line": list(range(1, len(raws) + 1)),
            **{
                c: [raw.get(c, "") if c in KNOWN or c in raw else None for raw in raws]
                for c in names
            },
        },
        schema={"_line": pl.Int64, **dict.fromkeys(names, pl.String)},
    )
    prepared = prepare(frame, extra)
    errors: dict[int, InputError] = {}
    rules = (*checks(), *future_checks(now_ts()))
    for bad in rejects_of(prepared, rules).iter_rows(named=True):
        errors.setdefault(
            int(bad["line"]),
            InputError(f"{bad['value']!r}: {bad['message']}", where=str(bad["column"])),
        )
    rows = normalise(prepared, extra).iter_rows(named=True)
    out: list[dict[str, Any] | InputError] = []
    for line, row in enumerate(rows, 1):
        if line in errors:
            out.append(errors[line])
            continue
        if extra and row.get("attributes") and any(c not in raws[line - 1] for c in extra):
            # the extra fields of this row only, encoded as the columnar path encodes them
            own = {k: v for k, v in json.loads(row["attributes"]).items() if v is not None}
            row["attributes"] = (
                json.dumps(own, ensure_ascii=False, separators=(",", ":")) if own else None
            )
        out.append({k: v for k, v in row.items() if k != "_line"})
    return out


__all__ = [
    "ADDRESS_KEY",
    "CHOICE_COLUMNS",
    "FIELDS",
    "KNOWN",
    "NAME_KEY",
    "TEXT_COLUMNS",
    "checks",
    "future_checks",
    "key_of",
    "normalise",
    "normalise_row",
    "normalise_rows",
    "postal_keys",
    "prepare",
]
