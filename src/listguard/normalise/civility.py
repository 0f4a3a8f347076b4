"""Civility: ``M`` or ``MME`` from the ways people write it."""

from __future__ import annotations

import polars as pl

_CIVILITIES = {
    "M": "M",
    "MR": "M",
    "MONSIEUR": "M",
    "MM": "M",
    "MME": "MME",
    "MADAME": "MME",
    "MLLE": "MME",
    "MELLE": "MME",
    "MADEMOISELLE": "MME",
    "MRS": "MME",
    "MS": "MME",
    "MISS": "MME",
}


def normalise_civilities(values: pl.Series) -> pl.Series:
    """``M``, ``MME``, or null when empty or not recognised (once per distinct value)."""
    from listguard.normalise.text import by_distinct

    key = pl.col("v").str.strip_chars().str.to_uppercase().str.replace_all(r"[.\s]", "")
    civility = key.replace_strict(_CIVILITIES, default=None, return_dtype=pl.String)
    return by_distinct(values.cast(pl.String), civility, pl.String).alias("civility")
