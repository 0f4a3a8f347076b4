"""Phone numbers to E.164 with their line type.

French numbers (metropolitan and overseas departments, which share the national
plan) are classified with libphonenumber's own patterns for each region, applied
as vectorised regular expressions. A national-form number (``0692 12 34 56``)
takes the country code of the region whose patterns it matches (+262 here, not
+33). Other countries' numbers are parsed by ``phonenumbers`` once per distinct
value: they are few in a French base.

Numbers are read as people write them: separators of any kind, ``+33 (0)6...``,
a label before the number (``Tel:``, ``Tél.``, ``Tel portable :``, ``mobile:``),
an extension after it (``poste 12``, ``ext. 12``, ``x12``, ``#12``: dropped, the
number kept), and ``33612345678`` or ``330612345678`` (the country code without
``+`` or ``00``, as spreadsheets leave it). Letters anywhere else, a number too
short or too long, and two numbers in one cell are refused.

Line types: ``mobile``, ``fixed``, ``non_geographic`` (09), ``special`` (08:
free, shared cost, premium), ``invalid``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

import polars as pl

LINE_TYPES = ("mobile", "fixed", "non_geographic", "special", "invalid")

# libphonenumber type -> listguard line type
_TYPE_MAP = {
    "mobile": "mobile",
    "fixed_line": "fixed",
    "voip": "non_geographic",
    "toll_free": "special",
    "premium_rate": "special",
    "shared_cost": "special",
    "uan": "special",
}
# regions of the French national plan, in the order a national-form number is tried
_FRENCH_PLAN = ("FR", "RE", "YT", "GP", "MQ", "GF", "BL", "MF")
# country codes handled by the patterns; 33 accepts every region of the national plan
_CC_REGIONS = {
    "33": _FRENCH_PLAN,
    "262": ("RE", "YT"),
    "590": ("GP", "BL", "MF"),
    "594": ("GF",),
    "596": ("MQ",),
    "508": ("PM",),
}
# ASCII digits only: other scripts' digits are refused rather than guessed
_ALLOWED_CHARS = r"^[0-9\s+().\-/]*$"
# what an allowed value holds besides digits and "+" (Python's spaces include every
# character the regex's \s matches)
_SEPARATORS = ["(", ")", ".", "-", "/", *(c for c in map(chr, range(0x3001)) if c.isspace())]
# words a person writes around a number, read only in values holding something else
# than digits and separators: a label before it (one or more words, each maybe
# followed by "." or ":"), an extension after it (at most 6 digits). A fax number is
# not a number to call: "Fax:" is not a label ("Tel/Fax:" is).
_LABEL = (
    r"(?i)^(?:(?:(?:t[eé]l(?:[eé]phone)?(?:\s*/\s*fax)?|phone|portable|port|mobile|mob|gsm"
    r"|cell(?:ulaire)?|fixe|domicile|dom|bureau|perso|pro|num[eé]ro|t)\b|n°)\s*[.:]*\s*)+"
)
_EXTENSION = r"(?i)[\s,;]*\(?(?:poste|ext(?:ension)?\.?|x|#)\s*[0-9]{1,6}\)?$"
# why a value holding two numbers is refused, for the messages that name a bad value
SEVERAL = "two phone numbers in one cell (give one)"
# a run of digits long enough to be a phone number, within one value
_NUMBER_RUN = r"(?:\+|\b00)?[0-9](?:[\s.\-()]?[0-9]){8,}"


@cache
def _patterns() -> dict[str, tuple[int, dict[str, str]]]:
    text = resources.files("listguard.data").joinpath("phone_patterns.json").read_text("utf-8")
    data = json.loads(text)["regions"]
    return {r: (int(v["country_code"]), dict(v["types"])) for r, v in data.items()}


@cache
def _compiled(regions: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """The patterns of ``regions`` in the order they are tried, compiled, with their class."""
    pats = _patterns()
    out = []
    for region in regions:
        cc, types = pats[region]
        for lib_type, pattern in types.items():
            line_type = _TYPE_MAP.get(lib_type)
            if line_type is not None:
                out.append((re.compile(pattern), f"{cc}|{line_type}"))
    return tuple(out)


# below this many numbers, matching them one by one costs less than the fixed cost of
# a data frame operation per pattern (a web request's handful of numbers, or the few
# numbers no common pattern matched)
_FEW = 64


def _classify(nsn: pl.Series, regions: tuple[str, ...]) -> pl.Series:
    """'<country code>|<line type>' of the first region whose patterns match each number
    (``nsn``: national significant numbers, no nulls), null where none does.

    The patterns are tried in order, each only on the numbers no earlier pattern
    matched, so that most numbers meet one or two regexes instead of all of them. Once
    few numbers are left, they are matched one by one against the remaining patterns,
    in the same order (they are ASCII digits: Python's and Polars' regular expressions
    agree on them)."""
    compiled = _compiled(regions)
    out = pl.Series("cls", [None] * nsn.len(), dtype=pl.String)
    left = pl.DataFrame({"i": pl.int_range(nsn.len(), eager=True, dtype=pl.UInt32), "v": nsn})
    for n, (rx, cls) in enumerate(compiled):
        if left.height <= _FEW:
            values = left["v"].to_list()
            found = [next((c for r, c in compiled[n:] if r.fullmatch(v)), None) for v in values]
            return out.scatter(left["i"], pl.Series(found, dtype=pl.String))
        match = left["v"].str.contains(f"^(?:{rx.pattern})$")
        hits = left.filter(match)["i"]
        if hits.len():
            out = out.scatter(hits, cls)
            left = left.filter(~match)
    return out


def _foreign(values: pl.Series) -> pl.DataFrame:
    """E.164 and line type of numbers outside the French plans, by ``phonenumbers``."""
    import phonenumbers
    from phonenumbers import PhoneNumberType as T

    kinds = {
        T.MOBILE: "mobile",
        T.FIXED_LINE: "fixed",
        # ambiguous numbering plans (US): not known to be a mobile, so never an sms target
        T.FIXED_LINE_OR_MOBILE: "fixed",
        T.VOIP: "non_geographic",
        T.TOLL_FREE: "special",
        T.PREMIUM_RATE: "special",
        T.SHARED_COST: "special",
        T.UAN: "special",
        T.PERSONAL_NUMBER: "non_geographic",
        T.PAGER: "special",
        T.VOICEMAIL: "special",
    }
    uniq = values.drop_nulls().unique()
    e164: list[str | None] = []
    types: list[str] = []
    for v in uniq.to_list():  # once per distinct foreign number, not per contact
        try:
            num = phonenumbers.parse("+" + v, None)
        except phonenumbers.NumberParseException:
            e164.append(None)
            types.append("invalid")
            continue
        if phonenumbers.is_valid_number(num):
            e164.append(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
            types.append(kinds.get(phonenumbers.number_type(num), "special"))
        else:
            e164.append(None)
            types.append("invalid")
    return pl.DataFrame(
        {"_intl": uniq, "_f_e164": e164, "_f_type": types},
        schema={"_intl": pl.String, "_f_e164": pl.String, "_f_type": pl.String},
    )


def normalise_phones(values: pl.Series) -> pl.DataFrame:
    """E.164 (``e164``) and line type (``line_type``) of every value.

    Empty values give nulls in both columns; anything else gives a line type,
    ``invalid`` with a null ``e164`` when the number cannot be a real one. Only the
    values that hold something are worked on: a base often leaves half its phone
    columns empty.
    """
    values = values.cast(pl.String).str.strip_chars()
    given = values.fill_null("").ne("").arg_true()
    if given.len() == values.len():
        return _normalised(values)
    empty = {c: pl.Series(c, [None] * values.len(), dtype=pl.String) for c in ("e164", "line_type")}
    if given.is_empty():  # no number at all (a web form)
        return pl.DataFrame(empty)
    found = _normalised(values.gather(given))
    # each series written where a number was given (``scatter`` writes into its series)
    return pl.DataFrame([empty[c].scatter(given, found[c]) for c in empty])


def _without_words(values: pl.Series) -> pl.Series:
    """``values`` without the label before the number and the extension after it."""
    return values.str.replace(_LABEL, "").str.replace(_EXTENSION, "").str.strip_chars()


def several_numbers(values: pl.Series) -> pl.Series:
    """Whether each value holds two phone numbers or more (``06 12 34 56 78 / 01 45 67
    89 01``): such a value is refused, and this says why."""
    text = _without_words(values.cast(pl.String).fill_null(""))
    digits = text.str.replace_all(r"[^0-9]", "")
    return (text.str.count_matches(_NUMBER_RUN) >= 2) | digits.str.contains(
        r"^0[1-9][0-9]{8}0[1-9][0-9]{8}$"
    )


def refused_as_several(values: pl.Series, e164: pl.Series) -> pl.Series:
    """Whether each value was refused (``e164`` null) for holding several numbers;
    only the refused values are looked at."""
    out = pl.Series("several", [False] * values.len(), dtype=pl.Boolean)
    refused = (e164.is_null() & values.is_not_null()).arg_true()
    if refused.len():
        out = out.scatter(refused, several_numbers(values.gather(refused)))
    return out


def _normalised(values: pl.Series) -> pl.DataFrame:
    """``normalise_phones`` of ``values``, stripped and none of them empty."""
    ok = values.str.contains(_ALLOWED_CHARS)
    # the few values holding something else: the words around the number removed
    odd = (~ok).arg_true()
    if odd.len():
        cleaned = _without_words(values.gather(odd))
        values = values.clone().scatter(odd, cleaned)
        ok = ok.scatter(odd, cleaned.str.contains(_ALLOWED_CHARS) & cleaned.ne(""))
    s = pl.col("_s")
    # the digits and "+" of each value whose characters are all allowed: the others it
    # may hold are spaces and _SEPARATORS, removed as literals (a regex costs more)
    df = pl.DataFrame({"_s": values, "_ok": ok}).with_columns(
        s.str.replace_all("(0)", "", literal=True)
        .str.replace_many(_SEPARATORS, [""] * len(_SEPARATORS))
        .alias("_k"),
    )
    k = pl.col("_k")
    df = df.with_columns(
        pl.when(pl.col("_ok") & ~k.str.slice(1).str.contains("+", literal=True))
        .then(k)
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("_c")
    )
    c = pl.col("_c")
    # international digits (country code first), or a national number of the French plan
    intl = (
        pl.when(c.str.starts_with("+"))
        .then(c.str.slice(1))
        .when(c.str.starts_with("00"))
        .then(c.str.slice(2))
        # 33 and a national significant number, the "+" lost by a spreadsheet (with
        # a trunk zero after it, 12 digits: the zero is dropped below)
        .when(c.str.starts_with("33") & c.str.len_bytes().is_between(11, 12))
        .then(c)
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    national = (
        pl.when(c.str.contains(r"^0[1-9][0-9]{8}$"))
        .then(c.str.slice(1))
        .when(c.str.contains(r"^[1-9][0-9]{8}$"))  # leading zero lost by a spreadsheet
        .then(c)
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    df = df.with_columns(intl.alias("_intl"), national.alias("_nat"))
    i = pl.col("_intl")
    # the plan of each number (a national number is of the French plan, as +33 is) and
    # its national significant number; the country codes share no prefix
    code = i.str.extract(f"^({'|'.join(_CC_REGIONS)})")
    rest = i.str.slice(code.str.len_chars())
    df = df.with_columns(
        pl.when(pl.col("_nat").is_not_null()).then(pl.lit("33")).otherwise(code).alias("_plan"),
        pl.when(pl.col("_nat").is_not_null())
        .then(pl.col("_nat"))
        .when(code.is_not_null())
        # a trunk zero written after the country code (+33 06...) is dropped
        .then(pl.when(rest.str.starts_with("0")).then(rest.str.slice(1)).otherwise(rest))
        .alias("_nsn"),
    )
    # each plan's numbers classified by its regions' patterns, together
    cls = pl.Series("_cls", [None] * df.height, dtype=pl.String)
    planned = df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"), "_plan", "_nsn").filter(
        pl.col("_plan").is_not_null()
    )
    for (code, *_), group in planned.group_by("_plan"):
        cls = cls.scatter(group["i"], _classify(group["_nsn"], _CC_REGIONS[str(code)]))
    df = df.with_columns(cls)
    parts = pl.col("_cls").str.split_exact("|", 1)
    df = df.with_columns(
        ("+" + parts.struct.field("field_0") + pl.col("_nsn")).alias("_fr_e164"),
        parts.struct.field("field_1").alias("_fr_type"),
    )
    # numbers of other countries: phonenumbers, once per distinct value
    foreign_mask = df.select(pl.col("_intl").is_not_null() & pl.col("_plan").is_null()).to_series()
    if foreign_mask.any():
        foreign = _foreign(df.filter(foreign_mask)["_intl"])
        df = df.join(foreign, on="_intl", how="left", maintain_order="left")
    else:
        df = df.with_columns(
            pl.lit(None, dtype=pl.String).alias("_f_e164"),
            pl.lit(None, dtype=pl.String).alias("_f_type"),
        )
    return df.select(
        pl.coalesce(pl.col("_fr_e164"), pl.col("_f_e164")).alias("e164"),
        pl.coalesce(pl.col("_fr_type"), pl.col("_f_type"), pl.lit("invalid")).alias("line_type"),
    )


def normalise_phone(value: str | None) -> tuple[str | None, str | None]:
    """The scalar form of :func:`normalise_phones`: ``(e164, line_type)``."""
    row = normalise_phones(pl.Series([value], dtype=pl.String)).row(0)
    return row[0], row[1]
