"""Arrow in and out of PostgreSQL with ``COPY``, in the caller's transaction.

Reading: ``COPY (query) TO STDOUT`` parsed by Arrow's CSV reader. Writing:
Arrow batches written as CSV into ``COPY table FROM STDIN``. Row by row, the
driver moves tens of thousands of rows a second; ``COPY`` moves millions.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection

from listguard.storage.query import PARAM, Query, empty_table


def _pg_params(sql: str) -> str:
    return PARAM.sub(lambda m: f"%({m.group(1)})s", sql.replace("%", "%%"))


def _csv_options(schema: pa.Schema) -> dict[str, Any]:
    return {
        "read_options": pacsv.ReadOptions(column_names=schema.names, block_size=16 << 20),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,  # COPY writes NULL bare and '' quoted
        ),
    }


def _csv_table(data: Any, schema: pa.Schema) -> pa.Table:
    return pacsv.read_csv(data, **_csv_options(schema))


def _spool(conn: Connection, q: Query, spool: IO[bytes]) -> None:
    """COPY's CSV of ``q``, in ``conn``'s transaction, written to ``spool`` and rewound."""
    dbapi: Any = conn.connection.driver_connection
    with (
        dbapi.cursor() as cur,
        cur.copy(f"COPY ({_pg_params(q.sql)}) TO STDOUT (FORMAT csv)", q.params or None) as copy,
    ):
        for block in copy:
            spool.write(block)
    spool.seek(0)


def fetch_pg(conn: Connection, q: Query) -> pa.Table:
    """The rows of ``q`` in ``conn``'s transaction. COPY's CSV goes through a temporary
    file, so that only the Arrow table is held."""
    with tempfile.TemporaryFile() as spool:
        _spool(conn, q, spool)
        if not spool.seek(0, io.SEEK_END):
            return empty_table(q.schema)
        spool.seek(0)
        return _csv_table(spool, q.schema)


@contextmanager
def stream_pg(conn: Connection, q: Query) -> Iterator[pa.RecordBatchReader]:
    """The rows of ``q`` in ``conn``'s transaction, spooled to a temporary file at once,
    then streamed from it a batch at a time while the block runs."""
    with tempfile.TemporaryFile() as spool:
        _spool(conn, q, spool)
        if not spool.seek(0, io.SEEK_END):
            yield pa.RecordBatchReader.from_stream(empty_table(q.schema))
            return
        spool.seek(0)
        reader = pacsv.open_csv(spool, **_csv_options(q.schema))
        yield pa.RecordBatchReader.from_batches(q.schema, reader)


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE PRECISION"
    return "TEXT"


def copy_in(
    conn: Connection, table: str, reader: pa.RecordBatchReader, *, temporary: bool = False
) -> int:
    """Append the rows of ``reader`` to ``table`` (its columns named as the batches'), or
    to a new temporary table of the transaction when ``temporary``; returns how many."""
    dbapi: Any = conn.connection.driver_connection
    count = 0
    with dbapi.cursor() as cur:
        if temporary:
            cols = ", ".join(f"{f.name} {_sql_type(f.type)}" for f in reader.schema)
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TEMP TABLE {table} ({cols}) ON COMMIT DROP")
        names = ", ".join(reader.schema.names)
        with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            for batch in reader:
                out = io.BytesIO()
                # nulls bare, empty strings quoted: COPY tells them apart
                pacsv.write_csv(
                    batch,
                    out,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
                )
                copy.write(out.getvalue())
                count += batch.num_rows
    return count


__all__ = ["copy_in", "fetch_pg", "stream_pg"]
