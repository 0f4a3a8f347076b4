"""Postal codes and addresses (line 6 checked against La Poste's postal code base).

The full restructuring of addresses to NF Z10-011 lives with the data
processing features; this module gives the validity the rules need: an
address is ``valid`` when it has a street or locality line, a city, and (in
France) a postal code that exists; ``invalid`` when something is present but
not enough; ``missing`` when there is no address at all.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from listguard.db.schema import ADDRESS_LINES as _ADDRESS_LINES


@cache
def laposte_codes() -> pl.DataFrame:
    """La Poste's postal codes: ``postal_code``, ``city`` (libellé d'acheminement), ``insee``."""
    with resources.files("listguard.data").joinpath("laposte_codes.csv").open("rb") as f:
        return pl.read_csv(f, schema=dict.fromkeys(("postal_code", "city", "insee"), pl.String))


@cache
def postal_codes() -> frozenset[str]:
    """Every postal code of La Poste's base (metropolitan France, overseas, Monaco)."""
    return frozenset(laposte_codes()["postal_code"].to_list())


def _blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")


@cache  # expressions are immutable: built once, not per batch (a web request's batch is small)
def normalise_postal_code_expr(col: str = "postal_code") -> pl.Expr:
    """Digits only; a 4-digit code that lost its leading zero in a spreadsheet is padded."""
    digits = pl.col(col).str.strip_chars().str.replace_all(r"\s", "")
    return (
        pl.when(digits.str.contains(r"^\d{4}$"))
        .then("0" + digits)
        .when(digits == "")
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(digits)
    )


@cache
def address_status_expr() -> pl.Expr:
    """``valid``, ``invalid`` or ``missing`` per row, from the normalised address columns."""
    codes = pl.Series(sorted(postal_codes()), dtype=pl.String)
    any_line = pl.any_horizontal([~_blank(c) for c in _ADDRESS_LINES])
    all_blank = ~any_line & _blank("postal_code") & _blank("city")
    street = ~_blank("address_line4") | ~_blank("address_line5")
    country = pl.col("country").fill_null("FR")
    cedex = pl.col("city").str.to_uppercase().str.contains(r"\bCEDEX\b").fill_null(False)
    code = pl.col("postal_code")
    fr_code_ok = code.is_in(codes.implode()).fill_null(False) | (
        cedex
        & code.str.contains(r"^(?:\d{5})$").fill_null(False)
        & code.str.slice(0, 2).is_in(codes.str.slice(0, 2).unique().implode()).fill_null(False)
    )
    code_ok = pl.when(country == "FR").then(fr_code_ok).otherwise(~_blank("postal_code"))
    return (
        pl.when(all_blank)
        .then(pl.lit("missing"))
        .when(street & ~_blank("city") & code_ok)
        .then(pl.lit("valid"))
        .otherwise(pl.lit("invalid"))
    )
