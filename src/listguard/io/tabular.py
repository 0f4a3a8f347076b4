"""Reading any tabular input as a stream of Polars batches, all columns as text.

CSV (delimiter ``,`` ``;`` or tab, detected; UTF-8 with or without BOM, or
Windows-1252, decided over the whole file), Excel ``.xlsx`` (first sheet) and
Parquet. Column names are trimmed and lower-cased. Memory stays bounded: the
file is read ``batch_rows`` rows at a time. A CSV file is first checked whole
in bytes (``io.prescan``): one that cannot be read faithfully (a quote never
closed, a NUL byte, mixed encodings) is refused before any row is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from listguard.errors import FileFormatError
from listguard.io.prescan import check_quotes, read_header, scan

# rows per batch: large enough that each column operation's fixed cost is small, small
# enough that the first batch reaches the registry soon and memory stays low (a first
# load of a million contacts: 10.8 s and 0.88 GiB at 50,000; 11.5 s and 1.18 GiB at
# 100,000; more CPU at 25,000)
BATCH_ROWS = 50_000
# far more than any format has (custom attributes included)
MAX_COLUMNS = 2_000


@dataclass
class Batch:
    frame: pl.DataFrame  # text columns, normalised names, plus ``_line``
    first_line: int


@dataclass
class BadRow:
    line: int
    column: str
    value: str
    message: str


@dataclass
class TabularFile:
    """An opened tabular file: its columns, how it was read, and its rows in batches."""

    path: Path
    columns: list[str]
    kind: str
    encoding: str | None = None
    delimiter: str | None = None
    bad_rows: list[BadRow] = field(default_factory=list)
    # device, inode, size and modification time when opened: the file checked is the file
    # imported
    stamp: tuple[int, int, int, int] | None = None

    def check_unchanged(self) -> None:
        """Refuse a file that changed since it was opened (still being written, or
        replaced): what was checked and hashed would not be what was read."""
        if self.stamp is not None and _stamp(self.path) != self.stamp:
            raise FileFormatError(
                "the file changed while it was read (is it still being written?): nothing "
                "was imported; import it again once it is complete",
                where=str(self.path),
            )

    def batches(self, batch_rows: int | None = None) -> Iterator[Batch]:
        batch_rows = batch_rows or BATCH_ROWS
        if self.kind == "csv":
            yield from self._csv_batches(batch_rows)
        elif self.kind == "xlsx":
            yield from self._xlsx_batches(batch_rows)
        else:
            yield from self._parquet_batches(batch_rows)

    # -- CSV ---------------------------------------------------------------
    def _csv_batches(self, batch_rows: int) -> Iterator[Batch]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        assert self.encoding and self.delimiter
        bad = self.bad_rows

        skipped: list[int] = []  # data-row indices of the rows that could not be split

        def on_invalid(row: Any) -> str:
            line = (row.number or 0) if row.number is not None else 0
            skipped.append(line - 2)
            bad.append(
                BadRow(
                    line,
                    "",
                    (row.text or "")[:200],
                    f"this row has {row.actual_columns} fields where the header has "
                    f"{row.expected_columns}; check quotes and delimiters",
                )
            )
            return "skip"

        read = pacsv.ReadOptions(
            encoding=self.encoding,
            column_names=self.columns,
            skip_rows=1,
            block_size=1 << 22,
            use_threads=False,
        )
        parse = pacsv.ParseOptions(
            delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        )
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in self.columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        try:
            reader = pacsv.open_csv(
                str(self.path), read_options=read, parse_options=parse, convert_options=convert
            )
            done = 0  # rows yielded so far
            pending: pl.DataFrame | None = None
            for record_batch in reader:
                frame = pl.from_arrow(record_batch)
                assert isinstance(frame, pl.DataFrame)
                pending = frame if pending is None else pl.concat([pending, frame])
                while pending.height >= batch_rows:
                    head = pending.head(batch_rows)
                    yield self._lined(head, _csv_lines(done, head.height, skipped))
                    done += batch_rows
                    pending = pending.slice(batch_rows)
            if pending is not None and pending.height:
                yield self._lined(pending, _csv_lines(done, pending.height, skipped))
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise FileFormatError(
                f"cannot read the file as {self.encoding} CSV: {exc}", where=str(self.path)
            ) from None

    @staticmethod
    def _lined(frame: pl.DataFrame, lines: list[int]) -> Batch:
        frame = frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64))
        return Batch(frame, lines[0] if lines else 0)

    @staticmethod
    def _numbered(frame: pl.DataFrame, first_line: int) -> Batch:
        frame = frame.with_columns(
            pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64).alias("_line")
        )
        return Batch(frame, first_line)

    # -- Excel ---------------------------------------------------------------
    def _xlsx_batches(self, batch_rows: int) -> Iterator[Batch]:
        from openpyxl import load_workbook

        wb = load_workbook(self.path, read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            rows = ws.iter_rows(values_only=True)
            next(rows, None)
            width = len(self.columns)
            buf: list[list[str]] = [[] for _ in range(width)]
            lines: list[int] = []
            for line, row in enumerate(rows, start=2):
                values = list(row[:width]) + [None] * (width - len(row))
                if all(v is None or v == "" for v in values):
                    continue  # an empty row of the sheet is not a record
                for i, v in enumerate(values):
                    buf[i].append(_cell_text(v))
                lines.append(line)
                if len(lines) >= batch_rows:
                    yield self._xlsx_frame(buf, lines)
                    buf = [[] for _ in range(width)]
                    lines = []
            if lines:
                yield self._xlsx_frame(buf, lines)
        finally:
            wb.close()

    def _xlsx_frame(self, buf: list[list[str]], lines: list[int]) -> Batch:
        frame = pl.DataFrame(
            dict(zip(self.columns, buf, strict=True)), schema=dict.fromkeys(self.columns, pl.String)
        )
        return self._lined(frame, lines)

    # -- Parquet ---------------------------------------------------------------
    def _parquet_batches(self, batch_rows: int) -> Iterator[Batch]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        line = 2
        for rb in pf.iter_batches(batch_size=batch_rows):
            frame = pl.from_arrow(rb)
            assert isinstance(frame, pl.DataFrame)
            frame.columns = self.columns
            frame = frame.with_columns([_text_expr(c, frame.schema[c]) for c in self.columns])
            yield self._numbered(frame, line)
            line += frame.height


def _csv_lines(done: int, n: int, skipped: list[int]) -> list[int]:
    """File line numbers of the good rows ``done .. done + n`` of a CSV (header on line 1).

    ``skipped`` holds the data-row indices of rows the parser could not split; the
    k-th good row sits after every skipped row whose index, less the skipped rows
    before it, is at most k.
    """
    import numpy as np

    k = np.arange(done, done + n, dtype=np.int64)
    marks = np.sort(np.asarray(skipped, dtype=np.int64)) - np.arange(len(skipped), dtype=np.int64)
    lines: list[int] = (k + 2 + np.searchsorted(marks, k, side="right")).tolist()
    return lines


def _text_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
        text = col.dt.to_string("%Y-%m-%dT%H:%M:%S")
        if getattr(dtype, "time_zone", None):
            text = col.dt.to_string("%Y-%m-%dT%H:%M:%S%:z")
        return text.fill_null("")
    if dtype == pl.Date:
        return col.dt.to_string("%Y-%m-%d").fill_null("")
    if dtype.is_float():
        as_int = col.cast(pl.Int64, strict=False)
        return (
            pl.when(col == as_int.cast(pl.Float64))
            .then(as_int.cast(pl.String))
            .otherwise(col.cast(pl.String))
            .fill_null("")
        )
    return col.cast(pl.String).fill_null("")


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """What tells the file apart from another written in its place: a copy that keeps
    the size and the time of the one it replaces (``cp -p``, ``rsync -t``) is another
    inode."""
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _normalise_names(names: list[str], where: str) -> list[str]:
    out = [n.strip().lower().lstrip("\ufeff") for n in names]
    seen: set[str] = set()
    for i, n in enumerate(out):
        if n == "":
            out[i] = n = f"column_{i + 1}"
        if n in seen:
            raise FileFormatError(f"column {n!r} appears twice in the header", where=where)
        seen.add(n)
    return out


def open_tabular(path: str | Path) -> TabularFile:
    """Open ``path``, detect its kind, encoding and delimiter, and read its header."""
    p = Path(path)
    where = str(p)
    if p.is_dir():
        raise FileFormatError("this is a folder: name a file in it", where=where)
    if not p.is_file():
        raise FileFormatError("file not found", where=where)
    suffix = p.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise FileFormatError(f"not a readable .xlsx workbook: {exc}", where=where) from None
        try:
            header = next(wb.worksheets[0].iter_rows(values_only=True), None)
        finally:
            wb.close()
        if not header:
            raise FileFormatError("the first sheet is empty: a header row is required", where=where)
        return TabularFile(p, _normalise_names([_cell_text(h) for h in header], where), "xlsx")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = list(pq.ParquetFile(p).schema_arrow.names)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
            raise FileFormatError(f"not a readable Parquet file: {exc}", where=where) from None
        return TabularFile(p, _normalise_names(names, where), "parquet")
    # the whole file is checked in bytes first (encoding, NUL bytes, quotes), and its
    # whole first line is the header
    stamp = _stamp(p)
    header_bytes = read_header(p)
    scanned = scan(p)
    if p.stat().st_size == 0:
        raise FileFormatError("the file is empty: a header row is required", where=where)
    encoding = scanned.encoding
    # the header ends at a line feed, or at a carriage return alone (old Mac files)
    header_line = next(iter(header_bytes.decode(encoding).splitlines()), "")
    if not header_line.strip():
        raise FileFormatError("line 1 is empty: a header row is required", where=where)
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    header = next(csv.reader(io.StringIO(header_line), delimiter=delimiter), [])
    if len(header) > MAX_COLUMNS:
        raise FileFormatError(
            f"line 1: the header has {len(header):,} columns, more than the {MAX_COLUMNS:,} "
            "a file may have",
            where=where,
        )
    check_quotes(p, scanned, delimiter, len(header))
    return TabularFile(p, _normalise_names(header, where), "csv", encoding, delimiter, stamp=stamp)


def require_columns(tab: TabularFile, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in tab.columns]
    if missing:
        hint = ""
        if len(tab.columns) == 1:
            hint = (
                " (the header was read as a single column: the delimiter must be ',' ';' or a tab)"
            )
        raise FileFormatError(
            f"missing required column(s) {', '.join(missing)}; the header has "
            f"{', '.join(tab.columns)}{hint}",
            where=str(tab.path),
        )
