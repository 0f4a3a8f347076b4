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

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Connection, Engine, Table, insert, text, update

from listguard.db import schema
from listguard.db.engine import bulk_insert
from listguard.domain.retention import DEFAULT_RETENTION, Retention
from listguard.domain.rows import Check, empty_rejects, rejects_of
from listguard.errors import ListguardError
from listguard.io.csvout import CsvWriter
from listguard.io.digest import file_sha256
from listguard.io.stage_folders import ended_by_signals
from listguard.io.tabular import Batch, TabularFile, open_tabular, require_columns
from listguard.storage.base import LoadTx, Scratch, Storage, WriteFailed
from listguard.storage.open import open_storage
from listguard.storage.query import Query, empty_table
from listguard.timeutil import now_ts

if TYPE_CHECKING:
    from listguard.erasure import Erasure

REJECT_HEADER = ("line", "column", "value", "message")
# a smaller file is merged even into an empty table: starting a first load (on
# SQLite, a writer process) costs more than such a file's whole import
FIRST_LOAD_MIN_BYTES = 4 << 20


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


def with_columns_of(frame: pl.DataFrame, known: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` with every known column, the absent ones empty."""
    missing = [c for c in known if c not in frame.columns]
    if not missing:
        return frame
    return frame.with_columns(pl.lit("", dtype=pl.String).alias(c) for c in missing)


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
    # the settings' period: the deliveries an imported opposition is forwarded for
    retention: Retention = DEFAULT_RETENTION

    @property
    def import_id(self) -> int:
        assert self.report.import_id is not None
        return self.report.import_id

    def distinct(self) -> str:
        return "IS NOT" if self.conn.dialect.name == "sqlite" else "IS DISTINCT FROM"


@dataclass(frozen=True)
class FirstLoad:
    """How a kind's first import into an empty registry table skips the merge (SQLite):
    the staged table ``rows`` is streamed into ``table`` as batches are staged, in the
    import's transaction, with the stamps of a new row (``import_id``, ``recorded_at``,
    ``version`` 1, where ``table`` has them). Every line whose ``key`` appears on several
    lines of the file (the staged table ``ids``: each line's ``line`` and ``key``) is
    rejected with the message ``duplicate``, as the merge would."""

    table: Table
    rows: str
    ids: str
    key: str
    duplicate: str
    # the query whose columnar copy the load writes as it goes (ADR 0015): its first
    # column is the table's integer primary key, its others are columns of ``rows``
    copy: Callable[[], Query] | None = None


@dataclass(frozen=True)
class Steps:
    """What one kind does with a checked file: the tables each batch stages (its good
    rows, normalised), and the merge of the staged tables into the registry; and, for a
    kind that can, how its first import into an empty table is loaded instead.
    ``attributes``: the file's unknown columns, which this kind keeps."""

    stage: Stage
    merge: Merge
    first_load: FirstLoad | None = None
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    """One kind of import: its columns and its steps for an opened file."""

    name: str
    required: tuple[str, ...]
    known: tuple[str, ...]  # every column of the format; absent ones arrive empty
    steps: Callable[[TabularFile, Engine], Steps]  # the engine: to read what steps need


STAGERS = 2  # batches staged at once, beside the reading and the writing of others


def run_import(
    engine: Engine,
    kind: Kind,
    path: str | Path,
    *,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    delimiter: str = ";",
    retention: Retention = DEFAULT_RETENTION,
) -> ImportReport:
    """Import ``path``: stage it, merge it in one transaction, then write its rejects."""
    tab = open_tabular(path)
    require_columns(tab, kind.required)
    steps = kind.steps(tab, engine)
    storage = open_storage(engine)
    # a first load begins now, while the file is hashed and its first batches are staged
    # SIGTERM or SIGHUP: every ``finally`` runs (the scratch folder, a writer process)
    with ended_by_signals():
        load = _begin_first_load(storage, steps.first_load, tab.path)
        try:
            return _run_import(
                storage, kind, tab, steps, load, rejects_path, progress, delimiter, retention
            )
        finally:
            if load is not None:
                load.rollback()  # after a commit: only lets its resources go


def _run_import(
    storage: Storage,
    kind: Kind,
    tab: TabularFile,
    steps: Steps,
    load: LoadTx | None,
    rejects_path: Path | None,
    progress: Callable[[int], None] | None,
    delimiter: str,
    retention: Retention,
) -> ImportReport:
    from listguard.io.prefetch import prefetch

    report = ImportReport(kind=kind.name, path=tab.path, unknown_columns=list(steps.attributes))
    rejects = Rejects()
    # the file is hashed on a thread of its own while it is staged (hashlib releases
    # the GIL); the hash is written with the import's counts, in the same transaction
    hashing = ThreadPoolExecutor(1, thread_name_prefix="listguard-hash")
    digest = hashing.submit(file_sha256, tab.path)
    hashing.shutdown(wait=False)
    started = now_ts()
    record = {
        "kind": kind.name,
        "file_name": str(tab.path),
        "file_sha256": "",  # until ``finished``
        "started_at": started,
    }

    def staged_batches() -> Iterator[dict[str, pl.DataFrame]]:
        """The staged tables of each batch, in the file's order. Batches are staged by
        ``STAGERS`` threads at once (Polars releases the GIL), the file read in order."""
        from collections import deque
        from concurrent.futures import Future

        # a file without rows still stages its (empty) tables: the merge reads them
        empty = pl.DataFrame(schema={**dict.fromkeys(tab.columns, pl.String), "_line": pl.Int64})
        yield steps.stage(Batch(with_columns_of(empty, kind.known), 2), rejects)
        pending: deque[tuple[Future[dict[str, pl.DataFrame]], int]] = deque()
        with ThreadPoolExecutor(STAGERS, thread_name_prefix="listguard-stage") as pool:
            try:
                for batch in tab.batches():
                    report.rows_read += batch.frame.height + len(tab.bad_rows)
                    rejects.add_bad_rows(tab)  # rows the CSV parser could not split
                    frame = with_columns_of(batch.frame, kind.known)
                    staging = pool.submit(steps.stage, Batch(frame, batch.first_line), rejects)
                    pending.append((staging, batch.frame.height))
                    while len(pending) >= STAGERS or (pending and pending[0][0].done()):
                        done, rows = pending.popleft()
                        yield done.result()
                        if progress:
                            progress(rows)
                while pending:
                    done, rows = pending.popleft()
                    yield done.result()
                    if progress:
                        progress(rows)
            finally:
                for staging, _ in pending:  # a failure, or a consumer that stopped
                    staging.cancel()
        report.rows_read += len(tab.bad_rows)
        rejects.add_bad_rows(tab)

    def finished() -> dict[str, object]:
        tab.check_unchanged()  # read whole by now: before the commit
        report.rows_rejected = rejects.lines
        return {
            "file_sha256": digest.result(),
            "finished_at": now_ts(),
            "rows_read": report.rows_read,
            "rows_new": report.rows_new,
            "rows_changed": report.rows_changed,
            "rows_unchanged": report.rows_unchanged,
            "rows_rejected": report.rows_rejected,
        }

    with storage.scratch() as scratch:
        if load is not None:
            assert steps.first_load is not None
            _first_load(
                load,
                steps.first_load,
                prefetch(staged_batches()),
                scratch,
                report,
                rejects,
                record,
                finished,
            )
        else:
            for tables in prefetch(staged_batches()):
                for name, frame in tables.items():
                    scratch.append(name, frame.to_arrow())
            with storage.engine.connect() as conn, storage.attached(conn, scratch) as table:
                try:
                    report.import_id = conn.execute(
                        insert(schema.imports).values(**record).returning(schema.imports.c.id)
                    ).scalar_one()
                    steps.merge(MergeContext(conn, table, report, rejects, started, retention))
                    conn.execute(
                        update(schema.imports)
                        .where(schema.imports.c.id == report.import_id)
                        .values(**finished())
                    )
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
    target = rejects_path or default_rejects_path(tab.path)
    report.rejects_path = rejects.write(target, delimiter)
    return report


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


_HELD = "lg_held"  # the scratch table of rows held back by a first load


def _key_hashes(keys: pl.Series) -> Any:
    """A 64-bit hash of each key (numpy), to recognise keys already written."""
    return keys.hash(seed=7).to_numpy()


class _SeenKeys:
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


def _lines_of_keys_repeated(ids_file: Path, key: str, held: list[pl.Series]) -> pa.Table:
    """``line`` and ``key`` of every line of ``ids_file`` whose key, one of ``held``, is on
    several lines (in the order of the file). The file is scanned, not loaded."""
    schema = pa.schema([("line", pa.int64()), (key, pa.string())])
    if not held:
        return empty_table(schema)
    candidates = pl.concat(held).unique()
    lines = pl.scan_ipc(ids_file).filter(pl.col(key).is_in(candidates.implode())).collect()
    repeated = lines.filter(pl.len().over(key) > 1)
    return repeated.to_arrow().cast(schema)


def _begin_first_load(storage: Storage, spec: FirstLoad | None, file: Path) -> LoadTx | None:
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


def _first_load(
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
            seen_keys = _SeenKeys()
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
            lines = _lines_of_keys_repeated(ids_file, key, held_keys)
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
