"""Postal addresses restructured to AFNOR NF Z10-011 ("RNVP": restructuration,
normalisation, validation postale).

Any input: the address columns of the contacts format in any state (a complement in
line 4, the street in line 2, "12, rue ..." split by a comma, the postal code with
the city), or one free-text ``address`` column. Out come the six standard lines:

1. the recipient (civility, first name, last name; a company first when there is one);
2. what locates the recipient inside the building (flat, floor, staircase, "chez");
3. what locates the building (building, entrance, residence);
4. number, extension and street;
5. locality (lieu-dit, former commune) or distribution service (BP, CS, TSA);
6. postal code and "libellé d'acheminement" (with CEDEX and its number if any).

At most 38 characters a line; lines 4 to 6 in capitals, without accents or
punctuation; a street label is abbreviated only when it does not fit, with the
standard's abbreviations, step by step (street type first, then titles, then
general words...). The postal code and commune are checked against La Poste's
official postal code base and corrected where the evidence is clear.

Each address gets a status: ``valid`` (recognised; only its form changed),
``corrected`` (a value changed: postal code, city, abbreviation; ``changes`` says
which), ``doubtful`` (deliverable as written, but something could not be confirmed:
``reason`` says what) or ``invalid`` (empty, no street nor locality nor PO box, or a
postal code and city that match nothing: ``reason`` says which). For the rules,
``valid``, ``corrected`` and ``doubtful`` are usable; ``invalid`` is an
``invalid_coordinate``.

The work is set-based (Polars expressions over a batch); only the rare addresses
whose city does not match their postal code go through a fuzzy search, once per
distinct pair.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from listguard.normalise.text import text_key

LINE_MAX = 38
STATUSES = ("valid", "corrected", "doubtful", "invalid")
OUTPUT = (
    "line1",
    "line2",
    "line3",
    "line4",
    "line5",
    "line6",
    "postal_code",
    "city",
    "insee",
    "status",
    "changes",
    "reason",
)
INPUT = (
    "civility",
    "first_name",
    "last_name",
    "company",
    "address_line2",
    "address_line3",
    "address_line4",
    "address_line5",
    "postal_code",
    "city",
    "country",
    "address",  # one free-text field, in place of (or besides) the lines
)

_NOT_LATIN = r"[^\p{Latin}\p{Common}\p{Inherited}]"
_EXT = r"(?:BIS|TER|QUATER|QUINQUIES|[A-H])"
_LINE2 = (
    r"^(?:APPARTEMENT|APPART|APPT|APT|APP|ETAGE|ETG|ESCALIER|ESC|CHEZ|C O|PORTE|CHAMBRE"
    r"|LOGEMENT|LOGT|BOITE AUX LETTRES|BAL|APT N|\d+\s*(?:ER|E|EME)\s+ETAGE|N\s*\d+\s+APP)\b"
)
_LINE3 = (
    r"^(?:BATIMENT|BATIMENTS|BAT|IMMEUBLE|IMM|RESIDENCE|RES|ENTREE|HALL|BLOC|PAVILLON"
    r"|TOUR [A-Z0-9]\b|LES JARDINS D|LE CLOS D)\b"
)
_LINE5 = r"^(?:BP|B P|BOITE POSTALE|CS|TSA|CP|LIEU DIT|LIEUDIT|LD|HAMEAU D[EU]S?)\s*\d*\b"
_NUMBER_ONLY = rf"^\d{{1,5}}\s*{_EXT}?$"
_POSTAL_CITY = r"^(\d{5}|\d{2} \d{3})\s+(\D.*)$"
_CEDEX = r"\s*\bCEDEX\b\s*(\d{0,2})\s*$"


@cache
def _street_types() -> tuple[str, ...]:
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
    rf"^((?:\d+ ?(?:{_EXT} )?)?)({'|'.join(sorted(_EXPAND, key=len, reverse=True))}) (.+)$"
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


def _expand_street_type(wide: pl.DataFrame) -> pl.DataFrame:
    """``line4`` with its street type written out where it fits (``_expanded`` says
    where)."""
    written = street_type_written_out(pl.col("line4"), LINE_MAX)
    return wide.with_columns(
        written.alias("line4"),
        (written != pl.col("line4")).fill_null(False).alias("_expanded"),
    )


def _city_key(e: pl.Expr) -> pl.Expr:
    """A city compared with La Poste's spellings: SAINT, SAINTE written out."""
    return (
        e.str.replace_all(r"\bSTE\b", "SAINTE")
        .str.replace_all(r"\bST\b", "SAINT")
        .str.replace_all(r"\bSTS\b", "SAINTS")
    )


def _tidy(col: str) -> pl.Expr:
    """Text as written, with single spaces (lines 1 to 3 keep their case)."""
    return pl.col(col).fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()


@cache
def _reference() -> pl.DataFrame:
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
                _city_key(text_key(source)).alias("ck"),
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
    for code, ck, libelle, ligne5, insee in _reference().iter_rows():
        out.setdefault(code, []).append((ck, libelle, ligne5, insee))
    return out


@cache
def _by_city() -> dict[str, list[tuple[str, str, str, str]]]:
    """city key -> [(postal code, libellé, ligne 5, insee)]."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for code, ck, libelle, ligne5, insee in _reference().iter_rows():
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
class _Place:
    postal_code: str
    libelle: str
    ligne_5: str
    insee: str
    status: str  # valid | corrected | doubtful | invalid
    change: str  # a change code, or ""
    reason: str  # why doubtful or invalid, or ""


def _resolve(code: str, ck: str) -> _Place:
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
                return _Place(code, c[1], "", c[3], "corrected", "city_added", "")
            return _Place(code, "", "", "", "invalid", "", "city_missing")
        found = process.extractOne(ck, [c[0] for c in here], scorer=fuzz.ratio, score_cutoff=80)
        if found is not None:
            c = here[found[2]]
            return _Place(code, c[1], c[2], c[3], "corrected", "city_corrected", "")
        elsewhere = by_city.get(ck, [])
        if len(elsewhere) == 1:  # the city exists under another code: which one is wrong?
            c = elsewhere[0]
            return _Place(c[0], c[1], c[2], c[3], "doubtful", "", "postal_code_city_mismatch")
        return _Place(code, ck, "", "", "doubtful", "", "city_not_at_postal_code")
    if not ck:
        return _Place(code, "", "", "", "invalid", "", "unknown_postal_code")
    elsewhere = by_city.get(ck, [])
    codes = sorted({c[0] for c in elsewhere})
    if len(codes) == 1:
        c = elsewhere[0]
        change = "postal_code_added" if not code else "postal_code_corrected"
        return _Place(c[0], c[1], c[2], c[3], "corrected", change, "")
    if codes and code:  # several: the one nearest the code given (a typo), same département
        near = [c for c in elsewhere if c[0][:2] == code[:2]]
        if near:
            best = min(near, key=lambda c: sum(a != b for a, b in zip(c[0], code, strict=True)))
            if sum(a != b for a, b in zip(best[0], code, strict=True)) == 1:
                return _Place(
                    best[0], best[1], best[2], best[3], "corrected", "postal_code_corrected", ""
                )
    if codes:
        return _Place(
            code, ck, "", "", "doubtful" if code else "invalid", "", "postal_code_ambiguous"
        )
    same = _by_departement().get(code[:2], ([], []))
    if same[0]:  # a misspelt city in the département of the code
        found = process.extractOne(ck, same[0], scorer=fuzz.ratio, score_cutoff=88)
        if found is not None:
            c = same[1][found[2]]
            return _Place(c[0], c[1], c[2], c[3], "corrected", "postal_code_city_corrected", "")
    return _Place(code, ck, "", "", "invalid", "", "unknown_postal_code_and_city")


# --- the street label: abbreviated only when it does not fit -----------------------


@cache
def _rules() -> list[tuple[float, re.Pattern[str], str]]:
    rules = []
    with resources.files("listguard.data").joinpath("nfz10_abbreviations.csv").open("rb") as f:
        for row in csv.DictReader(line.decode("utf-8") for line in f):
            long, short = row["long"].strip(), row["court"].strip().replace("@", "").strip()
            if not long or "\\g" in row["court"]:
                continue
            try:
                pattern = re.compile(rf"(?<![A-Z0-9]){long}(?![A-Z0-9])")
            except re.error:
                continue
            rules.append((float(row["etape"]), pattern, " ".join(short.upper().split())))
    return rules


_ORDER = (1.0, 2.0, 4.0, 5.0, 3.0, 6.0)
_ARTICLES = re.compile(r" (?:LE|LA|LES|AU|AUX|DE|DU|DES|D|ET|L|SUR|EN) ")


def shorten(label: str, limit: int = LINE_MAX) -> tuple[str, bool]:
    """``label`` (capitals, no punctuation) made to fit ``limit`` characters with the
    standard's abbreviations, applied step by step and left to right, only as far as
    needed; then articles dropped, then truncated. Returns the label and whether it
    fits without truncation."""
    if len(label) <= limit:
        return label, True
    text = label
    for step in _ORDER:
        for etape, pattern, short in _rules():
            if etape != step:
                continue
            text, n = pattern.subn(short, text, count=1)
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


def _person(row_civ: str, first: str, last: str, limit: int = LINE_MAX) -> str:
    """Line 1: civility, first name, last name; the first names as initials if too long."""
    text = " ".join(p for p in (row_civ, first, last) if p)
    if len(text) <= limit:
        return text
    initials = " ".join(f"{p[0]}" for p in re.split(r"[\s-]+", first) if p)
    return " ".join(p for p in (row_civ, initials, last) if p)[:limit].rstrip()


# --- the batch --------------------------------------------------------------------

_LINES = ("address_line2", "address_line3", "address_line4", "address_line5", "address")
_GIVEN = {"address_line2": 2, "address_line3": 3, "address_line4": 4, "address_line5": 5}


def _parts(base: pl.DataFrame) -> pl.DataFrame:
    """Every address part in reading order (``_row``, ``pos``, ``given``: the line it was
    written on, 9 for free text; ``text`` as written; ``key``), split at commas,
    semicolons, bars and line breaks; a lone number is joined to the part after it."""
    long = (
        base.select("_row", *_LINES)
        .unpivot(index="_row", variable_name="source", value_name="text")
        .with_columns(
            pl.col("source")
            .replace_strict(_GIVEN, default=9, return_dtype=pl.Int32)
            .alias("given"),
            pl.col("source")
            .replace_strict({c: i for i, c in enumerate(_LINES)}, return_dtype=pl.Int32)
            .alias("src"),
            pl.col("text").fill_null("").str.replace_all(r"[;|\n\r]", ",").str.split(","),
        )
        .explode("text")
        .with_columns(pl.col("text").str.replace_all(r"\s+", " ").str.strip_chars())
        .filter(pl.col("text") != "")
        .sort("_row", "src", maintain_order=True)
        .with_columns(text_key("text").alias("key"))
        .filter(pl.col("key") != "")
    )
    lone = pl.col("key").str.contains(_NUMBER_ONLY)
    follows = pl.col("_row").shift(-1) == pl.col("_row")
    merged = long.with_columns(
        (lone & follows).alias("_lone"),
        pl.when((lone & follows).shift(1).fill_null(False))
        .then(pl.col("key").shift(1) + " " + pl.col("key"))
        .otherwise(pl.col("key"))
        .alias("key"),
        pl.when((lone & follows).shift(1).fill_null(False))
        .then(pl.col("text").shift(1) + " " + pl.col("text"))
        .otherwise(pl.col("text"))
        .alias("text"),
    )
    return merged.filter(~pl.col("_lone")).drop("_lone").with_row_index("pos")


def _classify(parts: pl.DataFrame) -> pl.DataFrame:
    """Each part's line (2 to 5), or ``pc`` for a postal code and city written among the
    lines (``pc_code``, ``pc_city``)."""
    types = "|".join(re.escape(t) for t in _street_types())
    key = pl.col("key")
    street = key.str.contains(rf"^\d{{1,5}}\s*{_EXT}?\s+[A-Z]") | key.str.contains(
        rf"^(?:{types})\b"
    )
    found = parts.with_columns(
        key.str.extract(_POSTAL_CITY, 1).str.replace(" ", "").alias("pc_code"),
        key.str.extract(_POSTAL_CITY, 2).alias("pc_city"),
        pl.when(key.str.contains(_POSTAL_CITY))
        .then(pl.lit("pc"))
        .when(key.str.contains(_LINE2))
        .then(pl.lit("2"))
        .when(key.str.contains(_LINE3))
        .then(pl.lit("3"))
        .when(key.str.contains(_LINE5))
        .then(pl.lit("5"))
        .when(street)
        .then(pl.lit("4"))
        .otherwise(pl.lit("free"))
        .alias("cls"),
    )
    has4 = (pl.col("cls") == "4").any().over("_row")
    nth_free = (pl.col("cls") == "free").cast(pl.Int32).cum_sum().over("_row")
    return found.with_columns(
        pl.when(pl.col("cls") != "free")
        .then(pl.col("cls"))
        .when(~has4 & (nth_free == 1))
        .then(pl.lit("4"))  # a street written without type or number, or a lieu-dit alone
        .otherwise(pl.lit("5"))
        .alias("cls")
    )


def _fit(values: pl.Series, upper: bool) -> tuple[pl.Series, pl.Series, pl.Series]:
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


def restructure(frame: pl.DataFrame) -> pl.DataFrame:
    """The addresses of ``frame`` (text columns among ``INPUT``) restructured: the
    columns of ``OUTPUT``, one row per input row, in order."""
    n = frame.height
    base = pl.DataFrame(
        {c: frame[c].cast(pl.String) if c in frame.columns else [None] * n for c in INPUT},
        schema=dict.fromkeys(INPUT, pl.String),
    ).with_row_index("_row")
    # letters of another script (Cyrillic, Arabic, Greek...) cannot be written on lines
    # 4 to 6, which keep only capitals without accents: the address is doubtful
    base = base.with_columns(
        pl.any_horizontal(
            [pl.col(c).str.contains(_NOT_LATIN).fill_null(False) for c in INPUT]
        ).alias("_script")
    )
    parts = _classify(_parts(base))
    lines = (
        parts.filter(pl.col("cls") != "pc")
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
    wide = _expand_street_type(wide)
    written_pc = (
        parts.filter(pl.col("cls") == "pc")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("pc_code").first(), pl.col("pc_city").first())
    )
    wide = wide.join(written_pc, on="_row", how="left")
    # line 6: the postal code and city, from their columns or from the lines
    code_in = pl.col("postal_code").fill_null("").str.replace_all(r"\s", "").str.strip_chars()
    city_key = text_key("city")
    city_pc = city_key.str.extract(_POSTAL_CITY, 1).str.replace(" ", "")
    six = base.join(wide, on="_row", how="left").with_columns(
        pl.when(code_in.str.contains(r"^\d{4}$"))
        .then("0" + code_in)
        .otherwise(code_in)
        .alias("_code"),
        city_key.alias("_cityk"),
    )
    six = six.with_columns(
        pl.when(pl.col("_code") != "")
        .then(pl.col("_code"))
        .when(city_pc.is_not_null())
        .then(city_pc)
        .otherwise(pl.col("pc_code").fill_null(""))
        .alias("_code"),
        pl.when(pl.col("_cityk").str.contains(_POSTAL_CITY))
        .then(pl.col("_cityk").str.extract(_POSTAL_CITY, 2))
        .when(pl.col("_cityk") != "")
        .then(pl.col("_cityk"))
        .otherwise(pl.col("pc_city").fill_null(""))
        .alias("_cityk"),
    ).with_columns(
        pl.col("_cityk").str.extract(_CEDEX, 1).alias("_cedex"),
        pl.col("_cityk").str.replace(_CEDEX, "").alias("_cityk"),
    )
    six = six.with_columns(_city_key(pl.col("_cityk")).alias("ck"))
    ref = _reference().rename({"postal_code": "_code"})
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
    resolved = [(code, ck, _resolve(code, ck)) for code, ck in misses.iter_rows()]
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
        schema={
            "_code": pl.String,
            "ck": pl.String,
            **dict.fromkeys(
                ("_fcode", "_flib", "_fl5", "_finsee", "_fstatus", "_fchange", "_freason"),
                pl.String,
            ),
        },
    )
    six = six.join(fixes, on=["_code", "ck"], how="left")
    # CEDEX: a company's own code, not in the base; its libellé must exist in the département
    cedex_ok = pl.col("ck").is_in(_reference()["ck"].unique().implode()) & pl.col(
        "_code"
    ).str.contains(r"^\d{5}$")
    matched = pl.col("libelle").is_not_null()
    out = six.with_columns(
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
    # line 5: the former commune or lieu-dit La Poste names, when the lines had none
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
    out = out.with_columns(
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
        pl.concat_str([_tidy("civility"), _tidy("first_name"), _tidy("last_name")], separator=" ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .alias("_person"),
        _tidy("company").alias("_company"),
    )
    # line 1: the company, else the person; with a company, the person goes on line 2
    out = out.with_columns(
        pl.when(pl.col("_company") != "")
        .then(pl.col("_company"))
        .otherwise(pl.col("_person"))
        .alias("line1"),
        pl.when((pl.col("_company") != "") & (pl.col("_person") != ""))
        .then(pl.concat_str([pl.col("_person"), pl.col("line2")], separator=" ", ignore_nulls=True))
        .otherwise(pl.col("line2"))
        .alias("line2"),
    )
    changes: list[pl.Expr] = []
    truncated: list[pl.Series] = []
    fitted = {}
    for line in ("1", "2", "3", "4", "5", "6"):
        text, abbreviated, cut = _fit(out[f"line{line}"], upper=line in "456")
        fitted[f"line{line}"] = text
        changes.append(pl.when(pl.lit(abbreviated)).then(pl.lit(f"line{line}_abbreviated")))
        truncated.append(cut)
    out = out.with_columns(**fitted)
    any_cut = pl.any_horizontal([pl.lit(t) for t in truncated])
    moved = pl.any_horizontal([pl.col(f"_moved{i}").fill_null(False) for i in "2345"])
    nothing = pl.all_horizontal(
        [pl.col(c).fill_null("").str.strip_chars() == "" for c in (*_LINES, "postal_code", "city")]
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
            change_list.alias("changes"),
            reason.alias("reason"),
        )
        .with_columns(
            [
                pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                for c in ("line1", "line2", "line3", "line4", "line5", "line6", "changes", "reason")
            ]
        )
    )


__all__ = [
    "INPUT",
    "LINE_MAX",
    "OUTPUT",
    "STATUSES",
    "restructure",
    "shorten",
    "street_type_written_out",
]
