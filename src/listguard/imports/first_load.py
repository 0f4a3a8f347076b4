"""The first import of a kind into its empty registry table, without a merge.

The rows stream into the table as the file is staged, in the import's one
transaction (a ``LoadTx``: the storage writes them by its fastest way). A key
may be written once only: a key on several lines of the file rejects every one
of its lines, as the merge would, and leaves no row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Table, insert, update

from listguard.db import schema
from listguard.errors import ListguardError
from listguard.imports.report import ImportReport, Rejects, duplicate_rejects
from listguard.storage.base import LoadTx, Scratch, Storage, WriteFailed
from listguard.storage.query import Query, empty_table

# a smaller file is merged even into an empty table: starting a first load (on
# SQLite, a writer process) costs more than such a file's whole import
FIRST_LOAD_MIN_BYTES = 4 << 20

_HELD = "lg_held"  # the scratch table of rows held back by a first load


@dataclass(frozen=True)
class FirstLoad:
    """How a kind's first import into an empty registry table skips the merge (where the
    storage has a first load): the staged table ``rows`` is streamed into ``table`` as
    batches are staged, in the import's transaction, with the stamps of a new row
    (``import_id``, ``recorded_at``, ``version`` 1, where ``table`` has them). Every line
    whose ``key`` appears on several lines of the file (the staged table ``ids``: each
    line's ``line`` and ``key``) is rejected with the message ``duplicate``, as the merge
    would."""

    table: Table
    rows: str
    ids: str
    key: str
    duplicate: str
    # the query whose columnar copy the load writes as it goes (ADR 0015): its first
    # column is the table's integer primary key, its others are columns of ``rows``
    copy: Callable[[], Query] | None = None


def _key_hashes(keys: pl.Series) -> Any:
    """A 64-bit hash of each key (numpy), to recognise keys already written."""
    return keys.hash(seed=7).to_numpy()


class SeenKeys:
    """The keys a first load has seen on a line of the file (valid or not), as a sorted
    array of their hashes (8 bytes each)."""

    def __init__(self) -> None:
        import numpy as np

        self._seen = np.empty(0, dtype=np.uint64)

    def fresh(self, keys: pl.Series) -> Any:
        """Which of ``keys`` are seen for the first time (numpy booleans): the first of
        each key in the batch whose hash was not seen before; their hashes are kept."""
        import numpy as np

        hashes = _key_hashes(keys)
        order = np.argsort(hashes)
        ordered = hashes[order]
        seen = self._seen
        known = np.zeros(len(hashes), dtype=bool)
        if len(seen):
            # sorted needles: each search starts where the previous one ended
            at = np.minimum(np.searchsorted(seen, ordered), len(seen) - 1)
            known[order] = seen[at] == ordered
        fresh = keys.is_first_distinct().to_numpy() & ~known
        # the new hashes, sorted, are merged into the kept ones (one copy, no sort)
        new = np.sort(hashes[fresh])
        self._seen = np.insert(seen, np.searchsorted(seen, new), new)
        return fresh


def lines_of_keys_repeated(ids_file: Path, key: str, held: list[pl.Series]) -> pa.Table:
    """``line`` and ``key`` of every line of ``ids_file`` whose key, one of ``held``, is on
    several lines (in the order of the file). The file is scanned, not loaded."""
    ids_schema = pa.schema([("line", pa.int64()), (key, pa.string())])
    if not held:
        return empty_table(ids_schema)
    candidates = pl.concat(held).unique()
    lines = pl.scan_ipc(ids_file).filter(pl.col(key).is_in(candidates.implode())).collect()
    repeated = lines.filter(pl.len().over(key) > 1)
    return repeated.to_arrow().cast(ids_schema)


def begin_first_load(storage: Storage, spec: FirstLoad | None, file: Path) -> LoadTx | None:
    """The first load of ``spec.table``, begun; None when the import merges: the kind has
    no first load, the file is small, the storage has no first load (PostgreSQL, a
    registry in memory), or the table holds rows."""
    if spec is None or file.stat().st_size < FIRST_LOAD_MIN_BYTES:
        return None
    # a reference to the import the load itself records is right by construction: a
    # table whose rows refer to nothing else is loaded without checking them row by row
    own = {fk.parent.name for fk in spec.table.foreign_keys} <= {"import_id"}
    copy = spec.copy() if spec.copy is not None else None
    return storage.first_load(spec.table, copy, foreign_keys=not own)


def run_first_load(
    load: LoadTx,
    spec: FirstLoad,
    staged: Iterator[dict[str, pl.DataFrame]],
    scratch: Scratch,
    report: ImportReport,
    rejects: Rejects,
    record: dict[str, Any],
    finished: Callable[[], dict[str, object]],
) -> None:
    """The import written straight into ``spec.table``, empty, in the transaction ``load``.

    Each batch's rows stream to the registry while the next batch is staged. A key may
    be written once only: from the line where a key is seen again (a hash of every
    key seen is kept, sorted), the valid rows with that key are held back. Once the
    file is read, the lines of every key on several lines (found among those keys
    by scanning the Arrow file of every line's key) are rejected and their written
    row deleted, and the held rows that are not among them (a hash that merely
    collided) are written.

    Rows pass through ``load.number`` before they are ingested (where the storage keeps
    the table's columnar copy, they get their primary keys there, ADR 0015)."""
    import pyarrow.compute as pc

    table, key = spec.table, spec.key
    try:
        with load:
            # the empty batch every import stages first (the schema); taking it starts the
            # staging of the others while the load begins
            first = next(staged)
            report.import_id = load.execute(
                insert(schema.imports).values(**record).returning(schema.imports.c.id)
            )[0][0]
            if load.execute(f"SELECT 1 FROM {table.name} LIMIT 1"):
                raise ListguardError(
                    f"another import wrote {table.name} while this one started: nothing was "
                    "imported; run the import again",
                    where=load.where,
                )
            stamps = {
                "import_id": report.import_id,
                "recorded_at": record["started_at"],
                "version": 1,
            }
            stamps = {c: v for c, v in stamps.items() if c in table.c}
            # each stamp is one value on every row: an index over stamps alone
            # (recorded_at) is kept up to date as the rows are written
            load.begin_rows(constant=stamps.keys())
            seen_keys = SeenKeys()
            # every line's key, for the rejects of keys on several lines: an Arrow file
            # beside the scratch database, written as the batches go
            ids_file = scratch.folder / "ids.arrow"
            ids_schema = pa.schema([("line", pa.int64()), (key, pa.string())])
            held_keys: list[pl.Series] = []

            def stamped(frame: pl.DataFrame) -> pa.Table:
                return frame.with_columns(
                    pl.lit(v, dtype=pl.Int64).alias(c) for c, v in stamps.items()
                ).to_arrow()

            def fresh_rows(staged: Iterator[dict[str, pl.DataFrame]]) -> Iterator[pa.RecordBatch]:
                with (
                    pa.OSFile(str(ids_file), "wb") as sink,
                    pa.ipc.new_file(sink, ids_schema) as ids,
                ):
                    for tables in staged:
                        lines, rows = tables[spec.ids], tables[spec.rows]
                        ids.write_table(lines.to_arrow().cast(ids_schema))
                        again = lines[key].filter(pl.Series(seen_keys.fresh(lines[key])).not_())
                        if again.is_empty():
                            yield from load.number(stamped(rows)).to_batches()
                            continue
                        held_keys.append(again)
                        held = rows[key].is_in(again.implode())
                        scratch.append(_HELD, stamped(rows.filter(held)))
                        yield from load.number(stamped(rows.filter(held.not_()))).to_batches()

            layout = load.number(stamped(first[spec.rows])).schema
            written = load.ingest(table.name, fresh_rows(itertools.chain([first], staged)), layout)
            # a key on several lines was seen again at its second line, and its valid rows
            # from then on were held back: only those keys can be on several lines (or
            # their hashes merely collided with another key's)
            lines = lines_of_keys_repeated(ids_file, key, held_keys)
            if lines.num_rows:
                rejects.add(duplicate_rejects(lines, key, spec.duplicate))
                written -= load.delete(key, pc.unique(lines[key]))
            if _HELD in scratch.schemas:  # rows held back whose key is on one line only
                repeated = pc.unique(lines[key])

                def once(reader: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
                    for b in reader:
                        kept = b.filter(pc.invert(pc.is_in(b[key], value_set=repeated)))
                        yield from load.number(pa.Table.from_batches([kept])).to_batches()

                with scratch.rows(f"SELECT * FROM {_HELD}", scratch.schemas[_HELD]) as reader:
                    written += load.ingest(table.name, once(reader), layout)
            load.end_rows()
            report.rows_new, report.rows_changed, report.rows_unchanged = written, 0, 0
            load.execute(
                update(schema.imports)
                .where(schema.imports.c.id == report.import_id)
                .values(**finished())
            )
            load.commit()
    except WriteFailed as exc:
        raise ListguardError(f"cannot write the registry: {exc.message}", where=exc.where) from None


__all__ = [
    "FIRST_LOAD_MIN_BYTES",
    "FirstLoad",
    "SeenKeys",
    "begin_first_load",
    "lines_of_keys_repeated",
    "run_first_load",
]
