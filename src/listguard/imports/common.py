"""What every import shares: checks that become rejects, the report, the transaction.

A check is a boolean expression over a batch that is true on a bad row; each
true value becomes one reject (line, column, value, message). Rows with at
least one reject are left out; every other row is written. The whole import is
one transaction: interrupted, it leaves the registry as it was. The rejects
file is written beside the input (or where asked) once the import committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, Table, insert, select, update

from listguard.db import schema
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
        self.lines = 0

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._parts.append(frame)
            self.lines += frame["line"].n_unique()

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


Process = Callable[[Connection, Iterator[Batch], ImportReport, Rejects], None]


@dataclass(frozen=True)
class Kind:
    """One kind of import: its required columns and how it writes a checked file."""

    name: str
    required: tuple[str, ...]
    known: tuple[str, ...]  # every column of the format; absent ones arrive empty
    processor: Callable[[TabularFile], Process]


def run_import(
    engine: Engine,
    kind: Kind,
    path: str | Path,
    *,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    delimiter: str = ";",
) -> ImportReport:
    """Import ``path`` in one transaction; write its rejects once the import committed."""
    tab = open_tabular(path)
    require_columns(tab, kind.required)
    process = kind.processor(tab)
    report = ImportReport(kind=kind.name, path=tab.path)
    rejects = Rejects()
    digest = file_sha256(tab.path)

    def batches() -> Iterator[Batch]:
        for batch in tab.batches():
            report.rows_read += batch.frame.height
            yield Batch(with_columns_of(batch.frame, kind.known), batch.first_line)
            report.rows_read += len(tab.bad_rows)  # rows the CSV parser could not split
            rejects.add_bad_rows(tab)
            if progress:
                progress(batch.frame.height)
        report.rows_read += len(tab.bad_rows)
        rejects.add_bad_rows(tab)

    with engine.begin() as conn:
        import_id = conn.execute(
            insert(schema.imports)
            .values(
                kind=kind.name, file_name=str(tab.path), file_sha256=digest, started_at=now_ts()
            )
            .returning(schema.imports.c.id)
        ).scalar_one()
        report.import_id = import_id
        process(conn, batches(), report, rejects)
        report.rows_rejected = rejects.lines
        conn.execute(
            update(schema.imports)
            .where(schema.imports.c.id == import_id)
            .values(
                finished_at=now_ts(),
                rows_read=report.rows_read,
                rows_new=report.rows_new,
                rows_changed=report.rows_changed,
                rows_unchanged=report.rows_unchanged,
                rows_rejected=report.rows_rejected,
            )
        )
    target = rejects_path or default_rejects_path(tab.path)
    report.rejects_path = rejects.write(target, delimiter)
    return report


def count_versions(conn: Connection, table: Table, import_id: int) -> tuple[int, int]:
    """(new, changed) rows written by ``import_id`` in a versioned table."""
    from sqlalchemy import case, func

    new, changed = conn.execute(
        select(
            func.coalesce(func.sum(case((table.c.version == 1, 1), else_=0)), 0),
            func.coalesce(func.sum(case((table.c.version > 1, 1), else_=0)), 0),
        ).where(table.c.import_id == import_id)
    ).one()
    return int(new), int(changed)
