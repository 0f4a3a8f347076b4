"""Dates and instants of the interchange files, parsed column-wise.

Accepted: ISO 8601 dates and date-times (``2026-03-14``, ``2026-03-14T09:30``,
``2026-03-14 09:30:00+01:00``, ``...Z``) and ``14/03/2026`` (with an optional
time). A value without a time zone is Europe/Paris. The result is Unix seconds;
null where the value is empty or cannot be a real instant.
"""

from __future__ import annotations

import polars as pl

_TZ = r"(?:Z|[+-]\d{2}:?\d{2})"


def parse_instants(col: pl.Expr) -> pl.Expr:
    """Unix seconds of every value of ``col`` (a String expression); null when unreadable."""
    s = col.str.strip_chars()
    s = s.str.replace(r"^(\d{2})/(\d{2})/(\d{4})", "$3-$2-$1")
    s = s.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    s = s.str.replace(r"^(\d{4}-\d{2}-\d{2})$", "${1}T00:00:00")
    s = s.str.replace(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})($|" + _TZ + ")", "${1}:00$2")
    s = s.str.replace(r"\.\d+", "")
    s = s.str.replace(r"Z$", "+00:00")
    s = s.str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
    shaped = s.str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2})?$")
    with_tz = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_unit="us")
    epoch = pl.coalesce(with_tz.dt.epoch("s"), _paris(s))
    return pl.when(shaped).then(epoch).otherwise(pl.lit(None, dtype=pl.Int64))


def _paris(s: pl.Expr) -> pl.Expr:
    """Unix seconds of ``YYYY-MM-DDTHH:MM:SS`` text read as a time in Paris; null for any
    other text, and for a time the clocks skipped."""
    return (
        s.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
        .dt.replace_time_zone("Europe/Paris", ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.epoch("s")
    )


# the shapes most files write, read without the rewriting the others need: a date
# (2026-03-14 or 14/03/2026) or a date and time without a zone (2026-03-14T09:30:00)
_ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"
_FR_DAY = r"^\d{2}/\d{2}/\d{4}$"
_ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"


def parse_instants_of(values: pl.Series) -> pl.Series:
    """``parse_instants`` of a column, computed once per distinct value (a base holds far
    fewer distinct dates than rows)."""
    from listguard.normalise.text import by_distinct

    return by_distinct(values, _instants, pl.Int64)


def _instants(values: pl.Series) -> pl.Series:
    """``parse_instants`` of ``values``: the usual shapes are read directly (same
    result), only the others are rewritten first."""
    v = pl.col("v").str.strip_chars()
    usual = (
        values.to_frame("v")
        .select(
            pl.when(v.str.contains(_ISO_NAIVE))
            .then(v)
            .when(v.str.contains(_ISO_DAY))
            .then(v + "T00:00:00")
            .when(v.str.contains(_FR_DAY))
            .then(
                pl.concat_str(
                    v.str.slice(6, 4),
                    pl.lit("-"),
                    v.str.slice(3, 2),
                    pl.lit("-"),
                    v.str.slice(0, 2),
                    pl.lit("T00:00:00"),
                )
            )
        )
        .to_series()
    )
    parsed = usual.to_frame("v").select(_paris(pl.col("v"))).to_series()
    other = usual.is_null().arg_true()
    if other.len():
        rest = values.gather(other).to_frame("v").select(parse_instants(pl.col("v")))
        parsed = parsed.scatter(other, rest.to_series())
    return parsed


def parse_dates_iso(col: pl.Expr) -> pl.Expr:
    """A calendar date as ``YYYY-MM-DD`` text (birth dates); null when unreadable."""
    s = col.str.strip_chars().str.replace(r"^(\d{2})/(\d{2})/(\d{4})$", "$3-$2-$1")
    return s.str.to_date("%Y-%m-%d", strict=False).dt.to_string("%Y-%m-%d")
