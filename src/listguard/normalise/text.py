"""Text compared as a key: capitals, no accents, no punctuation, single spaces."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def text_key(col: str | pl.Expr, keep: str = "A-Z0-9") -> pl.Expr:
    """``col`` in capitals without accents (Œ and Æ written out), every run of characters
    outside ``keep`` (a regex class body) made one space, trimmed; "" for null."""
    e = pl.col(col) if isinstance(col, str) else col
    return (
        e.fill_null("")
        .str.to_uppercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all("Œ", "OE")
        .str.replace_all("Æ", "AE")
        .str.replace_all(f"[^{keep}]+", " ")
        .str.strip_chars()
    )


def trimmed_lower(values: pl.Series, usual: Sequence[str]) -> pl.Series:
    """``values`` trimmed and lower-cased, "" for null. The values already written as
    one of ``usual`` (or empty) are taken as they are: in a column of a few codes, most
    are, and only the others are transformed."""
    out = values.fill_null("")
    other = out.is_in([*usual, ""]).not_().arg_true()
    if other.len():
        out = out.scatter(other, out.gather(other).str.strip_chars().str.to_lowercase())
    return out


def by_distinct(
    values: pl.Series, expr: pl.Expr, dtype: pl.DataType | type[pl.DataType]
) -> pl.Series:
    """``expr`` (over a column named ``v``) of every one of ``values``, computed once per
    distinct value: a column of few values (civilities, postal codes) is transformed
    at the cost of a look-up per row."""
    distinct = values.unique()
    mapped = distinct.to_frame("v").select(expr).to_series()
    return values.replace_strict(distinct, mapped, default=None, return_dtype=dtype)


__all__ = ["by_distinct", "text_key", "trimmed_lower"]
