"""Bulk writes of Polars frames into the registry, one fast path per database.

SQLite: ``executemany`` of one prepared statement inside the caller's
transaction. PostgreSQL: ``COPY`` into a temporary table, then one
``INSERT ... SELECT``. The statement is an upsert that changes a row only when
one of its values differs, so re-importing the same file changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from sqlalchemy import Connection

CHUNK = 50_000


def _rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.rows()


def insert_rows(
    conn: Connection,
    table: str,
    frame: pl.DataFrame,
    *,
    conflict: Sequence[str] | None = None,
    update: Sequence[str] = (),
    compare: Sequence[str] = (),
    bump_version: bool = False,
) -> None:
    """Insert ``frame`` into ``table``; on a ``conflict`` key, update ``update`` columns
    only where some ``compare`` column differs (and add 1 to ``version``), or do nothing."""
    if frame.height == 0:
        return
    cols = frame.columns
    dialect = conn.dialect.name
    col_list = ", ".join(cols)
    on_conflict = ""
    if conflict is not None:
        target = ", ".join(conflict)
        if update:
            sets = [f"{c} = excluded.{c}" for c in update]
            if bump_version:
                sets.append(f"version = {table}.version + 1")
            distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
            where = " OR ".join(f"{table}.{c} {distinct} excluded.{c}" for c in compare)
            on_conflict = f" ON CONFLICT ({target}) DO UPDATE SET {', '.join(sets)}" + (
                f" WHERE {where}" if where else ""
            )
        else:
            on_conflict = f" ON CONFLICT ({target}) DO NOTHING"
    if dialect == "postgresql":
        _pg_copy_insert(conn, table, frame, col_list, on_conflict)
        return
    marks = ", ".join("?" for _ in cols)
    sql = f"INSERT INTO {table} ({col_list}) VALUES ({marks}){on_conflict}"
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        for start in range(0, frame.height, CHUNK):
            cur.executemany(sql, _rows(frame.slice(start, CHUNK)))
    finally:
        cur.close()


def _pg_copy_insert(
    conn: Connection, table: str, frame: pl.DataFrame, col_list: str, on_conflict: str
) -> None:
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    tmp = f"_lg_stage_{table}"
    with dbapi.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {tmp} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        cur.execute(f"TRUNCATE {tmp}")
        with cur.copy(f"COPY {tmp} ({col_list}) FROM STDIN") as copy:
            for start in range(0, frame.height, CHUNK):
                for row in _rows(frame.slice(start, CHUNK)):
                    copy.write_row(row)
        cur.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {tmp}{on_conflict}")
