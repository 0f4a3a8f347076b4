"""The files written from a decision (``shared/spec/formats.md``), as DuckDB queries
over its tables: ``decisions.csv``, a rental's ``contacts.csv``, the columns an
enrichment appends to a client's file, and the CSV writer they all go through."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listguard.io.formula import neutralised_sql
from listguard.rules.extracts import POSTAL_FIELDS
from listguard.rules.pipeline import channel_sql, order_key

if TYPE_CHECKING:
    import duckdb

# the rows a spreadsheet's sheet holds (Excel and LibreOffice Calc: 2**20), a header
# among them: ``decisions_format = "auto"`` writes a CSV of at most this many rows, and
# ``decisions.parquet`` above
SPREADSHEET_ROWS = 1_048_576

# channels on which a contact has one coordinate at most (not the numbers: phone and mobile)
SINGLE_COORDINATE = ("postal", "email")


def write_csv(
    db: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any],
    path: Path,
    sep: str,
    order: str | None = None,
    *,
    codes: Collection[str] = (),
    numbers: Collection[str] = (),
) -> int:
    """The rows of ``sql`` as a CSV (UTF-8 with BOM, CRLF), written by DuckDB's own
    parallel writer, sorted on ``sql``'s column ``order`` (left out of the file);
    returns the number of rows. No text cell acts as a spreadsheet formula
    (``io/formula.py``): every text column is neutralised in the query, but ``codes``
    (listguard's own codes, left as they are) and ``numbers`` (coordinates, where an
    E.164 value passes)."""
    relation = db.sql(sql, params=params)
    cells: list[str] = []
    for column, dtype in zip(relation.columns, relation.types, strict=True):
        if column == order:
            continue
        value = f'"{column}"'
        if str(dtype) == "VARCHAR" and column not in codes:
            value = neutralised_sql(value, numbers=column in numbers)
        # the byte order mark is the first character of the file, so of the first header
        bom = "" if cells else "\ufeff"
        cells.append(f'{value} AS "{bom}{column}"')
    query = f"SELECT {', '.join(cells)} FROM ({sql})"
    if order:
        query += f' ORDER BY "{order}"'
    quote = sep.replace("'", "''")
    target = str(path).replace("'", "''")  # an owner's folder may be "Livraisons d'avril"
    written = db.execute(
        f"COPY ({query}) TO '{target}' (FORMAT csv, HEADER, DELIMITER '{quote}', NEW_LINE '\r\n')",
        params,
    ).fetchall()
    return int(written[0][0])  # COPY reports the rows it wrote


def write_parquet(
    db: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], path: Path, order: str
) -> int:
    """The rows of ``sql`` as a Parquet file (Snappy, which every Parquet reader reads and
    which writes about twice as fast as zstd here), sorted on ``sql``'s column ``order``
    (left out of the file); returns the number of rows. Values are written as they are:
    no spreadsheet evaluates a Parquet cell (a spreadsheet that imports one, as Excel's
    Power Query does, takes its text as text), and a program reads them back unchanged."""
    relation = db.sql(sql, params=params)
    cells = ", ".join(f'"{c}"' for c in relation.columns if c != order)
    target = str(path).replace("'", "''")
    written = db.execute(
        f"COPY (SELECT {cells} FROM ({sql}) ORDER BY \"{order}\") TO '{target}' "
        "(FORMAT parquet, COMPRESSION snappy)",
        params,
    ).fetchall()
    return int(written[0][0])


def decisions_sql(channels: tuple[str, ...]) -> str:
    """``decisions.csv`` (or ``.parquet``): channel by channel in the order's order, then
    contact by contact in the base's order, each row's reasons spelled by the table of
    the distinct masks."""
    return (
        f"SELECT d.contact_id, {channel_sql(channels, 'd')} AS channel, d.coordinate, "
        "CASE WHEN d.mask = 0 THEN 'eligible' ELSE 'excluded' END AS decision, s.reasons, "
        f"{order_key('d')} AS lg_order FROM lg_decision d JOIN lg_spelled s ON s.mask = d.mask"
    )


def contacts_sql(channels: Sequence[str]) -> str:
    """The partner's ``contacts.csv``: one row per delivered contact, in ``contact_ref``
    order, with its eligible coordinates (several of a channel joined by ``|``)."""
    fields = ["$prefix || CAST(r.n AS TEXT) AS contact_ref"]
    joins = []
    for ch in channels:
        alias = f"e_{ch}"
        if ch in SINGLE_COORDINATE:
            coords = f"SELECT cid, coordinate AS coords FROM lg_elig WHERE channel = '{ch}'"
        else:
            coords = (
                "SELECT cid, string_agg(coordinate, '|' ORDER BY pos, coordinate) AS coords "
                f"FROM lg_elig WHERE channel = '{ch}' GROUP BY cid"
            )
        joins.append(f"LEFT JOIN ({coords}) {alias} ON {alias}.cid = r.cid")
        if ch == "postal":
            fields += [
                f"CASE WHEN {alias}.cid IS NOT NULL THEN c.{f} END AS {f}" for f in POSTAL_FIELDS
            ]
        else:
            fields.append(f"{alias}.coords AS {ch}")
    fields += ["CAST($source AS TEXT) AS source", "r.n AS lg_order"]
    # the seeds' rows, shaped alike (lg_seeds has a column per field of the file)
    seed_fields = ["$prefix || CAST(r.n AS TEXT)"]
    seed_fields += [f"s.{f}" for f in POSTAL_FIELDS] if "postal" in channels else []
    seed_fields += [f"s.{ch}" for ch in channels if ch != "postal"]
    seed_fields += ["CAST($source AS TEXT)", "r.n"]
    return (
        f"SELECT {', '.join(fields)} FROM lg_refs r JOIN contacts c ON c.cid = r.cid "
        + " ".join(joins)
        + f" UNION ALL SELECT {', '.join(seed_fields)} FROM lg_refs r JOIN lg_seeds s "
        "ON s.cid = r.cid"
    )


def appended_sql(channels: Sequence[str], prefix: str) -> str:
    """Per matched client row of an enrichment given something: the columns appended
    to it, named ``prefix`` and the field (the person's reference in this delivery,
    the match probability, the eligible coordinates of each channel, the source)."""
    fields = [
        f"$prefix || CAST(p.n AS TEXT) AS {prefix}contact_ref",
        f"CAST(round(m.probability, 4) AS TEXT) AS {prefix}match_probability",
    ]
    joins = []
    for ch in channels:
        alias = f"e_{ch}"
        if ch == "postal":  # the fields of the contact whose address is eligible
            joins.append(
                f"LEFT JOIN (SELECT person, min(cid) AS cid FROM lg_elig WHERE channel = 'postal' "
                f"GROUP BY person) {alias} ON {alias}.person = m.person "
                f"LEFT JOIN contacts c ON c.cid = {alias}.cid"
            )
            fields += [f"c.{f} AS {prefix}{f}" for f in POSTAL_FIELDS]
            fields += [f"NULL::VARCHAR AS {prefix}line{i}" for i in range(1, 7)]
        else:
            joins.append(
                f"LEFT JOIN (SELECT person, string_agg(coordinate, '|' ORDER BY pos, "
                f"coordinate) AS coords FROM lg_elig WHERE channel = '{ch}' GROUP BY person) "
                f"{alias} ON {alias}.person = m.person"
            )
            fields.append(f"{alias}.coords AS {prefix}{ch}")
    fields.append(f"CAST($source AS TEXT) AS {prefix}source")
    return (
        f"SELECT m.client_id, {', '.join(fields)} FROM lg_match m "
        "JOIN lg_person_ref p ON p.person = m.person " + " ".join(joins)
    )


__all__ = [
    "SINGLE_COORDINATE",
    "SPREADSHEET_ROWS",
    "appended_sql",
    "contacts_sql",
    "decisions_sql",
    "write_csv",
    "write_parquet",
]
