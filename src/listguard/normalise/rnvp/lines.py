"""Where each part of an address goes: the address columns (or one free-text field)
split into parts in reading order, and each part given its line of the standard
(2: inside the building, 3: the building, 4: number and street, 5: locality or
distribution service) or recognised as a postal code and city written among the
lines."""

from __future__ import annotations

import re

import polars as pl

from listguard.normalise.rnvp.formats import (
    EXT,
    LINE2,
    LINE3,
    LINE5,
    NUMBER_ONLY,
    POSTAL_CITY,
)
from listguard.normalise.rnvp.oneline import set_services_apart, split_postal_city
from listguard.normalise.rnvp.streets import street_types
from listguard.normalise.text import text_key

LINES = ("address_line2", "address_line3", "address_line4", "address_line5", "address")
_GIVEN = {"address_line2": 2, "address_line3": 3, "address_line4": 4, "address_line5": 5}


def parts(base: pl.DataFrame) -> pl.DataFrame:
    """Every address part in reading order (``_row``, ``pos``, ``given``: the line it was
    written on, 9 for free text; ``text`` as written; ``key``), split at commas,
    semicolons, bars and line breaks, around a distribution service (``BP 45``) and
    before a postal code and town written on the same line (``_pc``); a lone number is
    joined to the part after it."""
    written = (
        base.select("_row", *LINES)
        .unpivot(index="_row", variable_name="source", value_name="text")
        .with_columns(
            pl.col("source")
            .replace_strict(_GIVEN, default=9, return_dtype=pl.Int32)
            .alias("given"),
            pl.col("source")
            .replace_strict({c: i for i, c in enumerate(LINES)}, return_dtype=pl.Int32)
            .alias("src"),
            set_services_apart(pl.col("text").fill_null(""))
            .str.replace_all(r"[;|\n\r]", ",")
            .str.split(","),
        )
        .explode("text")
        .with_columns(pl.col("text").str.replace_all(r"\s+", " ").str.strip_chars())
        .filter(pl.col("text") != "")
        .with_row_index("_k")
    )
    long = (
        split_postal_city(written, base)
        .sort("_row", "src", "_k", "_sub")
        .drop("_k", "_sub")
        .with_columns(
            # B.P. 45 is written BP 45 (C.S., T.S.A. alike)
            text_key("text")
            .str.replace(r"^B P\b", "BP")
            .str.replace(r"^C S\b", "CS")
            .str.replace(r"^T S A\b", "TSA")
            .alias("key")
        )
        .filter(~pl.col("key").is_in(["", "FRANCE"]))  # the country: no line for France
    )
    lone = pl.col("key").str.contains(NUMBER_ONLY) & ~pl.col("_pc")
    # (the last part of the batch has none after it: False, not null, or it were dropped)
    follows = (pl.col("_row").shift(-1) == pl.col("_row")).fill_null(False) & ~pl.col("_pc").shift(
        -1
    ).fill_null(False)
    merged = long.with_columns(
        (lone & follows).alias("_lone"),
        pl.when((lone & follows).shift(1).fill_null(False))
        .then(pl.col("key").shift(1) + " " + pl.col("key"))
        .otherwise(pl.col("key"))
        .alias("key"),
        pl.when((lone & follows).shift(1).fill_null(False))
        .then(pl.col("text").shift(1) + " " + pl.col("text"))
        .otherwise(pl.col("text"))
        .alias("text"),
    )
    return merged.filter(~pl.col("_lone")).drop("_lone").with_row_index("pos")


def classify(parts: pl.DataFrame) -> pl.DataFrame:
    """Each part's line (2 to 5), or ``pc`` for a postal code and city written among the
    lines (``pc_code``, ``pc_city``): a part that starts with them, or one cut from the
    end of a line (``_pc``: then what starts like one before it, ``12345 route de
    Paris``, is a street with its number)."""
    types = "|".join(re.escape(t) for t in street_types())
    key = pl.col("key")
    street = key.str.contains(rf"^\d{{1,5}}\s*{EXT}?\s+[A-Z]") | key.str.contains(
        rf"^(?:{types})\b"
    )
    code = key.str.extract(POSTAL_CITY, 1).str.replace(" ", "")
    city = key.str.extract(POSTAL_CITY, 2)
    is_pc = key.str.contains(POSTAL_CITY)
    if parts["_pc"].any():  # some line was cut before its postal code and town
        cut_at = pl.when(pl.col("_pc")).then(pl.col("pos")).min().over("_row")
        is_pc = pl.col("_pc") | (is_pc & (cut_at.is_null() | (pl.col("pos") > cut_at)))
        code = pl.when(pl.col("_pc")).then(key.str.extract(r"^(\d{5})\b", 1)).otherwise(code)
        city = pl.when(pl.col("_pc")).then(key.str.extract(r"^\d{5}\s*(.*)$", 1)).otherwise(city)
    found = parts.with_columns(
        code.alias("pc_code"),
        city.alias("pc_city"),
        pl.when(is_pc)
        .then(pl.lit("pc"))
        .when(key.str.contains(LINE2))
        .then(pl.lit("2"))
        .when(key.str.contains(LINE3))
        .then(pl.lit("3"))
        .when(key.str.contains(LINE5))
        .then(pl.lit("5"))
        .when(street)
        .then(pl.lit("4"))
        .otherwise(pl.lit("free"))
        .alias("cls"),
    )
    has4 = (pl.col("cls") == "4").any().over("_row")
    nth_free = (pl.col("cls") == "free").cast(pl.Int32).cum_sum().over("_row")
    return found.with_columns(
        pl.when(pl.col("cls") != "free")
        .then(pl.col("cls"))
        .when(~has4 & (nth_free == 1))
        .then(pl.lit("4"))  # a street written without type or number, or a lieu-dit alone
        .otherwise(pl.lit("5"))
        .alias("cls")
    )


__all__ = ["LINES", "classify", "parts"]
