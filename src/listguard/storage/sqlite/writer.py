"""One write transaction on a SQLite registry run by ADBC, in a process of its own.

A first import into an empty table has nothing to merge: its rows can go
straight from Arrow into the registry's table, as staging produces them,
instead of being written to a scratch file and copied again by SQL. ADBC
writes them; ADBC carries its own build of SQLite, which must never have open
a file that Python's ``sqlite3`` has open in the same process (see
``fetch.fetch_sqlite``), so the transaction runs in a child process
(``python -m listguard.storage.sqlite.writer``), driven by ``BulkWriter``.

The parent sends commands on the child's stdin (a length-prefixed pickle;
``ingest`` is followed by an Arrow IPC stream of the rows) and reads one reply
per command on its stdout. The transaction commits only on ``commit``: if the
parent stops, fails or is killed, the child's stdin closes and the transaction
is rolled back, so the registry stays as it was. The module imports only the
standard library, pyarrow and ADBC, so that the child starts fast.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Iterable
from typing import IO, Any

import pyarrow as pa

from listguard.storage.sqlite.reader import keep_out_dataframes

PRAGMAS = (  # as the registry's other connections (``connect``)
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=FILE",
    "PRAGMA cache_size=-262144",
)
_LEN = struct.Struct("<I")


class LoadError(Exception):
    """The child refused a command (the message is SQLite's or ADBC's)."""


def _send(out: IO[bytes], message: Any) -> None:
    body = pickle.dumps(message)
    out.write(_LEN.pack(len(body)) + body)
    out.flush()


def _receive(inp: IO[bytes]) -> Any:
    head = inp.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError
    return pickle.loads(inp.read(_LEN.unpack(head)[0]))


PIPE_BYTES = 1 << 20  # the default pipe of 64 KiB makes a million rows many small writes


def _widen(pipe: IO[bytes] | None) -> None:
    """Give ``pipe`` a buffer of ``PIPE_BYTES`` where the system allows it (Linux): the
    rows cross it with fewer switches between the two processes."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return
    size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is None or size is None:
        return
    with contextlib.suppress(OSError):  # a limit lower than PIPE_BYTES: the default stays
        fcntl.fcntl(pipe.fileno(), size, PIPE_BYTES)


class BulkWriter:
    """A write transaction on the SQLite file at ``path``, held by a child process.

    ``execute`` runs one statement and returns its rows; ``ingest`` appends Arrow
    batches to a table, streamed while they are produced; ``commit`` ends it. Leaving
    the ``with`` block without ``commit`` rolls everything back.

    The child starts as the writer is made, and its start (half a second) is awaited
    only by the first command: made early, it starts while the parent works.

    ``foreign_keys=False`` leaves the references of the rows written unchecked, for a
    caller that makes them right by construction: checking them costs about a tenth
    of the writer's time on a million rows."""

    def __init__(self, path: str, *, foreign_keys: bool = True) -> None:
        self.path = path
        self._child = subprocess.Popen(
            [sys.executable, "-m", "listguard.storage.sqlite.writer", path, str(int(foreign_keys))],
            # pyarrow loads numpy, whose BLAS threads would only spin
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._started = False
        _widen(self._child.stdin)

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reply(self) -> Any:
        assert self._child.stdout is not None
        try:
            status, value = _receive(self._child.stdout)
        except EOFError:
            self._child.wait()
            err = self._child.stderr.read().decode("utf-8", "replace") if self._child.stderr else ""
            lines = err.strip().splitlines()
            raise LoadError(lines[-1] if lines else "the writer process stopped") from None
        if status == "error":
            raise LoadError(value)
        return value

    def _command(self, *message: Any) -> None:
        assert self._child.stdin is not None
        if not self._started:
            self._reply()  # the child is connected: the transaction can begin
            self._started = True
        try:
            _send(self._child.stdin, message)
        except BrokenPipeError:
            self._reply()  # raises the child's own error
            raise

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._command("execute", sql, params)
        rows: list[tuple[Any, ...]] = self._reply()
        return rows

    def ingest(
        self,
        table: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        temporary: bool = False,
    ) -> int:
        """Append ``batches`` (cast to ``schema``) to ``table`` (a new temporary table when
        ``temporary``); returns the number of rows written."""
        assert self._child.stdin is not None
        self._command("ingest", table, temporary)
        sink = pa.PythonFile(self._child.stdin, mode="w")
        try:
            writer = pa.ipc.new_stream(sink, schema)
            for batch in batches:
                writer.write_batch(batch if batch.schema.equals(schema) else batch.cast(schema))
            writer.close()  # the end of the stream, not of the pipe
            self._child.stdin.flush()
        except (BrokenPipeError, OSError):
            self._reply()  # the child failed while ingesting: its own error
            raise
        count: int = self._reply()
        return count

    def commit(self) -> None:
        self._command("commit")
        self._reply()

    def close(self) -> None:
        """Stop the child; a transaction not committed is rolled back."""
        child = self._child
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):  # a child that died: nothing to flush to
                    stream.close()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child stuck in SQLite
            child.kill()
            child.wait()


def main() -> None:
    """The child of ``BulkWriter``."""
    keep_out_dataframes()
    import adbc_driver_sqlite.dbapi as adbc

    gc.freeze()  # what the imports made lives as long as the process: never scanned again

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        db = adbc.connect(sys.argv[1], autocommit=True)
        with db.cursor() as cur:
            for pragma in (*PRAGMAS, f"PRAGMA foreign_keys={sys.argv[2]}"):
                cur.execute(pragma)
        db.adbc_connection.set_options(**{"adbc.connection.autocommit": "false"})
    except Exception as exc:  # reported to the parent, which raises it
        _send(out, ("error", str(exc)))
        return
    _send(out, ("ok", None))
    cur = db.cursor()
    while True:
        try:
            command, *args = _receive(inp)
        except EOFError:  # the parent stopped without committing
            db.adbc_connection.rollback()
            db.close()
            return
        try:
            if command == "execute":
                sql, params = args
                cur.execute(sql, params)
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
                _send(out, ("ok", rows))
            elif command == "ingest":
                table, temporary = args
                reader = pa.ipc.open_stream(pa.PythonFile(inp, mode="r"))
                count = cur.adbc_ingest(
                    table, reader, mode="create" if temporary else "append", temporary=temporary
                )
                _send(out, ("ok", int(count)))
            elif command == "commit":
                db.adbc_connection.commit()
                _send(out, ("ok", None))
                db.close()
                return
        except Exception as exc:  # the transaction is abandoned
            _send(out, ("error", str(exc)))
            db.adbc_connection.rollback()
            db.close()
            return


if __name__ == "__main__":
    main()
