"""The street line of a restructured address: the street types people write, written
out where the line allows it, and a label too long for a line abbreviated with the
standard's abbreviations (NF Z10-011), step by step and only as far as needed."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from functools import cache
from importlib import resources

import polars as pl

from listguard.normalise.rnvp.formats import EXT, LINE_MAX


@cache
def street_types() -> tuple[str, ...]:
    """Street type words (FANTOIR's names and abbreviations, and common spellings)."""
    names = {
        "RUE",
        "AVENUE",
        "AV",
        "AVE",
        "BOULEVARD",
        "BD",
        "BLD",
        "BVD",
        "CHEMIN",
        "CHE",
        "CH",
        "ROUTE",
        "RTE",
        "PLACE",
        "PL",
        "ALLEE",
        "ALLEES",
        "ALL",
        "IMPASSE",
        "IMP",
        "QUAI",
        "COURS",
        "CRS",
        "SQUARE",
        "SQ",
        "PASSAGE",
        "VOIE",
        "SENTIER",
        "CITE",
        "QUARTIER",
        "LOTISSEMENT",
        "LOT",
        "HAMEAU",
        "FAUBOURG",
        "FG",
        "RD",
        "RN",
        "ROND POINT",
        "RPT",
        "PROMENADE",
        "ESPLANADE",
        "MONTEE",
        "ZA",
        "ZI",
        "ZAC",
        "ZONE",
        "PARC",
        "DOMAINE",
        "LIEU DIT",
        "VILLA",
        "CLOS",
        "MAIL",
        "PARVIS",
        "TRAVERSE",
        "RUELLE",
        "VENELLE",
        "CHAUSSEE",
        "LE BOURG",
        "BOURG",
    }
    with resources.files("listguard.data").joinpath("street_types.csv").open("rb") as f:
        for row in csv.reader(line.decode("utf-8") for line in f):
            if row and row[0] != "code":
                names.update(part.strip() for part in row[1].split(",") if part.strip())
                names.add(row[0])
    return tuple(sorted(names, key=len, reverse=True))


# The abbreviations of street types people write, written out: the standard abbreviates
# only a line that does not fit. A short list of unambiguous ones (FANTOIR has codes such
# as TER, MAR or CAN that are also words).
_EXPAND = {
    "AV": "AVENUE",
    "AVE": "AVENUE",
    "BD": "BOULEVARD",
    "BLD": "BOULEVARD",
    "BVD": "BOULEVARD",
    "R": "RUE",
    "CH": "CHEMIN",
    "CHE": "CHEMIN",
    "PL": "PLACE",
    "IMP": "IMPASSE",
    "ALL": "ALLEE",
    "RTE": "ROUTE",
    "SQ": "SQUARE",
    "CRS": "COURS",
    "FG": "FAUBOURG",
    "FBG": "FAUBOURG",
    "PROM": "PROMENADE",
    "RPT": "ROND POINT",
    "HAM": "HAMEAU",
    "ESP": "ESPLANADE",
    "CHS": "CHAUSSEE",
    "MTE": "MONTEE",
    "TRA": "TRAVERSE",
    "QUA": "QUARTIER",
    "RLE": "RUELLE",
    "VEN": "VENELLE",
    "TSSE": "TERRASSE",
    "PTTE": "PLACETTE",
}
_ABBREVIATED = (
    rf"^((?:\d+ ?(?:{EXT} )?)?)({'|'.join(sorted(_EXPAND, key=len, reverse=True))}) (.+)$"
)


def street_type_written_out(street: pl.Expr, limit: int | None = None) -> pl.Expr:
    """``street`` (a street line in capitals without punctuation) with an abbreviated
    street type after the number written out (``12 AV FOCH``: ``12 AVENUE FOCH``);
    unchanged where there is none, or where the result would pass ``limit``."""
    parts = street.str.extract_groups(_ABBREVIATED)
    full = parts.struct.field("2").replace_strict(_EXPAND, default=None)
    number = parts.struct.field("1").str.strip_chars_end()
    written = pl.concat_str(
        [
            pl.when(number != "").then(number + " ").otherwise(pl.lit("")),
            full,
            pl.lit(" "),
            parts.struct.field("3"),
        ]
    )
    fits = written.str.len_chars() <= limit if limit is not None else pl.lit(True)
    return pl.when(full.is_not_null() & fits).then(written).otherwise(street)


def expand_street_type(wide: pl.DataFrame) -> pl.DataFrame:
    """``line4`` with its street type written out where it fits (``_expanded`` says
    where)."""
    written = street_type_written_out(pl.col("line4"), LINE_MAX)
    return wide.with_columns(
        written.alias("line4"),
        (written != pl.col("line4")).fill_null(False).alias("_expanded"),
    )


# --- the street label: abbreviated only when it does not fit -----------------------


_Rule = tuple[re.Pattern[str], str]  # the words, their abbreviation (a number kept)


@cache
def _rules() -> list[tuple[float, str, str]]:
    """The standard's abbreviations: (step, the words as a regex, their abbreviation)."""
    rules = []
    with resources.files("listguard.data").joinpath("nfz10_abbreviations.csv").open("rb") as f:
        for row in csv.DictReader(line.decode("utf-8") for line in f):
            long, short = row["long"].strip(), row["court"].strip().replace("@", "").strip()
            if not long or "\\g" in row["court"]:
                continue
            try:
                re.compile(long)
            except re.error:
                continue
            rules.append((float(row["etape"]), long, " ".join(short.upper().split())))
    return rules


@cache
def _steps() -> tuple[tuple[_Rule, ...], ...]:
    """The abbreviation steps in the standard's order, each its rules: the street type
    at the head of the label (after the number: ``RUE DE LA PLACE`` keeps ``PLACE``
    there), titles (``MARECHAL``), general words (``REPUBLIQUE``), street type words
    elsewhere in the label, first names, ``SAINT``."""

    def anywhere(step: float) -> tuple[_Rule, ...]:
        return tuple(
            (re.compile(rf"(?<![A-Z0-9]){long}(?![A-Z0-9])"), short)
            for etape, long, short in _rules()
            if etape == step
        )

    head = tuple(
        (re.compile(rf"^(?P<number>\d+ ?(?:{EXT} )?)?{long}(?![A-Z0-9])"), short)
        for etape, long, short in _rules()
        if etape == 1.0
    )
    return (
        head,
        anywhere(2.0),
        anywhere(4.0),
        anywhere(5.0) + anywhere(1.0),
        anywhere(3.0),
        anywhere(6.0),
    )


def _written(short: str) -> Callable[[re.Match[str]], str]:
    """What replaces the words matched: the abbreviation, after the number if any."""
    return lambda m: (m.groupdict().get("number") or "") + short


_ARTICLES = re.compile(r" (?:LE|LA|LES|AU|AUX|DE|DU|DES|D|ET|L|SUR|EN) ")


def shorten(label: str, limit: int = LINE_MAX) -> tuple[str, bool]:
    """``label`` (capitals, no punctuation) made to fit ``limit`` characters with the
    standard's abbreviations, applied step by step and left to right, only as far as
    needed; then articles dropped, then truncated. Returns the label and whether it
    fits without truncation."""
    if len(label) <= limit:
        return label, True
    text = label
    for rules in _steps():
        for pattern, short in rules:
            text, n = pattern.subn(_written(short), text, count=1)
            if n and len(text) <= limit:
                return " ".join(text.split()), True
        text = " ".join(text.split())
    while len(text) > limit:
        shorter = _ARTICLES.sub(" ", text, count=1)
        if shorter == text:
            break
        text = shorter
    if len(text) <= limit:
        return text, True
    return text[:limit].rstrip(), False


def fit(values: pl.Series, upper: bool) -> tuple[pl.Series, pl.Series, pl.Series]:
    """The lines made to fit: (text, abbreviated?, truncated?). Only the few lines
    longer than ``LINE_MAX`` go through Python; the others are kept as they are."""
    long = (values.str.len_chars() > LINE_MAX).fill_null(False)
    out = values.clone()
    abbreviated = pl.Series([False] * values.len(), dtype=pl.Boolean)
    truncated = abbreviated.clone()
    where = long.arg_true()
    if where.len():
        fitted = [
            shorten(v) if upper else (v[:LINE_MAX].rstrip(), False) for v in values.filter(long)
        ]
        out = out.scatter(where, [f[0] for f in fitted])
        abbreviated = abbreviated.scatter(where, [upper and f[1] for f in fitted])
        truncated = truncated.scatter(where, [not f[1] for f in fitted])
    return out, abbreviated, truncated


__all__ = [
    "expand_street_type",
    "fit",
    "shorten",
    "street_type_written_out",
    "street_types",
]
