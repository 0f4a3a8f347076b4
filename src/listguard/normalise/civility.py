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
    """``M``, ``MME``, or null when empty or not recognised."""
    key = values.cast(pl.String).str.strip_chars().str.to_uppercase().str.replace_all(r"[.\s]", "")
    return key.replace_strict(_CIVILITIES, default=None, return_dtype=pl.String).alias("civility")
