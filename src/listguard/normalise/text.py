"""Text compared as a key: capitals, no accents, no punctuation, single spaces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import polars as pl

# letters of French words that the Unicode decomposition leaves whole, written out
# (Sacré-Cœur and Sacre-Coeur are one address, Lætitia and Laetitia one name)
LIGATURES = {"Œ": "OE", "Æ": "AE"}


def text_key(col: str | pl.Expr, keep: str = "A-Z0-9") -> pl.Expr:
    """``col`` in capitals without accents (Œ and Æ written out), every run of characters
    outside ``keep`` (a regex class body) made one space, trimmed; "" for null."""
    e = pl.col(col) if isinstance(col, str) else col
    return (
        e.fill_null("")
        .str.to_uppercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_many(list(LIGATURES), list(LIGATURES.values()))
        .str.replace_all(f"[^{keep}]+", " ")
        .str.strip_chars()
    )


# a value that is already a key: capitals and digits in words one space apart
_KEYED = r"^(?:[A-Z0-9]+(?: [A-Z0-9]+)*)?$"


@cache
def _latin() -> tuple[list[str], list[str]]:
    """The Latin letters with diacritics (U+00C0 to U+024F) and what the Unicode
    decomposition, without its marks, makes of each where that is ASCII (É: E), and
    ``LIGATURES``. The decompositions of assigned characters never change (Unicode's
    stability policy)."""
    import unicodedata

    letters, plain = list(LIGATURES), list(LIGATURES.values())
    for code in range(0xC0, 0x250):
        letter = chr(code)
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", letter) if unicodedata.category(c) != "Mn"
        )
        if bare != letter and bare.isascii():
            letters.append(letter)
            plain.append(bare)
    return letters, plain


def text_keys(values: pl.Series) -> pl.Series:
    """``text_key`` of every one of ``values`` (keeping capitals and digits), for a
    batch: only the values that are not keys already are worked on (most names and
    addresses are plain words); their Latin letters with diacritics are replaced
    through a table (a third of the Unicode decomposition's cost), which then runs
    only on the values still not ASCII, with the same result."""
    values = values.fill_null("").str.to_uppercase()
    work = values.str.contains(_KEYED).not_().arg_true()
    if work.is_empty():
        return values
    some = values.gather(work).str.replace_many(*_latin())
    left = some.str.contains(r"[^\x00-\x7F]").arg_true()
    if left.len():
        plain = some.gather(left).str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
        some = some.scatter(left, plain)
    # each run of characters other than capitals and digits becomes one space (as
    # ``[^A-Z0-9]+`` would: that one regex costs three times these two)
    keyed = some.str.replace_all(r"[^A-Z0-9 ]", " ").str.replace_all(r"  +", " ")
    return values.scatter(work, keyed.str.strip_chars())


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
    values: pl.Series,
    transform: pl.Expr | Callable[[pl.Series], pl.Series],
    dtype: pl.DataType | type[pl.DataType],
) -> pl.Series:
    """``transform`` (an expression over a column named ``v``, or a function of a
    series) of every one of ``values``, computed once per distinct value: a column of
    few values (civilities, postal codes, dates) is transformed at the cost of a
    look-up per row."""
    distinct = values.unique()
    if isinstance(transform, pl.Expr):
        mapped = distinct.to_frame("v").select(transform).to_series()
    else:
        mapped = transform(distinct)
    return values.replace_strict(distinct, mapped, default=None, return_dtype=dtype)


__all__ = ["LIGATURES", "by_distinct", "text_key", "text_keys", "trimmed_lower"]
