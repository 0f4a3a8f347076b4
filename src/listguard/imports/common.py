"""What every import shares: checks that become rejects, the report, the two phases.

A check is a boolean expression over a batch that is true on a bad row; each
true value becomes one reject (line, column, value, message). Rows with at
least one reject are left out; every other row is written.

An import runs in two phases. Staging reads the file batch by batch, checks
and normalises each batch (the next one in a thread while the current one is
written) and writes the good rows to a scratch table, without touching the
registry. Merging then writes them into the registry with set-based SQL, in
one transaction: interrupted in either phase, the import leaves the registry
as it was. The rejects file is written beside the input (or where asked) once
the import committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, Table, insert, text, update

from listguard.db import schema
from listguard.db.engine import bulk_insert
from listguard.io.csvout import CsvWriter
from listguard.io.tabular import Batch, TabularFile, file_sha256, open_tabular, require_columns
from listguard.timeutil import now_ts

REJECT_HEADER = ("line", "column", "value", "message")


@dataclass(frozen=True)
class Check:
    column: str
    bad: pl.Expr
    message: str


@dataclass
class ImportReport:
    kind: str
    path: Path
    rows_read: int = 0
    rows_new: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    rejects_path: Path | None = None
    import_id: int | None = None

    @property
    def rows_imported(self) -> int:
        return self.rows_new + self.rows_changed


def rejects_of(frame: pl.DataFrame, checks: list[Check]) -> pl.DataFrame:
    """The rejects of ``frame`` (one row per failed check), in line order."""
    parts = []
    for check in checks:
        value = pl.col(check.column) if check.column in frame.columns else pl.lit("")
        parts.append(
            frame.filter(check.bad.fill_null(False)).select(
                pl.col("_line").alias("line"),
                pl.lit(check.column).alias("column"),
                value.cast(pl.String).fill_null("").alias("value"),
                pl.lit(check.message).alias("message"),
            )
        )
    if not parts:
        return empty_rejects()
    return pl.concat(parts)


def keep_valid(frame: pl.DataFrame, checks: list[Check], rejects: Rejects) -> pl.DataFrame:
    """The rows of ``frame`` that pass every check; the others go to ``rejects``."""
    bad = rejects_of(frame, checks)
    rejects.add(bad)
    return frame.filter(~pl.col("_line").is_in(bad["line"].implode()))


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"line": pl.Int64, "column": pl.String, "value": pl.String, "message": pl.String}
    )


class Rejects:
    """Rejects gathered over a whole file, written once the import has committed."""

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._parts.append(frame)

    @property
    def lines(self) -> int:
        """How many lines have at least one reject."""
        if not self._parts:
            return 0
        return pl.concat([p.select("line") for p in self._parts])["line"].n_unique()

    def add_bad_rows(self, tab: TabularFile) -> None:
        if tab.bad_rows:
            self.add(
                pl.DataFrame(
                    {
                        "line": [b.line for b in tab.bad_rows],
                        "column": [b.column for b in tab.bad_rows],
                        "value": [b.value for b in tab.bad_rows],
                        "message": [b.message for b in tab.bad_rows],
                    },
                    schema=empty_rejects().schema,
                )
            )
            tab.bad_rows.clear()

    def write(self, path: Path, delimiter: str = ";") -> Path | None:
        if not self._parts:
            path.unlink(missing_ok=True)
            return None
        all_rejects = pl.concat(self._parts).sort("line", maintain_order=True)
        out = CsvWriter(path, REJECT_HEADER, delimiter)
        out.write_rows(all_rejects.iter_rows())
        out.close()
        return path


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


def with_columns_of(frame: pl.DataFrame, known: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` with every known column, the absent ones empty."""
    missing = [c for c in known if c not in frame.columns]
    if not missing:
        return frame
    return frame.with_columns(pl.lit("", dtype=pl.String).alias(c) for c in missing)


def blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")


def text_or_null(col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars()
    return pl.when(s == "").then(pl.lit(None, dtype=pl.String)).otherwise(s).alias(col)


Stage = Callable[[Batch, Rejects], dict[str, pl.DataFrame]]
Merge = Callable[["MergeContext"], None]


@dataclass
class MergeContext:
    """What a merge step gets: the transaction, the staged tables and the report."""

    conn: Connection
    table: Callable[[str], str]  # a staged table's name in ``conn``
    report: ImportReport
    rejects: Rejects
    now: int

    @property
    def import_id(self) -> int:
        assert self.report.import_id is not None
        return self.report.import_id

    def distinct(self) -> str:
        return "IS NOT" if self.conn.dialect.name == "sqlite" else "IS DISTINCT FROM"


@dataclass(frozen=True)
class Steps:
    """What one kind does with a checked file: the tables each batch stages (its good
    rows, normalised), and the merge of the staged tables into the registry."""

    stage: Stage
    merge: Merge


@dataclass(frozen=True)
class Kind:
    """One kind of import: its columns and its steps for an opened file."""

    name: str
    required: tuple[str, ...]
    known: tuple[str, ...]  # every column of the format; absent ones arrive empty
    steps: Callable[[TabularFile, Engine], Steps]  # the engine: to read what steps need


def run_import(
    engine: Engine,
    kind: Kind,
    path: str | Path,
    *,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    delimiter: str = ";",
) -> ImportReport:
    """Import ``path``: stage it, merge it in one transaction, then write its rejects."""
    from listguard.db.arrow import Scratch, attached
    from listguard.io.prefetch import prefetch

    tab = open_tabular(path)
    require_columns(tab, kind.required)
    steps = kind.steps(tab, engine)
    report = ImportReport(kind=kind.name, path=tab.path)
    rejects = Rejects()
    digest = file_sha256(tab.path)
    started = now_ts()

    def staged_batches() -> Iterator[dict[str, pl.DataFrame]]:
        # a file without rows still stages its (empty) tables: the merge reads them
        empty = pl.DataFrame(schema={**dict.fromkeys(tab.columns, pl.String), "_line": pl.Int64})
        yield steps.stage(Batch(with_columns_of(empty, kind.known), 2), rejects)
        for batch in tab.batches():
            report.rows_read += batch.frame.height + len(tab.bad_rows)
            rejects.add_bad_rows(tab)  # rows the CSV parser could not split
            yield steps.stage(
                Batch(with_columns_of(batch.frame, kind.known), batch.first_line), rejects
            )
            if progress:
                progress(batch.frame.height)
        report.rows_read += len(tab.bad_rows)
        rejects.add_bad_rows(tab)

    with Scratch() as scratch:
        for tables in prefetch(staged_batches()):
            for name, frame in tables.items():
                scratch.append(name, frame.to_arrow())
        with engine.connect() as conn, attached(conn, scratch) as table:
            try:
                report.import_id = conn.execute(
                    insert(schema.imports)
                    .values(
                        kind=kind.name,
                        file_name=str(tab.path),
                        file_sha256=digest,
                        started_at=started,
                    )
                    .returning(schema.imports.c.id)
                ).scalar_one()
                steps.merge(MergeContext(conn, table, report, rejects, started))
                report.rows_rejected = rejects.lines
                conn.execute(
                    update(schema.imports)
                    .where(schema.imports.c.id == report.import_id)
                    .values(
                        finished_at=now_ts(),
                        rows_read=report.rows_read,
                        rows_new=report.rows_new,
                        rows_changed=report.rows_changed,
                        rows_unchanged=report.rows_unchanged,
                        rows_rejected=report.rows_rejected,
                    )
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    target = rejects_path or default_rejects_path(tab.path)
    report.rejects_path = rejects.write(target, delimiter)
    return report


def upsert_versioned(
    ctx: MergeContext,
    table: Table,
    versions: Table,
    key: str,
    fields: tuple[str, ...],
    compared: tuple[str, ...],
    staged: str,
    where: str = "1 = 1",
) -> None:
    """Merge the staged rows of a versioned table: a row whose ``compared`` values
    differ from the stored ones first has its stored version copied to ``versions``,
    then is updated with ``version`` + 1; a new row is inserted at version 1; an
    unchanged row is not written. Counts ``rows_new``, ``rows_changed`` and
    ``rows_unchanged``."""
    conn, name = ctx.conn, table.name
    differs = " OR ".join(f"t.{c} {ctx.distinct()} s.{c}" for c in compared)
    stored = ("import_id", "recorded_at", "version")
    all_cols = ", ".join((key, *fields, *stored))
    changed = conn.execute(
        text(
            f"{bulk_insert(conn)} {versions.name} ({all_cols}) "
            f"SELECT {', '.join(f't.{c}' for c in (key, *fields, *stored))} "
            f"FROM {name} t JOIN {staged} s ON s.{key} = t.{key} WHERE ({where}) AND ({differs})"
        )
    ).rowcount
    staged_count = conn.execute(text(f"SELECT COUNT(*) FROM {staged} s WHERE {where}")).scalar_one()
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*fields, "import_id", "recorded_at"))
    ex_differs = " OR ".join(f"{name}.{c} {ctx.distinct()} excluded.{c}" for c in compared)
    written = conn.execute(
        text(
            f"{bulk_insert(conn)} {name} ({all_cols}) "
            f"SELECT s.{key}, {', '.join(f's.{c}' for c in fields)}, :import_id, :now, 1 "
            f"FROM {staged} s WHERE {where} "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}, version = {name}.version + 1 "
            f"WHERE {ex_differs}"
        ),
        {"import_id": ctx.import_id, "now": ctx.now},
    ).rowcount  # rows inserted, and rows updated (exactly the changed ones)
    ctx.report.rows_new = int(written) - int(changed)
    ctx.report.rows_changed = int(changed)
    ctx.report.rows_unchanged = int(staged_count) - ctx.report.rows_new - ctx.report.rows_changed


def merge_new(ctx: MergeContext, table: Table, key: str, staged: str) -> None:
    """Merge staged rows into an append-only ``table``: a row whose ``key`` is already
    recorded (or appears earlier in the file) is not written again. Counts ``rows_new``
    and ``rows_unchanged``."""
    stamps = {"import_id": ctx.import_id, "recorded_at": ctx.now}
    stamped = [c.name for c in table.columns if c.name in stamps]
    cols = [c.name for c in table.columns if c.name != "id" and c.name not in stamps]
    staged_count = ctx.conn.execute(text(f"SELECT COUNT(*) FROM {staged}")).scalar_one()
    new = ctx.conn.execute(
        text(
            f"{bulk_insert(ctx.conn)} {table.name} ({', '.join(cols + stamped)}) "
            f"SELECT {', '.join(cols + [':' + c for c in stamped])} FROM {staged} WHERE 1 = 1 "
            f"ON CONFLICT ({key}) DO NOTHING"
        ),
        {c: stamps[c] for c in stamped},
    ).rowcount
    ctx.report.rows_new = int(new)
    ctx.report.rows_unchanged = int(staged_count) - int(new)
