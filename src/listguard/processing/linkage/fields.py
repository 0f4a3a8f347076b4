"""The fields deduplication and linkage compare, prepared from a batch of contacts:
names as keys (capitals without accents or punctuation), the birth date as digits,
the email as normalised for the rules, one number in E.164 (the mobile, else the
other), the house number, the street with its type written out (without the
number), the locality, the postal code, the city, and each ``--compare`` column
(``x_<name>``)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from listguard.io.dates import parse_dates_iso
from listguard.normalise.email import normalise_emails
from listguard.normalise.phone import normalise_phones
from listguard.normalise.rnvp import street_type_written_out
from listguard.normalise.text import text_key

READ = (
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "mobile",
    "address_line4",
    "address_line5",
    "postal_code",
    "city",
)


# a house number and its suffix (12, 12 B, 12 BIS, 12TER), then the street
_NUMBER = r"^(\d+(?:\s?(?:BIS|TER|QUATER|[A-Z])\b)?)\s*"


def _null_if_blank(e: pl.Expr) -> pl.Expr:
    return pl.when(e == "").then(None).otherwise(e)


def prepare(frame: pl.DataFrame, ids: pl.Series, extra: Sequence[str]) -> pl.DataFrame:
    """The compared fields of a batch: ``unique_id`` and the normalised columns."""

    n = frame.height

    def col(name: str) -> pl.Series:
        if name in frame.columns:
            return frame[name].cast(pl.String)
        return pl.Series(name, [None] * n, pl.String)

    base = pl.DataFrame({c: col(c) for c in (*READ, *extra)})
    mobiles = normalise_phones(base["mobile"])["e164"]
    phones = normalise_phones(base["phone"])["e164"]
    line4 = base.select(street_type_written_out(text_key("address_line4")).alias("_line4"))
    return base.with_columns(line4).select(
        pl.Series("unique_id", ids.cast(pl.String)),
        *[
            _null_if_blank(text_key(c)).alias(a)
            for c, a in (("first_name", "first"), ("last_name", "last"))
        ],
        pl.coalesce(
            parse_dates_iso(pl.col("birth_date")).str.replace_all("-", ""),
            pl.col("birth_date").str.strip_chars().str.extract(r"^(\d{8})$"),
        ).alias("dob"),
        normalise_emails(base["email"])["email"].alias("email"),
        pl.coalesce(mobiles, phones).alias("tel"),
        # the house number apart from the street: a number missing on one side, or
        # another number in the same street, then weighs as such, not as a typo
        _null_if_blank(pl.col("_line4").str.extract(_NUMBER, 1).str.replace_all(" ", "")).alias(
            "number"
        ),
        # "12 AV FOCH" and "12 AVENUE FOCH" are one street
        _null_if_blank(pl.col("_line4").str.replace(_NUMBER, "")).alias("street"),
        _null_if_blank(text_key("address_line5")).alias("locality"),
        _null_if_blank(pl.col("postal_code").fill_null("").str.replace_all(r"\s", "")).alias(
            "postcode"
        ),
        _null_if_blank(text_key("city")).alias("city"),
        *[_null_if_blank(text_key(c)).alias(f"x_{c}") for c in extra],
    )


def filled_fields(data: pl.DataFrame) -> set[str]:
    return {c for c in data.columns if c != "unique_id" and data[c].null_count() < data.height}


__all__ = ["READ", "filled_fields", "prepare"]
