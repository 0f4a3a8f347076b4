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
# a household shares. A birth date missing on a side is no such evidence: a spouse
# without one, at the same address with the same landline, would be joined otherwise.
def _close(a: str, b: str) -> str:
    return f"coalesce(jaro_winkler_similarity({a}, {b}) >= 0.88, TRUE)"


def _swapped(filled: set[str], typo: bool = False) -> str:
    """SQL: the first and last names swapped, each close to the other side's (with
    ``typo``, one typo in each is allowed too: ``SAM WEBB`` and ``WEBB SMA``; no
    household member is named so)."""
    if {"first", "last"} <= filled:

        def near(a: str, b: str) -> str:
            jw = f"jaro_winkler_similarity({a}, {b}) >= 0.88"
            return f"({jw} OR damerau_levenshtein({a}, {b}) <= 1)" if typo else jw

        return f"coalesce({near('first_l', 'last_r')} AND {near('last_l', 'first_r')}, FALSE)"
    return "FALSE"


def not_household_sql(filled: set[str]) -> str:
    """SQL on splink's predictions (with the compared fields kept): not two persons of
    one household (see above)."""
    if "first" not in filled:
        return "TRUE"
    personal: list[str] = [c for c in ("email", "dob") if c in filled]
    personal += sorted(c for c in filled if c.startswith("x_"))
    names = f"{_close('first_l', 'first_r')} OR {_swapped(filled, typo=True)}"
    if not personal:
        return f"({names})"
    agree = " OR ".join(f"coalesce({_same(c)}, FALSE)" for c in personal)
    return f"({names} OR {agree})"


def _same(c: str) -> str:
    """SQL: ``c`` agrees on the two sides (null when missing on one): the email exactly,
    the birth date or an identifier within one typo (two digits swapped is one)."""
    if c == "email":
        return "email_l = email_r"
    return f"damerau_levenshtein({c}_l, {c}_r) <= 1"


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
# otherwise): the email, the number, the birth date, or the house (number and street)
# with the postal code or town.
def identifies_sql(filled: set[str]) -> str:
    """SQL on splink's predictions: the names agree and an identifying field does
    (never, when none is filled)."""
    same = [f"{c}_l = {c}_r" for c in ("email", "tel", "dob") if c in filled]
    place = [f"{c}_l = {c}_r" for c in ("postcode",) if c in filled]
    place += ["jaro_winkler_similarity(city_l, city_r) >= 0.9"] if "city" in filled else []
    if "street" in filled and place:
        # the same house: the street close, the house number the same (or missing on
        # both sides), in the same postal code or town
        number = "number_l IS NOT DISTINCT FROM number_r AND " if "number" in filled else ""
        same.append(
            f"({number}jaro_winkler_similarity(street_l, street_r) >= 0.9 "
            f"AND ({' OR '.join(place)}))"
        )
    evidence = "coalesce(" + " OR ".join(same) + ", FALSE)" if same else "FALSE"
    return f"({names_agree_sql(filled)}) AND {evidence}"


__all__ = ["identifies_sql", "names_agree_sql", "not_household_sql"]
