"""What a first load does on SQLite beside writing the rows: their text bound as ADBC
binds it fastest, and the columnar copy it writes as it loads the table (ADR 0015).

The rows get the table's primary keys from the load (1, 2, ... in the order
written, as SQLite gives them in an empty table) and go to the copy too, which
is named once the load has committed, with the token, count and last row read
in the load's own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
from sqlalchemy import Table

from listguard.storage.query import Query
from listguard.storage.sqlite.reader import CopyWriter
from listguard.storage.sqlite.writer import BulkWriter

# a first load's page cache, and so each sorted run of its index builds
LOAD_CACHE_KIB = 4096


def small_offsets(table: pa.Table) -> pa.Table:
    """``table`` with its text columns as Arrow ``string`` (32-bit offsets), as Polars
    gives them ``large_string``: the SQLite driver of ADBC binds them about a seventh
    faster, and the registry's columnar copies are ``string`` already. A batch of
    text over 2 GiB cannot be; staging's batches are far smaller."""
    if not any(pa.types.is_large_string(f.type) for f in table.schema):
        return table
    schema = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in table.schema],
        metadata=table.schema.metadata,
    )
    return table.cast(schema)


class CopyKeeper:
    """When the load writes the table's columnar copy: gives rows the table's primary
    keys (1, 2, ... in the order written) and writes them to the copy, then checks and
    names it. The copy is only a cache: should writing it fail (a full disk), it is
    dropped and the load goes on (``copy`` is then None). Without a copy to write, rows
    pass unchanged."""

    def __init__(self, table: Table, copy: CopyWriter | None) -> None:
        self.table = table
        self.key = _primary_key(table)
        self.copy = copy
        self.keyed = copy is not None  # keys are given even after a failed copy
        self.next = 1

    @classmethod
    def start(cls, registry: str, table: Table, query: Query | None) -> CopyKeeper:
        """The keeper of ``table``'s copy beside ``registry`` (``query`` reads it); without
        a copy when there is no query or its folder cannot be written (the next read
        then makes the copy)."""
        copy = None
        if query is not None:
            try:
                copy = CopyWriter(registry, query)
            except OSError:
                copy = None
        return cls(table, copy)

    def __call__(self, rows: pa.Table) -> pa.Table:
        if not self.keyed:
            return rows
        # by Polars: a NumPy array given to pyarrow would import pandas where it is
        # installed (0.2 s, more while staging runs beside it, before the first rows).
        # Imported here, by a first load (an import, which has Polars loaded already):
        # a rental opens this backend too, and must not load Polars (half a second)
        import polars as pl

        keys = pl.int_range(
            self.next, self.next + rows.num_rows, dtype=pl.Int64, eager=True
        ).to_arrow()
        self.next += rows.num_rows
        self._guarded(lambda copy: copy.write(rows, keys))
        return rows.append_column(self.key, keys)

    def drop(self, column: str, values: pa.Array) -> None:
        """Remove from the copy the rows the load deleted."""
        self._guarded(lambda copy: copy.drop(column, values))

    def checked(self, writer: BulkWriter) -> tuple[str, list[Any] | None] | None:
        """The token and last row the copy is to be named under, read in the load's
        transaction; None when there is no copy, or the table does not hold exactly its
        rows."""
        copy = self.copy
        if copy is None:
            return None
        spec = copy.query.copy
        assert spec is not None
        name = self.table.name
        count, top = writer.execute(f"SELECT count(*), max({self.key}) FROM {name}")[0]
        found = writer.execute(spec.stamp)
        if count != copy.rows or top != copy.last or not found or found[0][0] is None:
            return None
        mark = writer.execute(f"SELECT {spec.mark} FROM {name} WHERE {self.key} = ?", (top,))
        return str(found[0][0]), [*mark[0]] if mark else None

    def publish(self, token: str, mark: list[Any] | None) -> None:
        self._guarded(lambda copy: copy.publish(token, mark))

    def discard(self) -> None:
        if self.copy is not None:
            self.copy.discard()
            self.copy = None

    def _guarded(self, step: Callable[[CopyWriter], None]) -> None:
        if self.copy is None:
            return
        try:
            step(self.copy)
        except OSError:
            self.discard()


def _primary_key(table: Table) -> str:
    (key,) = (c.name for c in table.primary_key.columns)
    return key


__all__ = ["LOAD_CACHE_KIB", "CopyKeeper", "small_offsets"]
