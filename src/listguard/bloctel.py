"""Bloctel, the national do-not-call list: export of numbers to screen, import of results.

Export format: ``Telephone;Identifiant``, one row per number, the number in
10-digit national form. Result: the same columns plus a third holding ``OK``
(may be called) or anything else (registered). Every result is kept with its
screening date and the SHA-256 of its file; the rules use the latest result
within ``bloctel_validity_days`` of the delivery date.

:class:`FakeBloctel` answers from a local list of registered numbers, in the
same file format, for tests and the demo.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, insert, select, text

from listguard.config import RuleSettings
from listguard.db import schema
from listguard.errors import FileFormatError, InputError
from listguard.io.digest import file_sha256
from listguard.io.tabular import open_tabular
from listguard.normalise.phone import normalise_phones
from listguard.storage.open import open_storage
from listguard.timeutil import day_end, day_start, now_ts, today

# the numbers Bloctel's upload format can carry: ten digits of the national form. Bloctel
# also covers +269, +508, +687 and +689 (rules.md), whose numbers have no such form: they
# cannot be screened, so where screening is required they stay ``bloctel_unscreened``
NATIONAL_FORM_PREFIXES = ("+33", "+262", "+590", "+594", "+596")


def national_form(e164: pl.Expr) -> pl.Expr:
    """``+33612345678`` -> ``0612345678``; ``+262692123456`` -> ``0692123456``."""
    return (
        pl.when(e164.str.starts_with("+33"))
        .then("0" + e164.str.slice(3))
        .otherwise("0" + e164.str.slice(4))
    )


def export_numbers(
    engine: Engine,
    out: Path,
    rules: RuleSettings,
    as_of: dt.date,
    *,
    include_screened: bool = False,
) -> int:
    """Write every French number of the base that has no valid screening on ``as_of``."""
    french = " OR ".join(f"n LIKE '{p}%'" for p in NATIONAL_FORM_PREFIXES)
    screened = (
        ""
        if include_screened
        else " AND n NOT IN (SELECT r.phone_e164 FROM bloctel_results r JOIN bloctel_screenings s"
        " ON s.id = r.screening_id WHERE s.screened_at >= :bfrom AND s.screened_at <= :dend)"
    )
    sql = (
        # each side says its number is not null: the partial indexes of SQLite serve
        "SELECT DISTINCT n FROM (SELECT phone_e164 AS n FROM contacts WHERE phone_e164 IS NOT "
        "NULL UNION SELECT mobile_e164 FROM contacts WHERE mobile_e164 IS NOT NULL) x "
        f"WHERE n IS NOT NULL AND ({french}){screened} ORDER BY n"
    )
    params = {
        "bfrom": day_start(as_of - dt.timedelta(days=rules.bloctel_validity_days)),
        "dend": day_end(as_of),
    }
    with engine.connect() as conn:
        numbers = pl.DataFrame(
            conn.execute(text(sql), params).all(), schema={"n": pl.String}, orient="row"
        )
    frame = numbers.select(
        national_form(pl.col("n")).alias("Telephone"),
        pl.int_range(1, numbers.height + 1).alias("Identifiant"),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out, separator=";")
    return frame.height


@dataclass
class ScreeningReport:
    screening_id: int
    screened_at: dt.date
    numbers: int
    listed: int
    already: bool = False


def import_result(engine: Engine, path: Path, screened_at: dt.date) -> ScreeningReport:
    """Record a result file; the same file for the same date is recorded once."""
    if screened_at > today():
        raise InputError(f"--screened-at {screened_at} is in the future")
    tab = open_tabular(path)
    if len(tab.columns) < 3 or tab.columns[0] != "telephone":
        raise FileFormatError(
            "a Bloctel result has the columns Telephone;Identifiant and a third one with OK "
            f"or a refusal; the header has {';'.join(tab.columns)}",
            where=str(path),
        )
    status_col = tab.columns[2]
    frames = []
    for batch in tab.batches():
        phones = normalise_phones(batch.frame["telephone"])
        frames.append(
            batch.frame.select(
                pl.col("_line"),
                pl.col("telephone"),
                phones["e164"].alias("phone_e164"),
                (pl.col(status_col).str.strip_chars().str.to_uppercase() != "OK")
                .cast(pl.Int16)
                .alias("listed"),
            )
        )
    if tab.bad_rows:
        b = tab.bad_rows[0]
        raise FileFormatError(f"line {b.line}: {b.message}", where=str(path))
    results = pl.concat(frames) if frames else pl.DataFrame()
    if results.height == 0:
        raise FileFormatError("the result file has no rows", where=str(path))
    bad = results.filter(pl.col("phone_e164").is_null())
    if bad.height:
        lines = ", ".join(str(x) for x in bad["_line"].head(5).to_list())
        raise FileFormatError(
            f"line {bad['_line'][0]}, column Telephone: {bad['telephone'][0]!r} is not a valid "
            f"phone number; {bad.height} row(s) hold none (lines {lines}); nothing was recorded",
            where=str(path),
        )
    digest = file_sha256(path)
    at = day_start(screened_at)
    rows = results.group_by("phone_e164").agg(pl.col("listed").max()).sort("phone_e164")
    listed = int(rows["listed"].sum())
    numbers = rows.select("phone_e164", pl.col("listed").cast(pl.Int64)).to_arrow()
    # the results go in by one INSERT ... SELECT from a staged table, not row by row
    storage = open_storage(engine)
    with (
        engine.connect() as conn,
        storage.staged(conn, "bloctel", numbers, numbers.schema) as table,
    ):
        existing = conn.execute(
            select(schema.bloctel_screenings.c.id).where(
                schema.bloctel_screenings.c.file_sha256 == digest,
                schema.bloctel_screenings.c.screened_at == at,
            )
        ).scalar()
        if existing is not None:
            conn.rollback()
            return ScreeningReport(int(existing), screened_at, rows.height, listed, already=True)
        try:
            sid = conn.execute(
                insert(schema.bloctel_screenings)
                .values(
                    screened_at=at,
                    file_name=str(path),
                    file_sha256=digest,
                    imported_at=now_ts(),
                    numbers=rows.height,
                    listed=listed,
                )
                .returning(schema.bloctel_screenings.c.id)
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO bloctel_results (screening_id, phone_e164, listed) "
                    f"SELECT :sid, phone_e164, listed FROM {table}"
                ),
                {"sid": sid},
            )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return ScreeningReport(int(sid), screened_at, rows.height, listed)


class FakeBloctel:
    """A stand-in for the Bloctel service: answers an export file from a local list.

    It reads and writes the same files as the real service, so the code under
    test goes through the same import path.
    """

    def __init__(self, registered_national_numbers: Iterable[str]) -> None:
        self.registered = frozenset(registered_national_numbers)

    def screen(self, export_file: Path, result_file: Path) -> int:
        """Write the result file for ``export_file``; returns how many numbers are registered."""
        frame = pl.read_csv(export_file, separator=";", schema_overrides={"Telephone": pl.String})
        result = frame.with_columns(
            pl.when(pl.col("Telephone").is_in(list(self.registered)))
            .then(pl.lit("INSCRIT"))
            .otherwise(pl.lit("OK"))
            .alias("Resultat")
        )
        result.write_csv(result_file, separator=";")
        return int((result["Resultat"] != "OK").sum())
