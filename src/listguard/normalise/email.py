"""Email addresses: syntax, case, internationalised domains.

The normalised form is the address trimmed and lower-cased, with an
internationalised domain in its canonical Unicode form (checked by IDNA 2008).
A value that is not an address gives ``valid = False`` and keeps a null
normalised form; the value as given stays in the registry.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

# RFC 5322 dot-atom local part (no quoted strings: no mailbox provider accepts them for sign-up)
_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ASCII_EMAIL = rf"^{_LOCAL}@(?:{_LABEL}\.)+[a-z]{{2,63}}$"
_UNICODE_SHAPE = rf"^{_LOCAL}@[^@\s]+\.[^@\s.]+$"


def _idn_domains(domains: pl.Series) -> pl.DataFrame:
    """Canonical Unicode form of each distinct non-ASCII domain, or null if not valid IDNA."""
    import idna

    uniq = domains.drop_nulls().unique().to_list()
    out: list[str | None] = []
    for d in uniq:  # once per distinct internationalised domain
        try:
            out.append(idna.decode(idna.encode(unicodedata.normalize("NFC", d), uts46=True)))
        except (idna.IDNAError, UnicodeError):
            out.append(None)
    return pl.DataFrame({"_dom": uniq, "_idn": out}, schema={"_dom": pl.String, "_idn": pl.String})


def normalise_emails(values: pl.Series) -> pl.DataFrame:
    """``email`` (normalised or null) and ``valid`` (null when the value is empty)."""
    df = pl.DataFrame({"raw": values.cast(pl.String)})
    s = pl.col("raw").str.strip_chars().str.to_lowercase()
    df = df.with_columns(s.alias("_s"), (s.is_null() | (s == "")).alias("_empty"))
    short = pl.col("_s").str.len_bytes() <= 254
    df = df.with_columns(
        pl.when(pl.col("_s").str.contains(_ASCII_EMAIL) & short).then(pl.col("_s")).alias("email"),
        (
            ~pl.col("_s").str.contains(r"^[\x00-\x7f]*$")
            & pl.col("_s").str.contains(_UNICODE_SHAPE)
            & short
        )
        .fill_null(False)
        .alias("_maybe_idn"),
    )
    # an internationalised domain (never an ASCII address): few, handled apart
    idn_rows = df["_maybe_idn"].arg_true()
    if idn_rows.len():
        parts = df["_s"].gather(idn_rows).str.split("@")
        some = pl.DataFrame({"_local": parts.list.first(), "_dom": parts.list.last()})
        some = some.join(_idn_domains(some["_dom"]), on="_dom", how="left", maintain_order="left")
        idn_email = some.select(pl.col("_local") + "@" + pl.col("_idn")).to_series()
        df = df.with_columns(df["email"].scatter(idn_rows, idn_email))
    return df.select(
        "email",
        pl.when(pl.col("_empty"))
        .then(None)
        .otherwise(pl.col("email").is_not_null())
        .alias("valid"),
    )


# Unicode White_Space, what Polars' strip_chars removes (Python's isspace adds U+001C..1F)
_WHITE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_WHITE += "\u2028\u2029\u202f\u205f\u3000"
_ASCII_RE = re.compile(_ASCII_EMAIL)
_UNICODE_RE = re.compile(_UNICODE_SHAPE)


def normalise_email(value: str | None) -> tuple[str | None, bool | None]:
    """The scalar form of :func:`normalise_emails`: ``(email, valid)``, the same rules
    in plain Python (one address, as a web form sends it, needs no data frame)."""
    if value is None:
        return None, None
    s = value.strip(_WHITE).lower()
    if not s:
        return None, None
    if len(s.encode("utf-8")) > 254:
        return None, False
    if s.isascii():
        return (s, True) if _ASCII_RE.search(s) else (None, False)
    if not _UNICODE_RE.search(s):
        return None, False
    idn = _idn_domains(pl.Series([s.split("@")[-1]], dtype=pl.String))["_idn"][0]
    if idn is None:
        return None, False
    return f"{s.split('@')[0]}@{idn}", True
