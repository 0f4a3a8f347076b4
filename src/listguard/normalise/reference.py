"""Enrichment from open reference data: a civility from the first name where none was
given (with its confidence), the département and région of an address.

- Civility (``M`` or ``MME``, as the contacts import writes it): INSEE's first
  names (births 1900-2019) give the share of girls among the persons given a name;
  the civility is proposed when that share (or its complement) reaches
  ``CIVILITY_CONFIDENCE`` (0.9 by default), else left empty with the confidence
  shown (DOMINIQUE, CAMILLE...). A compound name is looked up whole, then by its
  first part. A civility that was given is kept as given (``source`` says so).
- Département and région: from the INSEE commune code (its first two characters, three
  overseas), else from the postal code (Corsica's 20xxx codes need the INSEE code).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from listguard.normalise.civility import normalise_civilities
from listguard.normalise.text import text_key

CIVILITY_CONFIDENCE = 0.9
COLUMNS = (
    "civility",
    "civility_source",
    "civility_confidence",
    "departement",
    "departement_name",
    "region",
    "region_name",
)


@cache
def _first_names() -> pl.DataFrame:
    with resources.files("listguard.data").joinpath("first_names.csv").open("rb") as f:
        return pl.read_csv(
            f, schema={"first_name": pl.String, "births": pl.Int64, "share_female": pl.Float64}
        )


@cache
def _departements() -> pl.DataFrame:
    with resources.files("listguard.data").joinpath("departements.csv").open("rb") as f:
        return pl.read_csv(f, infer_schema=False)


def enrich(frame: pl.DataFrame) -> pl.DataFrame:
    """The ``COLUMNS`` for each row of ``frame`` (text columns among ``civility``,
    ``first_name``, ``insee``, ``postal_code``), in order."""
    n = frame.height
    get = {
        c: frame[c].cast(pl.String) if c in frame.columns else pl.Series(c, [None] * n, pl.String)
        for c in ("civility", "first_name", "insee", "postal_code")
    }
    base = pl.DataFrame(get).with_row_index("_row")
    names = _first_names().select("first_name", "share_female")
    keyed = base.with_columns(
        normalise_civilities(base["civility"]).alias("_given"),
        text_key("first_name", keep="A-Z").alias("_whole"),
        text_key("first_name", keep="A-Z").str.split(" ").list.first().alias("_first"),
    )
    keyed = keyed.join(
        names.rename({"first_name": "_whole", "share_female": "_sw"}), on="_whole", how="left"
    ).join(names.rename({"first_name": "_first", "share_female": "_sf"}), on="_first", how="left")
    share = pl.coalesce("_sw", "_sf")
    confidence = pl.max_horizontal(share, 1 - share).round(4)
    guessed = pl.when(share >= 0.5).then(pl.lit("MME")).otherwise(pl.lit("M"))
    sure = confidence >= CIVILITY_CONFIDENCE
    code = pl.coalesce(
        pl.when(pl.col("insee").str.contains(r"^97")).then(pl.col("insee").str.slice(0, 3)),
        pl.when(pl.col("insee").str.len_chars() == 5).then(pl.col("insee").str.slice(0, 2)),
        pl.when(pl.col("postal_code").str.contains(r"^97\d{3}$")).then(
            pl.col("postal_code").str.slice(0, 3)
        ),
        pl.when(pl.col("postal_code").str.contains(r"^(?:[013-9]\d|2[1-9])\d{3}$")).then(
            pl.col("postal_code").str.slice(0, 2)
        ),
    )
    out = keyed.with_columns(
        pl.when(pl.col("_given").is_not_null())
        .then(pl.col("_given"))
        .when(sure)
        .then(guessed)
        .alias("civility"),
        pl.when(pl.col("_given").is_not_null())
        .then(pl.lit("given"))
        .when(sure)
        .then(pl.lit("first_name"))
        .alias("civility_source"),
        pl.when(pl.col("_given").is_null()).then(confidence).alias("civility_confidence"),
        code.alias("departement"),
    ).join(_departements(), on="departement", how="left")
    return out.sort("_row").select(COLUMNS)


__all__ = ["CIVILITY_CONFIDENCE", "COLUMNS", "enrich"]
