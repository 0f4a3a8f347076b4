"""Writing CSV outputs: UTF-8 with a BOM, ``;`` by default, so French Excel opens them."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path


class CsvWriter:
    """A CSV file written to a temporary name and moved in place on success."""

    def __init__(self, path: Path, header: Sequence[str], delimiter: str = ";") -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".part")
        self._f = self._tmp.open("w", encoding="utf-8-sig", newline="")
        self._w = csv.writer(self._f, delimiter=delimiter, lineterminator="\r\n")
        self._w.writerow(header)

    def write_rows(self, rows: Iterable[Sequence[object]]) -> None:
        self._w.writerows(rows)

    def close(self) -> None:
        self._f.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        self._f.close()
        self._tmp.unlink(missing_ok=True)
