"""Addresses written on one line, with nothing between the street and the postal code
(``145 impasse de la Fontaine 29440 Trézilidé``): the postal code and town found inside
a part, and the part cut in two there, as if a comma had been written before the code;
and a distribution service (``BP 45``, ``CS 12345``, ``TSA 70011``) set apart from what
is written beside it.

A five-digit group inside a part (not its first word) is a candidate postal code, with
the words after it as its town (``CEDEX`` and its number included; an arrondissement
such as ``PARIS 2E`` read as ``PARIS 02``; a ``France`` after it left out). The part is
cut at its last candidate that La Poste's base knows with that town (for a CEDEX: whose
town is a libellé of the base), so a street number of five digits, a ``CS 12345`` or a
code followed by something else than its town is passed over for the right one. Only
when no candidate of the address matches, and the address gives its postal code
nowhere else, is it cut at its last candidate followed by a plain town (letters only,
not a street type, not after ``BP``, ``CS``, ``TSA`` or ``CEDEX``) or ending the part
with a code of the base: that pair is then corrected or explained as a separated one
would be (``city_corrected``, ``city_not_at_postal_code``...).

All of it set-based: the words of the parts holding a five-digit group after their
first word, one row a candidate, joined with the base."""

from __future__ import annotations

from functools import cache

import polars as pl

from listguard.normalise.rnvp.formats import CEDEX
from listguard.normalise.rnvp.places import city_key, reference
from listguard.normalise.text import text_key

# a distribution service and its number, with text beside it: set apart by commas
SERVICE = (
    r"(?i)(?:^|\s)((?:B\.? ?P|C\.? ?S|T\.? ?S\.? ?A|BO[IÎ]TE POSTALE)\.?"
    r" ?(?:N[°O.]? ?)?\d{1,5})(?:\s|$)"
)
# the country written after the town (not a town's own "Roissy-en-France")
_COUNTRY = r"(?i)\s+FRANCE\s*$"
_INSIDE = r"\s(?:\d{5}|\d{2} \d{3})(?:\s|$)"  # a postal code after the first word
_AFTER_SERVICE = ("BP", "P", "CS", "S", "TSA", "A", "POSTALE", "CEDEX")


def set_services_apart(text: pl.Expr) -> pl.Expr:
    """``text`` (a field as written) with a comma each side of a distribution service
    and its number (``BP 45 12 rue``: ``,BP 45,12 rue``), split there later."""
    return text.str.replace_all(SERVICE, ",$1,")


@cache
def _known() -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """La Poste's (postal code, city key) pairs, its city keys, its postal codes."""
    ref = reference()
    return (
        ref.select(pl.col("postal_code").alias("_cand"), "ck").with_columns(
            pl.lit(True).alias("_exact")
        ),
        ref["ck"].unique(),
        ref["postal_code"].unique(),
    )


# the street types that start a street, never a town: a group before one is a number
_STREET = (
    r"^(?:RUE|R|AVENUE|AV|BOULEVARD|BD|CHEMIN|CH|ROUTE|RTE|IMPASSE|IMP|ALLEE|PLACE|PL|QUAI"
    r"|SQUARE|PASSAGE|SENTIER|LOTISSEMENT|RESIDENCE)\b"
)


def split_postal_city(long: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """``long`` (one row a part: ``_row``, ``_k`` its order, ``text``) with each part
    that holds its postal code and town after other words cut in two: the words before
    (``_sub`` 0) and the postal code and town (``_sub`` 1, ``_pc`` true). ``base`` gives
    ``postal_code`` and ``city`` as written, to know which addresses have their postal
    code elsewhere."""
    plain = long.with_columns(pl.lit(0, pl.Int32).alias("_sub"), pl.lit(False).alias("_pc"))
    inside = long.filter(pl.col("text").str.contains(_INSIDE))
    if inside.is_empty():
        return plain
    chosen = _chosen(_candidates(inside), long, base)
    if chosen.is_empty():
        return plain
    head = chosen.filter(pl.col("head") != "").select(
        "_k",
        pl.col("head").alias("text"),
        pl.lit(0, pl.Int32).alias("_sub"),
        pl.lit(False).alias("_pc"),
    )
    place = chosen.select(
        "_k",
        pl.concat_str([pl.col("_cand"), pl.col("tail")], separator=" ")
        .str.strip_chars()
        .alias("text"),
        pl.lit(1, pl.Int32).alias("_sub"),
        pl.lit(True).alias("_pc"),
    )
    cut = (
        pl.concat([head, place]).join(long.drop("text"), on="_k", how="left").select(plain.columns)
    )
    return pl.concat([plain.filter(~pl.col("_k").is_in(chosen["_k"].implode())), cut])


def _candidates(inside: pl.DataFrame) -> pl.DataFrame:
    """One row per five-digit group of the parts ``inside`` but their first word
    (``_cand``; ``75 002`` too, ``_spaced``), the words before (``head``) and after
    (``tail``), whether La Poste knows that pair (``_match``) and whether it could be one
    to correct (``_plain``)."""
    exact, cities, codes = _known()
    words = inside.select("_row", "_k", pl.col("text").str.split(" ").alias("_w"))
    # every word on a row of its own (its part and place), the groups kept
    flat = words.select(
        "_k",
        pl.col("_w").alias("_word"),
        pl.int_ranges(pl.col("_w").list.len(), dtype=pl.Int32).alias("_i"),
    ).explode("_word", "_i")
    same_part = pl.col("_k").shift(-1) == pl.col("_k")
    two_three = (
        pl.col("_word").str.contains(r"^\d{2}$")
        & same_part
        & pl.col("_word").shift(-1).str.contains(r"^\d{3}$")
    ).fill_null(False)
    groups = flat.filter(
        (pl.col("_i") > 0) & (pl.col("_word").str.contains(r"^\d{5}$") | two_three)
    ).select("_k", "_i")
    at = pl.col("_i")
    cands = (
        words.join(groups, on="_k")
        .with_columns(
            pl.col("_w").list.get(at).alias("_cand"),
            pl.col("_w").list.get(at + 1, null_on_oob=True).alias("_next"),
            # the word before, without its dots: B.P. is BP
            pl.col("_w")
            .list.get(at - 1)
            .str.to_uppercase()
            .str.replace_all(r"[^A-Z]", "")
            .alias("_before"),
        )
        .with_columns((pl.col("_cand").str.len_chars() == 2).alias("_spaced"))
        .with_columns(
            pl.when(pl.col("_spaced"))
            .then(pl.col("_cand") + pl.col("_next"))
            .otherwise(pl.col("_cand"))
            .alias("_cand"),
            pl.col("_w").list.slice(0, at).list.join(" ").alias("head"),
            pl.col("_w")
            .list.slice(at + 1 + pl.col("_spaced").cast(pl.Int32))
            .list.join(" ")
            .alias("tail"),
        )
        .drop("_w", "_next")
    )
    # the town as written, else without a "France" after it
    cands = cands.with_columns(text_key("tail").alias("_town"))
    cands = cands.with_columns(city_key(pl.col("_town")).alias("ck")).join(
        exact, on=["_cand", "ck"], how="left"
    )
    plain_country = pl.col("_exact").is_null()
    cands = cands.with_columns(
        pl.when(plain_country)
        .then(pl.col("tail").str.replace(_COUNTRY, ""))
        .otherwise(pl.col("tail"))
        .alias("tail"),
        pl.when(plain_country)
        .then(pl.col("_town").str.replace(r" FRANCE$", ""))
        .otherwise(pl.col("_town"))
        .alias("_town"),
    ).drop("ck", "_exact")
    cands = cands.with_columns(
        pl.col("_town").str.extract(CEDEX, 1).alias("_cedex"),
        city_key(pl.col("_town").str.replace(CEDEX, "")).alias("ck"),
    ).join(exact, on=["_cand", "ck"], how="left")
    service = pl.col("_before").is_in(list(_AFTER_SERVICE))
    match = pl.col("_exact").fill_null(False) | (
        pl.col("_cedex").is_not_null() & pl.col("ck").is_in(cities.implode())
    )
    plain_town = (
        (pl.col("ck") != "")
        & ~pl.col("ck").str.replace(r"\s*\bCIDEX\s*\d*$", "").str.contains(r"\d")
        & ~pl.col("ck").str.contains(_STREET)
    )
    code_alone = (pl.col("tail") == "") & pl.col("_cand").is_in(codes.implode())
    # "75 002": only where La Poste knows it with its town (a house number and a part of
    # a name could look the same)
    plain = ~service & ~pl.col("_spaced") & (plain_town | code_alone)
    return cands.with_columns(match.alias("_match"), plain.alias("_plain"))


def _chosen(cands: pl.DataFrame, long: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """The cut of each part: its last candidate La Poste knows; in an address with none
    and no postal code elsewhere (its column, its city, a part starting with one), its
    last plain candidate."""
    matched = cands.filter(pl.col("_match")).sort("_k", "_i").group_by("_k").last()
    code_col = pl.col("postal_code").fill_null("").str.strip_chars() != ""
    city_code = pl.col("city").fill_null("").str.contains(r"^\s*\d{2} ?\d{3}\b")
    given = base.filter(code_col | city_code).select("_row")
    starts = pl.col("text").str.contains(r"^(?:\d{5}|\d{2} \d{3})\s+\D")
    written = long.filter(starts & ~pl.col("text").str.contains(_INSIDE)).select("_row")
    settled = pl.concat([given, written, matched.select("_row")]).unique()
    fallback = (
        cands.filter(pl.col("_plain"))
        .join(settled, on="_row", how="anti")
        .sort("_row", "_k", "_i")
        .group_by("_row")
        .last()
    )
    return pl.concat([matched, fallback.select(matched.columns)]).select(
        "_k", "_cand", "head", "tail"
    )


__all__ = ["SERVICE", "set_services_apart", "split_postal_city"]
