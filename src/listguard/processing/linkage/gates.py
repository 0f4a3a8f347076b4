"""The gates on the model's pairs, in SQL over splink's predictions (with the
compared fields kept, ``<field>_l`` and ``<field>_r``): not two persons of one
household (deduplication and linkage), and, for a match that discloses coordinates
(``enrich``), names that agree with something only that person has."""

from __future__ import annotations


# The model alone weighs a place so heavily (street, postal code and town are not
# independent) that a spouse or a child at the same address reaches any threshold on the
# surname and the address. Two rows whose first names differ (and are not the names
# swapped) are one person only if something personal agrees as well: the email, the birth
# date (one typo allowed) or an identifier given with --compare; not the number, which
# a household shares.
def _close(a: str, b: str) -> str:
    return f"coalesce(jaro_winkler_similarity({a}, {b}) >= 0.88, TRUE)"


def _swapped(filled: set[str]) -> str:
    if {"first", "last"} <= filled:
        return (
            "coalesce(jaro_winkler_similarity(first_l, last_r) >= 0.88 "
            "AND jaro_winkler_similarity(last_l, first_r) >= 0.88, FALSE)"
        )
    return "FALSE"


def not_household_sql(filled: set[str]) -> str:
    """SQL on splink's predictions (with the compared fields kept): not two persons of
    one household (see above)."""
    if "first" not in filled:
        return "TRUE"
    personal = [f"{c}_l = {c}_r" for c in ("email",) if c in filled]
    personal += [
        f"levenshtein({c}_l, {c}_r) <= 1"
        for c in sorted(filled)
        if c == "dob" or c.startswith("x_")
    ]
    agrees = "coalesce(" + " OR ".join(personal) + ", FALSE)" if personal else "FALSE"
    return f"({_close('first_l', 'first_r')} OR {_swapped(filled)} OR {agrees})"


def names_agree_sql(filled: set[str]) -> str:
    """SQL: the names agree (each close, or missing on a side; or the two swapped)."""
    if {"first", "last"} <= filled:
        both = f"{_close('first_l', 'first_r')} AND {_close('last_l', 'last_r')}"
        return f"(({both}) OR {_swapped(filled)})"
    if filled & {"first", "last"}:
        name = "first" if "first" in filled else "last"
        return _close(f"{name}_l", f"{name}_r")
    return "TRUE"


# For a match that discloses coordinates (``enrich``), more is asked: the names must
# agree, and something only that person has too (a namesake in the same town would pass
# otherwise): the email, the number, the birth date, or the street with the postal
# code or town.
def identifies_sql(filled: set[str]) -> str:
    """SQL on splink's predictions: the names agree and an identifying field does
    (never, when none is filled)."""
    same = [f"{c}_l = {c}_r" for c in ("email", "tel", "dob") if c in filled]
    place = [f"{c}_l = {c}_r" for c in ("postcode",) if c in filled]
    place += ["jaro_winkler_similarity(city_l, city_r) >= 0.9"] if "city" in filled else []
    if "street" in filled and place:
        same.append(
            f"(jaro_winkler_similarity(street_l, street_r) >= 0.9 AND ({' OR '.join(place)}))"
        )
    evidence = "coalesce(" + " OR ".join(same) + ", FALSE)" if same else "FALSE"
    return f"({names_agree_sql(filled)}) AND {evidence}"


__all__ = ["identifies_sql", "names_agree_sql", "not_household_sql"]
