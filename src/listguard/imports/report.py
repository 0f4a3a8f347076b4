"""What an import reports: its counts, and its rejects.

A check is a boolean expression over a batch that is true on a bad row; each
true value becomes one reject (line, column, value, message). Rows with at
least one reject are left out; every other row is written. The rejects are
gathered over the whole file and written beside it (or where asked) once the
import has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from listguard.domain.rows import Check, empty_rejects, rejects_of
from listguard.io.csvout import CsvWriter
from listguard.io.tabular import TabularFile

if TYPE_CHECKING:
    from listguard.erasure import Erasure

REJECT_HEADER = ("line", "column", "value", "message")


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
    erasure: Erasure | None = None  # the persons a file of events erased

    @property
    def rows_imported(self) -> int:
        return self.rows_new + self.rows_changed


def keep_valid(frame: pl.DataFrame, checks: Sequence[Check], rejects: Rejects) -> pl.DataFrame:
    """The rows of ``frame`` that pass every check; the others go to ``rejects``."""
    bad = rejects_of(frame, checks)
    rejects.add(bad)
    return frame.filter(~pl.col("_line").is_in(bad["line"].implode()))


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
        out.write_frame(all_rejects)
        out.close()
        return path


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


def duplicated_keys(ids: str, key: str) -> str:
    """SQL: the keys that appear on several lines of the staged table ``ids``."""
    return f"SELECT {key} FROM {ids} GROUP BY {key} HAVING COUNT(*) > 1"


def duplicate_rejects(lines: pa.Table, column: str, message: str) -> pl.DataFrame:
    """The rejects of ``lines`` (``line`` and the key, ``column``), lines whose key is on
    several lines of the file."""
    return pl.DataFrame(
        {"line": lines["line"], "column": column, "value": lines[column], "message": message},
        schema=empty_rejects().schema,
    )


__all__ = [
    "REJECT_HEADER",
    "ImportReport",
    "Rejects",
    "default_rejects_path",
    "duplicate_rejects",
    "duplicated_keys",
    "keep_valid",
]
