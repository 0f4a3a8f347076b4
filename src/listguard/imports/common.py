"""What every import shares: the steps of a kind, and the two phases.

An import runs in two phases. Staging reads the file batch by batch, checks
and normalises each batch (the next one in a thread while the current one is
written) and writes the good rows to a scratch table, without touching the
registry. Merging then writes them into the registry with set-based SQL, in
one transaction: interrupted in either phase, the import leaves the registry
as it was. A kind's first import into its empty table may skip the merge
(``first_load``). The rejects file (``report``) is written beside the input (or
where asked) once the import committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, Table, insert, text, update

from listguard.config import Settings
from listguard.db import schema
from listguard.domain.retention import DEFAULT_RETENTION, Retention
from listguard.imports import first_load
from listguard.imports.first_load import FirstLoad
from listguard.imports.report import (
    REJECT_HEADER,
    ImportReport,
    Rejects,
    default_rejects_path,
    duplicate_rejects,
    duplicated_keys,
    keep_valid,
)
from listguard.io.digest import file_sha256
from listguard.io.stage_folders import ended_by_signals
from listguard.io.tabular import Batch, TabularFile, open_tabular, require_columns
from listguard.storage.base import LoadTx, Storage
from listguard.storage.engine import bulk_insert
from listguard.storage.open import open_storage
from listguard.timeutil import now_ts


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
    settings: Settings,
    *,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``path``: stage it, merge it in one transaction, then write its rejects
    (``settings``: the retention period of the events' forwarding, the rejects'
    delimiter)."""
    tab = open_tabular(path)
    require_columns(tab, kind.required)
    steps = kind.steps(tab, engine)
    storage = open_storage(engine)
    # a first load begins now, while the file is hashed and its first batches are staged
    # SIGTERM or SIGHUP: every ``finally`` runs (the scratch folder, a writer process)
    with ended_by_signals():
        load = first_load.begin_first_load(storage, steps.first_load, tab.path)
        try:
            return _run_import(
                storage,
                kind,
                tab,
                steps,
                load,
                rejects_path,
                progress,
                settings.output.csv_delimiter,
                Retention.of(settings),
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
            first_load.run_first_load(
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


__all__ = [
    "REJECT_HEADER",
    "FirstLoad",
    "ImportReport",
    "Kind",
    "MergeContext",
    "Rejects",
    "Steps",
    "default_rejects_path",
    "duplicate_rejects",
    "duplicated_keys",
    "keep_valid",
    "merge_new",
    "run_import",
    "upsert_versioned",
    "with_columns_of",
]
