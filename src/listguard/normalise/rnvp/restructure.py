"""A batch of addresses restructured, step by step: the input read, the parts put on
their lines (2 to 5), the postal code and city found and checked against La Poste's
base (line 6, and line 5 when La Poste names a locality), the recipient (line 1), every
line made to fit 38 characters, then each address's status, changes and reason."""

from __future__ import annotations

import polars as pl

from listguard.normalise.rnvp.formats import CEDEX, INPUT, NOT_LATIN, POSTAL_CITY
from listguard.normalise.rnvp.lines import LINES, classify, parts
from listguard.normalise.rnvp.places import city_key, reference, resolve
from listguard.normalise.rnvp.streets import expand_street_type, fit
from listguard.normalise.text import text_key


def restructure(frame: pl.DataFrame) -> pl.DataFrame:
    """The addresses of ``frame`` (text columns among ``INPUT``) restructured: the
    columns of ``OUTPUT``, one row per input row, in order."""
    base = _base(frame)
    located = classify(parts(base))
    wide = _lines_2_to_5(base, located)
    place = _checked_place(_written_place(base, wide))
    out = _recipient(_lines_5_and_6(_place_verdict(place)))
    out, abbreviated, truncated = _fitted(out)
    return _verdict(out, abbreviated, truncated)


def _base(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column of ``INPUT`` as text (missing ones empty), ``_row`` the row's
    position, ``_script`` whether it holds letters of another script."""
    n = frame.height
    base = pl.DataFrame(
        {c: frame[c].cast(pl.String) if c in frame.columns else [None] * n for c in INPUT},
        schema=dict.fromkeys(INPUT, pl.String),
    ).with_row_index("_row")
    # letters of another script (Cyrillic, Arabic, Greek...) cannot be written on lines
    # 4 to 6, which keep only capitals without accents: the address is doubtful
    return base.with_columns(
        pl.any_horizontal(
            [pl.col(c).str.contains(NOT_LATIN).fill_null(False) for c in INPUT]
        ).alias("_script")
    )


def _lines_2_to_5(base: pl.DataFrame, located: pl.DataFrame) -> pl.DataFrame:
    """One row per address: ``line2`` to ``line5`` (the parts of each line joined; 2 and
    3 as written, 4 and 5 as keys), ``_moved<n>`` when a part came from another line,
    ``_expanded`` when the street type was written out, and the postal code and city
    written among the lines (``pc_code``, ``pc_city``)."""
    lines = (
        located.filter(pl.col("cls") != "pc")
        .group_by("_row", "cls", maintain_order=True)
        .agg(
            pl.col("text").str.join(" "),
            pl.col("key").str.join(" "),
            ((pl.col("given") != 9) & (pl.col("given").cast(pl.String) != pl.col("cls")))
            .any()
            .alias("moved"),
        )
    )
    wide = base.select("_row")
    for line in ("2", "3", "4", "5"):
        one = lines.filter(pl.col("cls") == line).select(
            "_row",
            (pl.col("text") if line in "23" else pl.col("key")).alias(f"line{line}"),
            pl.col("moved").alias(f"_moved{line}"),
        )
        wide = wide.join(one, on="_row", how="left")
    wide = expand_street_type(wide)
    written_pc = (
        located.filter(pl.col("cls") == "pc")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("pc_code").first(), pl.col("pc_city").first())
    )
    return wide.join(written_pc, on="_row", how="left")


def _written_place(base: pl.DataFrame, wide: pl.DataFrame) -> pl.DataFrame:
    """The input and its lines with the postal code and city as written: ``_code``
    (from its column, else with the city, else from the lines; a leading zero put back),
    ``_cityk`` (the city's key without CEDEX), ``_cedex`` (its number, "" without one,
    null when there is no CEDEX) and ``ck`` (the key compared with La Poste's)."""
    code_in = pl.col("postal_code").fill_null("").str.replace_all(r"\s", "").str.strip_chars()
    city_key_in = text_key("city")
    city_pc = city_key_in.str.extract(POSTAL_CITY, 1).str.replace(" ", "")
    six = base.join(wide, on="_row", how="left").with_columns(
        pl.when(code_in.str.contains(r"^\d{4}$"))
        .then("0" + code_in)
        .otherwise(code_in)
        .alias("_code"),
        city_key_in.alias("_cityk"),
    )
    six = six.with_columns(
        pl.when(pl.col("_code") != "")
        .then(pl.col("_code"))
        .when(city_pc.is_not_null())
        .then(city_pc)
        .otherwise(pl.col("pc_code").fill_null(""))
        .alias("_code"),
        pl.when(pl.col("_cityk").str.contains(POSTAL_CITY))
        .then(pl.col("_cityk").str.extract(POSTAL_CITY, 2))
        .when(pl.col("_cityk") != "")
        .then(pl.col("_cityk"))
        .otherwise(pl.col("pc_city").fill_null(""))
        .alias("_cityk"),
    ).with_columns(
        pl.col("_cityk").str.extract(CEDEX, 1).alias("_cedex"),
        pl.col("_cityk").str.replace(CEDEX, "").alias("_cityk"),
    )
    return six.with_columns(city_key(pl.col("_cityk")).alias("ck"))


_FIXES = ("_fcode", "_flib", "_fl5", "_finsee", "_fstatus", "_fchange", "_freason")


def _checked_place(six: pl.DataFrame) -> pl.DataFrame:
    """``six`` with La Poste's row for the pair as written (``libelle``, ``ligne_5``,
    ``insee``; null when it matches nothing), ``_foreign`` for an address abroad, and for
    the French pairs that match nothing, what the base makes of them (``_f...``),
    resolved once per distinct pair."""
    ref = reference().rename({"postal_code": "_code"})
    six = six.join(ref, on=["_code", "ck"], how="left")
    country = pl.col("country").fill_null("").str.strip_chars().str.to_uppercase()
    foreign = ~country.is_in(["", "FR", "FRANCE", "FRA"]) & ~pl.col("_code").str.starts_with("9")
    six = six.with_columns(foreign.alias("_foreign"))
    # the pairs that do not match as written: resolved once each
    misses = (
        six.filter(pl.col("libelle").is_null() & ~pl.col("_foreign") & pl.col("_cedex").is_null())
        .select("_code", "ck")
        .unique()
    )
    resolved = [(code, ck, resolve(code, ck)) for code, ck in misses.iter_rows()]
    fixes = pl.DataFrame(
        {
            "_code": [r[0] for r in resolved],
            "ck": [r[1] for r in resolved],
            "_fcode": [r[2].postal_code for r in resolved],
            "_flib": [r[2].libelle for r in resolved],
            "_fl5": [r[2].ligne_5 for r in resolved],
            "_finsee": [r[2].insee for r in resolved],
            "_fstatus": [r[2].status for r in resolved],
            "_fchange": [r[2].change for r in resolved],
            "_freason": [r[2].reason for r in resolved],
        },
        schema={"_code": pl.String, "ck": pl.String, **dict.fromkeys(_FIXES, pl.String)},
    )
    return six.join(fixes, on=["_code", "ck"], how="left")


def _place_verdict(six: pl.DataFrame) -> pl.DataFrame:
    """What line 6 says and what it makes of the address: ``postal_code_out``,
    ``city_out``, ``insee_out``, La Poste's line 5 (``_l5ref``), and line 6's status,
    change and reason (``_status6``, ``_change6``, ``_reason6``). A pair found as written
    is valid; a CEDEX is a company's own code, not in the base, so only its libellé is
    checked; an address abroad is doubtful; the others are as resolved."""
    cedex_ok = pl.col("ck").is_in(reference()["ck"].unique().implode()) & pl.col(
        "_code"
    ).str.contains(r"^\d{5}$")
    matched = pl.col("libelle").is_not_null()
    return six.with_columns(
        pl.when(matched)
        .then(pl.col("_code"))
        .when(pl.col("_cedex").is_not_null() | pl.col("_foreign"))
        .then(pl.col("_code"))
        .otherwise(pl.col("_fcode"))
        .alias("postal_code_out"),
        pl.when(matched)
        .then(pl.col("libelle"))
        .when(pl.col("_cedex").is_not_null() | pl.col("_foreign"))
        .then(pl.col("_cityk"))
        .otherwise(pl.col("_flib"))
        .alias("city_out"),
        pl.when(matched).then(pl.col("insee")).otherwise(pl.col("_finsee")).alias("insee_out"),
        pl.when(matched).then(pl.col("ligne_5")).otherwise(pl.col("_fl5")).alias("_l5ref"),
        pl.when(matched)
        .then(pl.lit("valid"))
        .when(pl.col("_foreign"))
        .then(pl.lit("doubtful"))
        .when(pl.col("_cedex").is_not_null())
        .then(pl.when(cedex_ok).then(pl.lit("valid")).otherwise(pl.lit("doubtful")))
        .otherwise(pl.col("_fstatus"))
        .alias("_status6"),
        pl.when(matched | pl.col("_foreign") | pl.col("_cedex").is_not_null())
        .then(pl.lit(""))
        .otherwise(pl.col("_fchange"))
        .alias("_change6"),
        pl.when(matched)
        .then(pl.lit(""))
        .when(pl.col("_foreign"))
        .then(pl.lit("not_a_french_address"))
        .when(pl.col("_cedex").is_not_null())
        .then(pl.when(cedex_ok).then(pl.lit("")).otherwise(pl.lit("cedex_city_unknown")))
        .otherwise(pl.col("_freason"))
        .alias("_reason6"),
    )


def _lines_5_and_6(out: pl.DataFrame) -> pl.DataFrame:
    """Line 5 given the former commune or lieu-dit La Poste names when the lines had
    none, and line 6 written: postal code, libellé, CEDEX and its number."""
    out = out.with_columns(
        pl.when(pl.col("line5").is_null() & (pl.col("_l5ref").fill_null("") != ""))
        .then(pl.col("_l5ref"))
        .otherwise(pl.col("line5"))
        .alias("line5"),
    )
    cedex_text = (
        pl.when(pl.col("_cedex").is_not_null())
        .then(
            pl.concat_str(
                [
                    pl.lit(" CEDEX"),
                    pl.when(pl.col("_cedex") != "")
                    .then(" " + pl.col("_cedex"))
                    .otherwise(pl.lit("")),
                ]
            )
        )
        .otherwise(pl.lit(""))
    )
    return out.with_columns(
        pl.concat_str(
            [
                pl.col("postal_code_out").fill_null(""),
                pl.lit(" "),
                pl.col("city_out").fill_null(""),
                cedex_text,
            ]
        )
        .str.strip_chars()
        .alias("line6"),
    )


def _tidy(col: str) -> pl.Expr:
    """Text as written, with single spaces (lines 1 to 3 keep their case)."""
    return pl.col(col).fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()


def _recipient(out: pl.DataFrame) -> pl.DataFrame:
    """Line 1: the company, else the person (civility, first name, last name); with a
    company, the person goes first on line 2."""
    out = out.with_columns(
        pl.concat_str([_tidy("civility"), _tidy("first_name"), _tidy("last_name")], separator=" ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .alias("_person"),
        _tidy("company").alias("_company"),
    )
    return out.with_columns(
        pl.when(pl.col("_company") != "")
        .then(pl.col("_company"))
        .otherwise(pl.col("_person"))
        .alias("line1"),
        pl.when((pl.col("_company") != "") & (pl.col("_person") != ""))
        .then(pl.concat_str([pl.col("_person"), pl.col("line2")], separator=" ", ignore_nulls=True))
        .otherwise(pl.col("line2"))
        .alias("line2"),
    )


def _fitted(out: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.Series], list[pl.Series]]:
    """Every line made to fit (lines 4 to 6 abbreviated, lines 1 to 3 cut); per line,
    the rows abbreviated and the rows truncated."""
    abbreviated: list[pl.Series] = []
    truncated: list[pl.Series] = []
    fitted = {}
    for line in ("1", "2", "3", "4", "5", "6"):
        text, shortened, cut = fit(out[f"line{line}"], upper=line in "456")
        fitted[f"line{line}"] = text
        abbreviated.append(shortened)
        truncated.append(cut)
    return out.with_columns(**fitted), abbreviated, truncated


def _verdict(
    out: pl.DataFrame, abbreviated: list[pl.Series], truncated: list[pl.Series]
) -> pl.DataFrame:
    """The columns of ``OUTPUT`` in input order: the six lines, the postal code, city and
    INSEE code, and the status with the changes made and the reason."""
    status, changes, reason = _status(abbreviated, truncated)
    return (
        out.sort("_row")
        .select(
            *[pl.col(f"line{i}") for i in range(1, 7)],
            pl.col("postal_code_out")
            .fill_null(pl.col("_code"))
            .replace("", None)
            .alias("postal_code"),
            pl.col("city_out").alias("city"),
            pl.col("insee_out").alias("insee"),
            status.alias("status"),
            changes.alias("changes"),
            reason.alias("reason"),
        )
        .with_columns(
            [
                pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                for c in ("line1", "line2", "line3", "line4", "line5", "line6", "changes", "reason")
            ]
        )
    )


def _status(
    abbreviated: list[pl.Series], truncated: list[pl.Series]
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """An address's status, its changes (";"-separated) and its reason: ``invalid`` when
    empty, when line 6 is, or with neither street nor locality; ``doubtful`` when line 6
    is, when a line was cut or holds another script; ``corrected`` when a value changed
    (line 6, a line abbreviated); else ``valid`` (moving parts to their lines or writing
    a street type out changes only the form)."""
    changes = [
        pl.when(pl.lit(a)).then(pl.lit(f"line{i}_abbreviated"))
        for i, a in enumerate(abbreviated, start=1)
    ]
    any_cut = pl.any_horizontal([pl.lit(t) for t in truncated])
    moved = pl.any_horizontal([pl.col(f"_moved{i}").fill_null(False) for i in "2345"])
    nothing = pl.all_horizontal(
        [pl.col(c).fill_null("").str.strip_chars() == "" for c in (*LINES, "postal_code", "city")]
    )
    no_point = pl.col("line4").is_null() & pl.col("line5").is_null()
    change_list = pl.concat_str(
        [
            pl.when(pl.col("_change6") != "").then(pl.col("_change6")),
            pl.when(moved).then(pl.lit("lines_moved")),
            pl.when(pl.col("_expanded")).then(pl.lit("street_type_expanded")),
            *changes,
        ],
        separator=";",
        ignore_nulls=True,
    )
    value_changed = (pl.col("_change6") != "") | pl.any_horizontal(
        [c.is_not_null() for c in changes]
    )
    status = (
        pl.when(nothing)
        .then(pl.lit("invalid"))
        .when(pl.col("_status6") == "invalid")
        .then(pl.lit("invalid"))
        .when(no_point)
        .then(pl.lit("invalid"))
        .when((pl.col("_status6") == "doubtful") | any_cut | pl.col("_script"))
        .then(pl.lit("doubtful"))
        .when(value_changed)
        .then(pl.lit("corrected"))
        .otherwise(pl.lit("valid"))
    )
    reason = (
        pl.when(nothing)
        .then(pl.lit("empty"))
        .when(pl.col("_status6") == "invalid")
        .then(pl.col("_reason6"))
        .when(no_point)
        .then(pl.lit("no_street_locality_or_po_box"))
        .when(pl.col("_script"))
        .then(pl.lit("not_latin_script"))
        .when(pl.col("_status6") == "doubtful")
        .then(pl.col("_reason6"))
        .when(any_cut)
        .then(pl.lit("line_too_long"))
        .otherwise(pl.lit(""))
    )
    return status, change_list, reason


__all__ = ["restructure"]
