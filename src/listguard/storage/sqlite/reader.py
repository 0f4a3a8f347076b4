"""Reading SQLite tables into Arrow with ADBC, in a process of its own.

``fetch`` runs this module as a child process (``python -m
listguard.storage.sqlite.reader``): ADBC carries its own build of SQLite, which must
never have open a file that Python's ``sqlite3`` also has open in the same
process (see ``fetch.fetch_sqlite``). The module imports only the standard
library, pyarrow and ADBC, so that the child starts fast.

A query marked ``copy`` reads a whole table and keeps a columnar copy of it beside
the registry file (``<registry>-arrow/<table>/``: Arrow files and ``meta.json``).
The copy is used again only while the registry's ``contacts_stamp`` token is the
one it was made under (triggers renew the token in every transaction that updates
or deletes a row, whoever runs it) and the table holds exactly as many rows up to
the copy's last key as the copy does; then only the rows added since are read
from SQLite, and kept as one more part. Anything else (another token, a missing
or unreadable part, a folder that cannot be written) reads the whole table again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from listguard.storage.query import PARAM, Copied, Query

READERS = 2
COPY_FORMAT = 1
COPY_MAX_PARTS = 8  # more parts than this are merged into one
PART = re.compile(r"part-[0-9a-f]{16}\.arrow")  # the name of a copy's file
COPY_GRACE_SECONDS = 600  # files of a copy no longer named are kept this long
COPY_SPLIT_FROM = 50_000  # rows added since a copy was made are read in parallel from this many


def qmark(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def repl(m: re.Match[str]) -> str:
        values.append(params[m.group(1)])
        return "?"

    return PARAM.sub(repl, sql), values


def _literal(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "CAST('' AS TEXT)"
    if pa.types.is_floating(t):
        return "CAST(0.0 AS REAL)"
    return "CAST(0 AS INTEGER)"


class _NoDataFrames:
    """An import hook that finds neither pandas nor polars. ADBC's DB-API module imports
    them when they are installed (to accept their frames, which the children never
    pass), and that would double a child's start (about 0.7 s)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in ("pandas", "polars"):
            raise ModuleNotFoundError(f"{name} is not used by this process", name=name)


def keep_out_dataframes() -> None:
    """In a child process, before ADBC is imported: see ``_NoDataFrames``."""
    import sys

    sys.meta_path.insert(0, _NoDataFrames())


COPY_FAILED = 3  # the child's exit status when a columnar copy failed, not the registry


class CopyFailed(Exception):
    """Writing, reading or merging the files of a columnar copy failed (a full disk, a
    part damaged or removed meanwhile): the read can be made again without the copy."""


@contextmanager
def _of_copy(copying: bool) -> Iterator[None]:
    """File errors raised inside are the copy's (``CopyFailed``) when ``copying``."""
    try:
        yield
    except (OSError, pa.ArrowInvalid) as exc:
        if copying:
            raise CopyFailed(str(exc)) from exc
        raise


def main() -> None:
    """The child of ``fetch.fetch_sqlite``: a pickled request on stdin; each part of each
    result written to an Arrow file as soon as it is read; the files' names, per
    result and in order, pickled on stdout."""
    import pickle
    import sys

    keep_out_dataframes()
    # loaded before the request is read: a child started ahead of its request (see
    # ``ahead``) is ready when it comes
    import adbc_driver_sqlite.dbapi  # noqa: F401
    import pyarrow.compute  # noqa: F401

    request = sys.stdin.buffer.read()
    if not request:  # started ahead, and not needed after all
        return
    path, queries, folder = pickle.loads(request)
    try:
        files = read_parallel(path, queries, Path(folder))
    except CopyFailed as exc:  # the parent reads again from the registry alone
        print(f"the columnar copy failed: {exc}", file=sys.stderr)
        sys.exit(COPY_FAILED)
    sys.stdout.buffer.write(pickle.dumps(files))


def _save(file: Path, table: pa.Table) -> str:
    partial = file.with_name(file.name + ".partial")
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    partial.replace(file)
    return str(file)


def read_parallel(path: str, queries: Mapping[str, Query], folder: Path) -> dict[str, list[str]]:
    """Read with ``READERS`` ADBC connections in parallel threads, in one snapshot: a
    write lock held while every reader starts its read transaction lets no write
    commit in between (WAL: the readers then go on without blocking anybody).
    Each part read is written to an Arrow file at once (in ``folder``, or in the
    columnar copy of a ``copy`` query); returns the files of each query, in order."""
    from concurrent.futures import ThreadPoolExecutor

    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow.compute as pc

    readers: list[Any] = []
    with adbc.connect(path, autocommit=True) as lock, lock.cursor() as cur:
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("BEGIN IMMEDIATE")
        try:
            for _ in range(READERS):
                db = adbc.connect(path)  # autocommit off: one read transaction until closed
                readers.append(db)
                with db.cursor() as rcur:
                    rcur.execute("PRAGMA busy_timeout = 30000")
                    rcur.execute("SELECT 1 FROM sqlite_master LIMIT 1")
                    rcur.fetchall()
        except BaseException:
            for db in readers:
                db.close()
            raise
        finally:
            cur.execute("ROLLBACK")
    try:
        copies: dict[str, ColumnCopy] = {}
        plain: dict[str, Query] = {}
        for name, q in queries.items():
            copy = ColumnCopy.open(readers[0], path, q) if q.copy else None
            if copy is not None:
                copies[name] = copy
                plain[name] = copy.query
            else:
                plain[name] = q
        tasks = _tasks(readers[0], plain)
        lanes: list[list[tuple[str, int, Query]]] = [[] for _ in readers]
        for i, task in enumerate(sorted(tasks, key=lambda t: -t[3])):
            lanes[i % len(lanes)].append(task[:3])

        def keep(name: str, part: int, table: pa.Table) -> tuple[str, int, str, int, Any]:
            copy = copies.get(name)
            file = copy.new_part() if copy else folder / f"{name}.{part}.arrow"
            top = pc.max(table.column(0)).as_py() if copy and table.num_rows else None
            with _of_copy(copy is not None):
                saved = _save(file, table)
            return name, part, saved, table.num_rows, top

        def run(
            db: Any, lane: list[tuple[str, int, Query]]
        ) -> list[tuple[str, int, str, int, Any]]:
            with db.cursor() as cur:
                return [keep(n, part, read_table(cur, n, q)) for n, part, q in lane]

        with ThreadPoolExecutor(len(readers)) as pool:
            done = [r for rs in pool.map(run, readers, lanes) for r in rs]
        ordered = sorted(done, key=lambda d: d[1])
        files = {name: [d[2] for d in ordered if d[0] == name] for name in queries}
        for name, copy in copies.items():
            added = [(file, rows, top) for n, _, file, rows, top in ordered if n == name]
            with _of_copy(True):
                files[name] = copy.close(readers[0], added)
    finally:
        for db in readers:
            db.close()
    return files


@dataclass
class ColumnCopy:
    """The columnar copy of one table beside the registry, as one read finds and extends it.

    ``query`` is what is left to read from SQLite: the rows past the copy's last
    key when the copy holds the table as it is, else the whole table."""

    spec: Copied
    folder: Path
    query: Query
    token: str
    parts: list[str]  # the parts still valid, in key order
    rows: int
    last: int | None  # the largest key the kept parts hold

    @classmethod
    def open(cls, db: Any, path: str, q: Query) -> ColumnCopy | None:
        """The copy of ``q``'s table, checked in the reader ``db``'s snapshot; None when
        no copy can be kept (no token in this registry, a folder that cannot be made)."""
        assert q.copy is not None
        c = q.copy
        with db.cursor() as cur:
            try:
                cur.execute(c.stamp)
                found = cur.fetchall()
            except Exception:  # a registry before migration 0013
                return None
        if not found or found[0][0] is None:
            return None
        token = str(found[0][0])
        folder = Path(f"{path}-arrow") / c.table
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return None
        meta = _read_meta(folder / "meta.json")
        columns = _columns(q.schema)
        if (
            meta is not None
            and meta.get("format") == COPY_FORMAT
            and meta.get("token") == token
            and meta.get("columns") == columns
            and all(
                PART.fullmatch(str(part)) and (folder / part).is_file()
                for part in meta.get("parts", [])
            )
        ):
            last, rows = int(meta["last"]), int(meta["rows"])
            with db.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {c.table} WHERE {c.key} <= ?", [last])
                same = int(cur.fetchall()[0][0]) == rows
            if same and _mark(db, c, last) == meta.get("mark"):
                bounds = f"SELECT min({c.key}), max({c.key}) FROM {c.table} WHERE {c.key} > {last}"
                with db.cursor() as cur:
                    cur.execute(bounds)
                    top = cur.fetchall()[0][1]
                # a few rows added are read at once, as one part
                few = top is None or int(top) - last < COPY_SPLIT_FROM
                after = replace(
                    q,
                    sql=f"{q.sql} AND {c.key} > {last}",
                    split=None if few else (c.key, bounds),
                )
                parts = [str(folder / p) for p in meta["parts"]]
                return cls(c, folder, after, token, parts, rows, last)
        split = (c.key, f"SELECT min({c.key}), max({c.key}) FROM {c.table}")
        return cls(c, folder, replace(q, split=split), token, [], 0, None)

    def new_part(self) -> Path:
        return self.folder / f"part-{secrets.token_hex(8)}.arrow"

    def close(self, db: Any, added: list[tuple[str, int, int | None]]) -> list[str]:
        """Record the parts just read (``(file, rows, largest key)``, in key order) in
        ``meta.json`` (with the mark of the last row, read by ``db`` in the same
        snapshot), merging the parts when there are too many, and remove the files the
        copy no longer names (but those of the last minutes: another read may be making
        or opening them). Returns the copy's parts, which hold the whole table."""
        parts = self.parts + [file for file, rows, _ in added if rows]
        for file, rows, _ in added:
            if not rows:
                Path(file).unlink(missing_ok=True)
        rows = self.rows + sum(n for _, n, _ in added)
        tops = [top for _, _, top in added if top is not None]
        last = max((k for k in (self.last, *tops) if k is not None), default=None)
        if len(parts) > COPY_MAX_PARTS:
            whole = pa.concat_tables([pa.ipc.open_file(pa.memory_map(p)).read_all() for p in parts])
            parts = [_save(self.new_part(), whole.combine_chunks())]
        last = last if last is not None else 0
        _publish(
            self.folder,
            self.token,
            self.query.schema,
            parts,
            rows,
            last,
            _mark(db, self.spec, last),
        )
        return parts


def _publish(
    folder: Path,
    token: str,
    schema: pa.Schema,
    parts: list[str],
    rows: int,
    last: int,
    mark: list[Any] | None,
) -> None:
    """Name ``parts`` as the copy in ``folder`` (``meta.json``, replaced atomically), and
    remove the files the copy no longer names (but those of the last minutes: another
    read may be making or opening them)."""
    meta = {
        "format": COPY_FORMAT,
        "token": token,
        "columns": _columns(schema),
        "last": last,
        "mark": mark,
        "rows": rows,
        "parts": [Path(p).name for p in parts],
    }
    partial = folder / f"meta.json.{secrets.token_hex(4)}"
    partial.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(partial, folder / "meta.json")
    named = {Path(p).name for p in parts} | {"meta.json"}
    settled = time.time() - COPY_GRACE_SECONDS
    for item in folder.iterdir():  # copies of another token, merged parts
        try:
            if item.name not in named and item.stat().st_mtime < settled:
                item.unlink()
        except FileNotFoundError:  # removed by another read meanwhile
            continue


class CopyWriter:
    """The columnar copy of a table written by the process that loads the table from
    empty (a first import), from the rows as it writes them, instead of read back by
    the next rental (ADR 0015). The rows go to one part, under a temporary name; the
    copy is named (``publish``) only once the load has committed, with the token, count
    and last row read in the load's own transaction. ``discard`` removes the part."""

    def __init__(self, registry: str, query: Query) -> None:
        """Raises OSError when the copy's folder cannot be made or written."""
        assert query.copy is not None
        self.query = query
        self.folder = Path(f"{registry}-arrow") / query.copy.table
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.file = self.folder / f"part-{secrets.token_hex(8)}.arrow"
        self._partial = self.file.with_name(self.file.name + ".partial")
        self._open()
        self.rows = 0
        self.last: int | None = None

    def _open(self) -> None:
        self._sink = pa.OSFile(str(self._partial), "wb")
        self._writer = pa.ipc.new_file(self._sink, self.query.schema)
        self._closed = False

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()
            self._sink.close()

    def write(self, rows: pa.Table, keys: pa.Array) -> None:
        """Append ``rows`` (holding the query's columns but the first, by name) with their
        ``keys`` (the first column), in key order."""
        key = self.query.schema.names[0]
        names = self.query.schema.names[1:]
        table = pa.Table.from_arrays(
            [keys, *(rows.column(n) for n in names)], names=[key, *names]
        ).cast(self.query.schema)
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows
            self.last = int(table.column(0)[-1].as_py())

    def drop(self, column: str, values: pa.Array) -> None:
        """Remove the rows whose ``column`` is one of ``values`` (rows the load deleted):
        the part written so far is read back, batch by batch, without them."""
        import pyarrow.compute as pc

        self._close()
        written = self._partial.with_name(self._partial.name + ".old")
        self._partial.replace(written)
        self._open()
        self.rows, self.last = 0, None
        source = pa.ipc.open_file(pa.memory_map(str(written)))
        for i in range(source.num_record_batches):
            batch = source.get_batch(i)
            kept = batch.filter(pc.invert(pc.is_in(batch.column(column), value_set=values)))
            if kept.num_rows:
                self._writer.write_batch(kept)
                self.rows += kept.num_rows
                self.last = int(kept.column(0)[-1].as_py())
        written.unlink()

    def publish(self, token: str, mark: list[Any] | None) -> None:
        self._close()
        self._partial.replace(self.file)
        _publish(
            self.folder,
            token,
            self.query.schema,
            [str(self.file)],
            self.rows,
            self.last if self.last is not None else 0,
            mark,
        )

    def discard(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):
            self._close()
        for file in (self._partial, self._partial.with_name(self._partial.name + ".old")):
            file.unlink(missing_ok=True)


def _mark(db: Any, copied: Copied, key: int) -> list[Any] | None:
    """The identifying columns of the row at ``key`` (None when there is none)."""
    with db.cursor() as cur:
        cur.execute(f"SELECT {copied.mark} FROM {copied.table} WHERE {copied.key} = ?", [key])
        found = cur.fetchall()
    return [*found[0]] if found else None


def _columns(schema: pa.Schema) -> list[list[str]]:
    return [[f.name, str(f.type)] for f in schema]


def _read_meta(file: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _tasks(db: Any, queries: Mapping[str, Query]) -> list[tuple[str, int, Query, int]]:
    """(name, part, query, weight): a split query becomes one range per reader."""
    tasks: list[tuple[str, int, Query, int]] = []
    for name, q in queries.items():
        if q.split is None:
            tasks.append((name, 0, q, 0))
            continue
        key, bounds = q.split
        with db.cursor() as cur:
            cur.execute(bounds)
            low, high = cur.fetchall()[0]
        if low is None:
            tasks.append((name, 0, q, 0))
            continue
        step = (int(high) - int(low)) // READERS + 1
        for part in range(READERS):
            lo = int(low) + part * step
            ranged = Query(
                f"{q.sql} AND {key} >= :lg_lo AND {key} < :lg_hi",
                q.schema,
                {**(q.params or {}), "lg_lo": lo, "lg_hi": lo + step},
            )
            tasks.append((name, part, ranged, 1))
    return tasks


def read_batches(cur: Any, name: str, q: Query) -> Iterator[pa.RecordBatch]:
    """The rows of ``q`` as record batches of ``q.schema``, as ADBC reads them."""
    sql, values = qmark(q.sql, q.params or {})
    # ADBC infers each column's type from the first rows it reads, and a column that
    # starts with NULLs would be taken for an integer: a first row of the right types,
    # dropped below, settles them
    first = ", ".join(f"{_literal(f.type)} AS {f.name}" for f in q.schema)
    cur.execute(f"SELECT 0 AS lg_first, {first} UNION ALL SELECT 1, * FROM ({sql})", values)
    reader = cur.fetch_record_batch()
    typed = False
    for batch in reader:
        if not typed:
            if batch.num_rows == 0 or batch.column(0)[0].as_py() != 0:
                raise RuntimeError(f"reading {name}: the typing row did not come first")
            batch = batch.slice(1)
            typed = True
        yield batch.drop_columns(["lg_first"]).cast(q.schema)


def read_table(cur: Any, name: str, q: Query) -> pa.Table:
    return pa.Table.from_batches(list(read_batches(cur, name, q)), schema=q.schema)


if __name__ == "__main__":
    main()
