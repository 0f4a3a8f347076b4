"""Reading a file of any layout for processing: its columns mapped onto the contacts
format (``--map SOURCE=contacts_column``), its rows in batches with their line numbers
and their id (``--id COLUMN``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from listguard.errors import InputError
from listguard.io.tabular import TabularFile, open_tabular


@dataclass
class UsableMaps:
    """The ``--map`` options a command can use, its id column, and a note for each
    option it has no use for."""

    options: list[str]
    id_column: str
    notes: list[str]


def usable_maps(options: Sequence[str], reads: Sequence[str], id_column: str) -> UsableMaps:
    """Sort a command's ``--map`` options. One naming a column the command reads
    (``reads``) is kept; one naming its id column (``--map Ref=contact_id``) makes its
    source the id column; one naming another column of the contacts format
    (``address_line3`` for ``link``, which compares addresses by lines 4 and 5) is
    left out, with a note saying so: the command goes on without it. Any other option
    is kept for ``parse_maps`` to refuse (a misspelt column, a missing ``=``)."""
    from listguard.domain.contact_rows import KNOWN

    kept: list[str] = []
    notes: list[str] = []
    for option in options:
        source, sep, target = option.partition("=")
        source, target = source.strip(), target.strip().lower()
        if sep and source and target and target not in reads:
            if target == id_column.strip().lower():
                id_column = source
                continue
            if target in KNOWN:
                notes.append(
                    f"--map {option!r}: this command has no use for {target!r}, "
                    f"the column is not read (it reads {', '.join(reads)})"
                )
                continue
        kept.append(option)
    return UsableMaps(kept, id_column, notes)


def parse_maps(options: Sequence[str], allowed: Sequence[str]) -> dict[str, str]:
    """``["Adresse=address", "CP=postal_code"]`` as {source: target}; a target must be
    one of ``allowed``."""
    out: dict[str, str] = {}
    for option in options:
        source, sep, target = option.partition("=")
        source, target = source.strip().lower(), target.strip().lower()
        if not sep or not source or not target:
            raise InputError(f"--map {option!r}: expected SOURCE_COLUMN=contacts_column")
        if target not in allowed:
            raise InputError(
                f"--map {option!r}: {target!r} is not a column this command reads; "
                f"expected one of {', '.join(allowed)}"
            )
        out[source] = target
    return out


@dataclass
class MappedFile:
    """A file whose columns are read under their contacts-format names."""

    tab: TabularFile
    maps: dict[str, str]
    id_column: str
    used: list[str]  # the contacts-format columns found

    def ids(self, frame: pl.DataFrame) -> pl.Series:
        """The id of each row of a batch read from the file; a row without one gets its
        line number."""
        ids = (
            frame[self.id_column].fill_null("").str.strip_chars()
            if self.id_column in frame.columns
            else pl.Series(self.id_column, [""] * frame.height)
        )
        return (
            pl.DataFrame({"id": ids, "line": frame["_line"]})
            .select(
                pl.when(pl.col("id") == "")
                .then(pl.lit("line ") + pl.col("line").cast(pl.String))
                .otherwise(pl.col("id"))
                .alias(self.id_column)
            )
            .to_series()
        )

    def raw_batches(self, batch_rows: int = 100_000) -> Iterator[pl.DataFrame]:
        """The file's batches as read (every column, and ``_line``). A row the CSV
        reader could not split stops the command with its line: a processed file
        never loses a row silently."""
        for batch in self.tab.batches(batch_rows):
            self._no_bad_rows()
            yield batch.frame
        self._no_bad_rows()

    def _no_bad_rows(self) -> None:
        bad = self.tab.bad_rows
        if bad:
            more = f" (and {len(bad) - 1} other row(s))" if len(bad) > 1 else ""
            raise InputError(
                f"line {bad[0].line}: {bad[0].message}{more}", where=str(self.tab.path)
            )

    def batches(self, batch_rows: int = 100_000) -> Iterator[tuple[pl.DataFrame, pl.Series]]:
        """(the mapped columns, the ids) per batch."""
        for frame in self.raw_batches(batch_rows):
            renamed = frame.select(
                [pl.col(src).alias(dst) for src, dst in self.maps.items() if src in frame.columns]
                + [
                    pl.col(c)
                    for c in self.used
                    if c in frame.columns and c not in self.maps.values()
                ]
            )
            yield renamed, self.ids(frame)


def open_mapped(
    path: Path, maps: dict[str, str], id_column: str, wanted: Sequence[str]
) -> MappedFile:
    """Open ``path`` and check that at least one of ``wanted`` is there (under its own
    name or mapped); a mapped source column that is absent is an error."""
    tab = open_tabular(path)
    missing = [src for src in maps if src not in tab.columns]
    if missing:
        raise InputError(
            f"--map names column(s) {', '.join(missing)} that the file does not have; "
            f"it has {', '.join(tab.columns)}",
            where=str(path),
        )
    targets = set(maps.values())
    used = [c for c in wanted if c in targets or c in tab.columns]
    if not used:
        raise InputError(
            f"no usable column: expected some of {', '.join(wanted)} (or --map SOURCE=column); "
            f"the file has {', '.join(tab.columns)}",
            where=str(path),
        )
    return MappedFile(tab, maps, id_column.strip().lower(), used)


def registry_contacts(
    engine: Engine, columns: Mapping[str, str], batch_rows: int = 100_000
) -> Iterator[pl.DataFrame]:
    """The registry's current contacts in batches of ``batch_rows`` (by id, one short
    read each), as text columns named as ``columns`` says ({name: SQL expression})."""
    from sqlalchemy import text

    select = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    schema = dict.fromkeys(columns, pl.String)
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT id, {select} FROM contacts WHERE id > :last ORDER BY id LIMIT :n"),
                {"last": last, "n": batch_rows},
            ).all()
        if not rows:
            return
        last = int(rows[-1][0])
        yield pl.DataFrame([r[1:] for r in rows], schema=schema, orient="row")


def registry_table(engine: Engine, columns: Sequence[str]) -> pl.DataFrame:
    """The registry's current contacts, whole, as text columns: read by the Arrow path
    (parallel readers on SQLite), for work that holds the base in memory anyway
    (linkage). ``registry_contacts`` streams instead."""
    import pyarrow as pa

    from listguard.storage.open import open_storage
    from listguard.storage.query import Query

    query = Query(
        f"SELECT {', '.join(columns)} FROM contacts WHERE TRUE",
        pa.schema([(c, pa.string()) for c in columns]),
        {},
        split=("id", "SELECT min(id), max(id) FROM contacts"),
    )
    with engine.connect() as conn:
        tables = open_storage(engine).read_arrow({"contacts": query}, conn)
        frame = pl.from_arrow(tables["contacts"])
    assert isinstance(frame, pl.DataFrame)
    return frame


def check_threshold(threshold: float) -> None:
    if not 0 < threshold < 1:
        raise InputError(f"--threshold {threshold}: a match probability between 0 and 1")


__all__ = [
    "MappedFile",
    "UsableMaps",
    "check_threshold",
    "open_mapped",
    "parse_maps",
    "registry_contacts",
    "registry_table",
    "usable_maps",
]
