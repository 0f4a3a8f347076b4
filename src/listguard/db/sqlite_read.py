"""Reading SQLite tables into Arrow with ADBC, in a process of its own.

``listguard.db.arrow`` runs this module as a child process (``python -m
listguard.db.sqlite_read``): ADBC carries its own build of SQLite, which must
never have open a file that Python's ``sqlite3`` also has open in the same
process (see ``arrow._fetch_sqlite``). The module imports only the standard
library, pyarrow and ADBC, so that the child starts fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

PARAM = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")
READERS = 2
T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """A query whose columns are exactly ``schema`` (names and Arrow types).

    ``split``: (an integer key, a query of its minimum and maximum): on SQLite the
    query is read in ranges of that key by parallel readers, and ``sql`` must end
    with a ``WHERE`` clause that the range condition is added to.
    """

    sql: str
    schema: pa.Schema
    params: Mapping[str, Any] | None = None
    split: tuple[str, str] | None = None


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


def main() -> None:
    """The child of ``_fetch_sqlite``: a pickled request on stdin; each part of each
    result written to an Arrow file as soon as it is read; the files' names, per
    result and in order, pickled on stdout."""
    import pickle
    import sys

    path, queries, folder = pickle.loads(sys.stdin.buffer.read())

    def save(name: str, part: int, table: pa.Table) -> str:
        file = str(Path(folder) / f"{name}.{part}.arrow")
        with pa.OSFile(file, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return file

    files = read_parallel(path, queries, save)
    sys.stdout.buffer.write(pickle.dumps(files))


def read_parallel(
    path: str, queries: Mapping[str, Query], keep: Callable[[str, int, pa.Table], T]
) -> dict[str, list[T]]:
    """Read with ``READERS`` ADBC connections in parallel threads, in one snapshot: a
    write lock held while every reader starts its read transaction lets no write
    commit in between (WAL: the readers then go on without blocking anybody).
    Each part read is handed to ``keep`` at once; returns what it made of the parts
    of each query, in order."""
    from concurrent.futures import ThreadPoolExecutor

    import adbc_driver_sqlite.dbapi as adbc

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
        tasks = _tasks(readers[0], queries)
        lanes: list[list[tuple[str, int, Query]]] = [[] for _ in readers]
        for i, task in enumerate(sorted(tasks, key=lambda t: -t[3])):
            lanes[i % len(lanes)].append(task[:3])

        def run(db: Any, lane: list[tuple[str, int, Query]]) -> list[tuple[str, int, T]]:
            with db.cursor() as cur:
                return [(n, part, keep(n, part, read_table(cur, n, q))) for n, part, q in lane]

        with ThreadPoolExecutor(len(readers)) as pool:
            done = [r for rs in pool.map(run, readers, lanes) for r in rs]
    finally:
        for db in readers:
            db.close()
    ordered = sorted(done, key=lambda d: d[1])
    return {name: [kept for n, _, kept in ordered if n == name] for name in queries}


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
