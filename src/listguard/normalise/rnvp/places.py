"""The postal code and city of a restructured address checked against La Poste's
official postal code base: what line 6 (and line 5) should say for a pair written
right, and, for a pair that does not match as written, what the base makes of it
(a city corrected or added, a postal code corrected, or why it stays doubtful or
invalid)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from listguard.normalise.text import text_key

_ARRONDISSEMENT = r"^(PARIS|LYON|MARSEILLE) (\d{1,2}) ?(?:ER|ERE|E|EME)?(?: ARRONDISSEMENT)?$"


def city_key(e: pl.Expr) -> pl.Expr:
    """A city compared with La Poste's spellings: SAINT, SAINTE written out; an
    arrondissement as the base names its commune (``PARIS 2E``, ``PARIS 2EME``:
    ``PARIS 02``)."""
    return (
        e.str.replace_all(r"\bSTE\b", "SAINTE")
        .str.replace_all(r"\bST\b", "SAINT")
        .str.replace_all(r"\bSTS\b", "SAINTS")
        .str.replace(_ARRONDISSEMENT, "$1 0$2")
        .str.replace(r"^(PARIS|LYON|MARSEILLE) 0(\d\d)$", "$1 $2")
    )


@cache
def reference() -> pl.DataFrame:
    """La Poste's base: one row per (postal code, compared city key) with what line 6
    and 5 should say: ``libelle``, ``ligne_5`` (when the key was the former commune or
    lieu-dit) and ``insee``."""
    with resources.files("listguard.data").joinpath("laposte_lines.csv").open("rb") as f:
        base = pl.read_csv(f, infer_schema=False).with_columns(pl.col("ligne_5").fill_null(""))
    keyed = []
    for source, via in (("libelle", ""), ("commune", ""), ("ligne_5", "ligne_5")):
        keyed.append(
            base.filter(pl.col(source) != "").select(
                "postal_code",
                city_key(text_key(source)).alias("ck"),
                "libelle",
                (pl.col("ligne_5") if via else pl.lit("")).alias("ligne_5"),
                "insee",
                pl.lit(0 if not via else 1).alias("rank"),
            )
        )
    return (
        pl.concat(keyed)
        .sort("rank")
        .unique(["postal_code", "ck"], keep="first", maintain_order=True)
        .drop("rank")
    )


@cache
def _by_code() -> dict[str, list[tuple[str, str, str, str]]]:
    """postal code -> [(city key, libellé, ligne 5, insee)]."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for code, ck, libelle, ligne5, insee in reference().iter_rows():
        out.setdefault(code, []).append((ck, libelle, ligne5, insee))
    return out


@cache
def _by_city() -> dict[str, list[tuple[str, str, str, str]]]:
    """city key -> [(postal code, libellé, ligne 5, insee)]."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for code, ck, libelle, ligne5, insee in reference().iter_rows():
        out.setdefault(ck, []).append((code, libelle, ligne5, insee))
    return out


@cache
def _by_departement() -> dict[str, tuple[list[str], list[tuple[str, str, str, str]]]]:
    """The first two digits of a postal code -> (city keys, their rows), for a fuzzy
    search among one département's cities."""
    out: dict[str, tuple[list[str], list[tuple[str, str, str, str]]]] = {}
    for ck, rows in _by_city().items():
        for c in rows:
            keys, found = out.setdefault(c[0][:2], ([], []))
            keys.append(ck)
            found.append(c)
    return out


@dataclass(frozen=True)
class Place:
    postal_code: str
    libelle: str
    ligne_5: str
    insee: str
    status: str  # valid | corrected | doubtful | invalid
    change: str  # a change code, or ""
    reason: str  # why doubtful or invalid, or ""


def resolve(code: str, ck: str) -> Place:
    """A postal code and city that do not match as written: what La Poste's base makes
    of them (called once per distinct pair)."""
    from rapidfuzz import fuzz, process

    by_code, by_city = _by_code(), _by_city()
    here = by_code.get(code, [])
    if here:
        if not ck:
            libelles = {c[1] for c in here}
            if len(libelles) == 1:
                c = here[0]
                return Place(code, c[1], "", c[3], "corrected", "city_added", "")
            return Place(code, "", "", "", "invalid", "", "city_missing")
        found = process.extractOne(ck, [c[0] for c in here], scorer=fuzz.ratio, score_cutoff=80)
        if found is not None:
            c = here[found[2]]
            return Place(code, c[1], c[2], c[3], "corrected", "city_corrected", "")
        elsewhere = by_city.get(ck, [])
        if len(elsewhere) == 1:  # the city exists under another code: which one is wrong?
            c = elsewhere[0]
            return Place(c[0], c[1], c[2], c[3], "doubtful", "", "postal_code_city_mismatch")
        return Place(code, ck, "", "", "doubtful", "", "city_not_at_postal_code")
    if not ck:
        return Place(code, "", "", "", "invalid", "", "unknown_postal_code")
    elsewhere = by_city.get(ck, [])
    codes = sorted({c[0] for c in elsewhere})
    if len(codes) == 1:
        c = elsewhere[0]
        change = "postal_code_added" if not code else "postal_code_corrected"
        return Place(c[0], c[1], c[2], c[3], "corrected", change, "")
    if codes and code:  # several: the one nearest the code given (a typo), same département
        near = [c for c in elsewhere if c[0][:2] == code[:2]]
        if near:
            best = min(near, key=lambda c: sum(a != b for a, b in zip(c[0], code, strict=True)))
            if sum(a != b for a, b in zip(best[0], code, strict=True)) == 1:
                return Place(
                    best[0], best[1], best[2], best[3], "corrected", "postal_code_corrected", ""
                )
    if codes:
        return Place(
            code, ck, "", "", "doubtful" if code else "invalid", "", "postal_code_ambiguous"
        )
    same = _by_departement().get(code[:2], ([], []))
    if same[0]:  # a misspelt city in the département of the code
        found = process.extractOne(ck, same[0], scorer=fuzz.ratio, score_cutoff=88)
        if found is not None:
            c = same[1][found[2]]
            return Place(c[0], c[1], c[2], c[3], "corrected", "postal_code_city_corrected", "")
    return Place(code, ck, "", "", "invalid", "", "unknown_postal_code_and_city")


__all__ = ["Place", "city_key", "reference", "resolve"]
