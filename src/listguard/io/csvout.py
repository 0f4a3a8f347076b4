"""Writing CSV outputs: UTF-8 with a BOM, ``;`` by default, so French Excel opens them.

No text cell acts as a spreadsheet formula (``io/formula.py``): the header and every
row are neutralised on their way in."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from listguard.io.formula import neutralise, neutralise_cell, neutralised_frame

if TYPE_CHECKING:
    import polars as pl


class CsvWriter:
    """A CSV file written to a temporary name and moved in place on success."""

    def __init__(self, path: Path, header: Sequence[str], delimiter: str = ";") -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".part")
        self._f = self._tmp.open("w", encoding="utf-8-sig", newline="")
        self._w = csv.writer(self._f, delimiter=delimiter, lineterminator="\r\n")
        self._w.writerow([neutralise(h) for h in header])

    def write_rows(self, rows: Iterable[Sequence[object]]) -> None:
        """A few rows, cell by cell (a frame goes by ``write_frame``)."""
        self._w.writerows([neutralise_cell(v) for v in row] for row in rows)

    def write_frame(
        self, frame: pl.DataFrame, *, numbers: Collection[str] = (), codes: Collection[str] = ()
    ) -> None:
        """The rows of ``frame``, its text columns neutralised as columns
        (``neutralised_frame``: ``numbers`` are coordinates, ``codes`` listguard's own)."""
        self._w.writerows(neutralised_frame(frame, numbers=numbers, codes=codes).iter_rows())

    def close(self) -> None:
        self._f.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        self._f.close()
        self._tmp.unlink(missing_ok=True)


def write_frame_csv(
    out: BinaryIO,
    frame: pl.DataFrame,
    delimiter: str,
    *,
    header: bool,
    numbers: Collection[str] = (),
    codes: Collection[str] = (),
) -> None:
    """``frame``'s rows as CSV (CRLF) onto ``out``, by Polars' writer, its text columns
    neutralised as columns (``neutralised_frame``); with ``header``, the column names
    first, neutralised as well (a client's file names its own columns)."""
    if header:
        line = io.StringIO()
        csv.writer(line, delimiter=delimiter, lineterminator="\r\n").writerow(
            [neutralise(c) for c in frame.columns]
        )
        out.write(line.getvalue().encode("utf-8"))
    neutralised_frame(frame, numbers=numbers, codes=codes).write_csv(
        out, separator=delimiter, line_terminator="\r\n", include_header=False
    )
