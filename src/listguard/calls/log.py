"""The partner's side of the call rules: the numbers received in deliveries
(``receive``) and the calls or attempts made (``import_log`` from a file, ``record``
from the API). Either all of a file is recorded or none of it: a number that is not
one, an impossible date or an unknown outcome is reported with its line, column and
value, and nothing is recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, bindparam, text

from listguard import audit
from listguard.domain.vocabulary import VOICE_CHANNELS
from listguard.errors import InputError
from listguard.owners import check_source
from listguard.storage.engine import writing
from listguard.timeutil import day_end, now_ts

if TYPE_CHECKING:
    import polars as pl

OUTCOMES = ("attempt", "answered", "refused")
CALL_CHANNELS = VOICE_CHANNELS
# a call logged this far after the clock of the registry is a mistake (clocks drift a little)
FUTURE_SLACK = 300
MAX_ERRORS = 20
# the years a call may be logged or checked in: anything else is a typing mistake
# (0026 for 2026) or a value no time zone can hold (year 1 or 9999)
FIRST_YEAR, LAST_YEAR = 2000, 2100
EARLIEST = int(dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True)
class Logged:
    rows: int  # rows of the file
    recorded: int  # attempts not recorded before


@dataclass(frozen=True)
class Received:
    numbers: int  # distinct numbers of the call channels
    delivery: str


def parse_at(value: str, where: str = "--at") -> dt.datetime:
    """An ISO 8601 instant with its time zone (``2026-12-07T10:30:00+01:00``, ``...Z``):
    a time alone would be read in which zone?"""
    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{value!r} is not a date and time: expected ISO 8601 such as "
            "2026-12-07T10:30:00+01:00",
            where=where,
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError(
            f"{value!r} has no time zone: give its offset (2026-12-07T10:30:00+01:00) or Z "
            "for UTC; the rules apply in the person's zone, which listguard finds itself",
            where=where,
        )
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise InputError(
            f"{value!r}: the year must be between {FIRST_YEAR} and {LAST_YEAR}", where=where
        )
    return at


def _phones(values: pl.Series) -> pl.DataFrame:
    from listguard.normalise.phone import normalise_phones

    return normalise_phones(values)


def receive(
    engine: Engine,
    path: Path,
    source: str,
    until: dt.date | None = None,
    delivery: str | None = None,
) -> Received:
    """Record the numbers of a delivery received (its folder or its ``contacts.csv``)
    for the call channels (``phone``, ``automated_call``), usable until the end of
    ``until`` (the campaign's last day, as the notice gives it)."""
    import polars as pl

    from listguard.io.tabular import open_tabular

    check_source(source)
    file = path / "contacts.csv" if path.is_dir() else path
    name = delivery or (path.name if path.is_dir() else path.parent.name) or file.name
    tab = open_tabular(file)
    channels = [c for c in CALL_CHANNELS if c in tab.columns]
    if not channels:
        raise InputError(
            "this delivery rents no call channel (no phone or automated_call column)",
            where=str(file),
        )
    found: list[pl.Series] = []
    for batch in tab.batches():
        for c in channels:
            found.append(batch.frame.get_column(c).str.split("|").explode().str.strip_chars())
    if tab.bad_rows:
        bad = tab.bad_rows[0]
        raise InputError(f"line {bad.line}: {bad.message}", where=str(file))
    tab.check_unchanged()
    given = pl.concat(found) if found else pl.Series([], dtype=pl.String)
    given = given.filter(given.str.len_chars() > 0).unique()
    numbers = _phones(given).get_column("e164").drop_nulls().unique().sort().to_list()
    now = now_ts()
    rows = [
        {
            "n": n,
            "s": source,
            "d": name,
            "t": now,
            "u": day_end(until) if until else None,
        }
        for n in numbers
    ]
    with writing(engine) as conn:
        if rows:
            conn.execute(
                text(
                    "INSERT INTO call_numbers (number, source, delivery, received_at, "
                    "usable_until) VALUES (:n, :s, :d, :t, :u) "
                    "ON CONFLICT (number, source, delivery) DO UPDATE "
                    "SET usable_until = excluded.usable_until"
                ),
                rows,
            )
        audit.append(
            conn, "calls_delivery_received", source, {"delivery": name, "numbers": len(rows)}
        )
    return Received(len(rows), name)


def _bad(errors: list[str], where: str) -> InputError:
    more = f" (and more: the first {MAX_ERRORS} are shown)" if len(errors) > MAX_ERRORS else ""
    shown = "\n  ".join(errors[:MAX_ERRORS])
    return InputError(
        f"{len(errors[:MAX_ERRORS])} row(s) cannot be recorded{more}; nothing was recorded:"
        f"\n  {shown}",
        where=where,
    )


def import_log(engine: Engine, path: Path, now: int | None = None) -> Logged:
    """Record the calls or attempts of a log file (columns ``number``, ``at``, and
    ``outcome``: attempt, answered or refused, empty for attempt). A time without a
    zone is Europe/Paris, as in every interchange file."""
    import polars as pl

    from listguard.io.dates import parse_instants_of
    from listguard.io.tabular import open_tabular, require_columns

    clock = now if now is not None else now_ts()
    where = str(path)
    tab = open_tabular(path)
    require_columns(tab, ("number", "at"))
    parts: list[pl.DataFrame] = []
    for batch in tab.batches():
        f = batch.frame
        outcome = (
            f.get_column("outcome").str.strip_chars().str.to_lowercase()
            if "outcome" in f.columns
            else pl.Series("outcome", [""] * f.height, dtype=pl.String)
        )
        parts.append(
            pl.DataFrame(
                {
                    "line": f.get_column("_line"),
                    "number_given": f.get_column("number"),
                    "e164": _phones(f.get_column("number")).get_column("e164"),
                    "at_given": f.get_column("at"),
                    "at": parse_instants_of(f.get_column("at")),
                    "outcome": outcome.replace("", "attempt"),
                }
            )
        )
    errors = [f"line {b.line}: {b.message}" for b in tab.bad_rows]
    tab.check_unchanged()
    rows = pl.concat(parts) if parts else pl.DataFrame()
    if rows.height:
        bad = rows.select(
            pl.col("line"),
            pl.when(pl.col("e164").is_null())
            .then(pl.format("column number: '{}' is not a phone number", pl.col("number_given")))
            .when(pl.col("at").is_null())
            .then(
                pl.format(
                    "column at: '{}' is not a possible date and time (ISO 8601 such as "
                    "2026-12-07T10:30:00+01:00)",
                    pl.col("at_given"),
                )
            )
            .when(pl.col("at") > clock + FUTURE_SLACK)
            .then(pl.format("column at: '{}' is in the future", pl.col("at_given")))
            .when(pl.col("at") < EARLIEST)
            .then(
                pl.format(
                    "column at: '{}' is before " + str(FIRST_YEAR) + ": not a date of a call",
                    pl.col("at_given"),
                )
            )
            .when(~pl.col("outcome").is_in(OUTCOMES))
            .then(
                pl.format(
                    "column outcome: '{}' is not one of " + ", ".join(OUTCOMES),
                    pl.col("outcome"),
                )
            )
            .alias("message"),
        ).filter(pl.col("message").is_not_null())
        errors += [f"line {line}: {m}" for line, m in bad.iter_rows()]
    if errors:
        raise _bad(errors, where)
    if not rows.height:
        return Logged(0, 0)
    records = (
        rows.select(
            pl.col("e164").alias("n"), pl.col("at").alias("a"), pl.col("outcome").alias("o")
        )
        .with_columns(pl.lit(clock).alias("t"), pl.lit("file").alias("v"))
        .to_dicts()
    )
    with writing(engine) as conn:
        recorded = _insert(conn, records)
        audit.append(conn, "calls_logged", path.name, {"rows": rows.height, "new": recorded})
    return Logged(rows.height, recorded)


def _insert(conn: Connection, records: list[dict[str, object]]) -> int:
    before = conn.execute(text("SELECT count(*) FROM call_attempts")).scalar_one()
    conn.execute(
        text(
            "INSERT INTO call_attempts (number, at, outcome, recorded_at, via) "
            "VALUES (:n, :a, :o, :t, :v) ON CONFLICT (number, at) DO NOTHING"
        ),
        records,
    )
    after = conn.execute(text("SELECT count(*) FROM call_attempts")).scalar_one()
    return int(after) - int(before)


def forget(conn: Connection, numbers: list[str]) -> int:
    """An erasure received from the owner: the numbers leave the deliveries received
    (no call to them is allowed any more: ``not_delivered``) and the call log, in the
    transaction that records the erasure. Returns the deliveries' rows removed."""
    if not numbers:
        return 0
    chosen = {"n": sorted(set(numbers))}
    gone = conn.execute(
        text("DELETE FROM call_numbers WHERE number IN :n").bindparams(
            bindparam("n", expanding=True)
        ),
        chosen,
    ).rowcount
    conn.execute(
        text("DELETE FROM call_attempts WHERE number IN :n").bindparams(
            bindparam("n", expanding=True)
        ),
        chosen,
    )
    return int(gone)


def record(engine: Engine, number: str, at: dt.datetime, outcome: str = "attempt") -> bool:
    """Record one call or attempt (the API); False when it was recorded already."""
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    ts = int(at.timestamp())
    clock = now_ts()
    if ts > clock + FUTURE_SLACK:
        raise InputError(f"{at.isoformat()} is in the future: a call is recorded once made")
    with writing(engine) as conn:
        done = conn.execute(
            text(
                "INSERT INTO call_attempts (number, at, outcome, recorded_at, via) "
                "VALUES (:n, :a, :o, :t, 'api') ON CONFLICT (number, at) DO NOTHING"
            ),
            {"n": number, "a": ts, "o": outcome, "t": clock},
        ).rowcount
    return bool(done)


__all__ = [
    "OUTCOMES",
    "Logged",
    "Received",
    "forget",
    "import_log",
    "parse_at",
    "receive",
    "record",
]
