"""The eligibility engine: ``shared/spec/rules.md`` as one set-based relational pipeline.

The registry holds the facts; the decision is computed by DuckDB over Arrow
extracts of them (ADR 0006): the rows an order can concern are read from the
registry in one snapshot (``rules/extracts.py``, streamed by ``Storage.read_streams``),
and the pipeline's steps (``rules/pipeline.py``) run one by one, each timed, in an
in-process DuckDB database, columnar and on every core, whatever the registry (SQLite or
PostgreSQL). The registry is only read. The result is a :class:`Decision`, which
holds the DuckDB database until it is closed.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlalchemy import Connection

from listguard.config import EngineSettings
from listguard.io.stage_folders import make_folder
from listguard.rules.decision import Decision
from listguard.rules.extracts import base_contacts_sql, extracts
from listguard.rules.pipeline import pipeline
from listguard.rules.plan import Plan
from listguard.storage.base import Storage

if TYPE_CHECKING:
    import duckdb

# the time spent reading the registry, as ``Decision.timings`` names it
READING = "reading the registry"


def _warm() -> None:
    import duckdb  # noqa: F401


def _load(
    db: duckdb.DuckDBPyConnection,
    plan: Plan,
    streams: dict[str, pa.RecordBatchReader],
    copied: bool,
) -> None:
    """The extracts streamed into the decision's own tables, a batch at a time: the
    registry's rows are held by DuckDB (within its memory limit, the rest spilled to
    its temporary files), never as a whole in Python. The contacts come last: out of
    the whole table (``copied``) with the clusters read before them, or as read; in
    either case only those ``plan.only`` names, when given."""
    only = None
    if plan.only is not None:
        db.register("lg_only_in", pa.table({"contact_id": plan.only}))
        db.execute("CREATE TABLE lg_only AS SELECT DISTINCT contact_id FROM lg_only_in")
        db.unregister("lg_only_in")
        only = "lg_only"
    people = "contacts_all" if copied else "contacts"
    for name in sorted(streams, key=lambda n: n == people):
        db.register("lg_in", streams[name])
        try:
            if name == "contacts_all":
                sql, params = base_contacts_sql(plan, "lg_in", only)
                db.execute(f"CREATE TABLE contacts AS {sql}", params)
            elif name == "contacts" and only is not None:
                db.execute(
                    "CREATE TABLE contacts AS SELECT * FROM lg_in "
                    f"WHERE contact_id IN (SELECT contact_id FROM {only})"
                )
            else:
                db.execute(f"CREATE TABLE {name} AS SELECT * FROM lg_in")
        finally:
            db.unregister("lg_in")
    db.execute("DROP TABLE IF EXISTS clusters")  # joined to the contacts as they came


def decide(storage: Storage, conn: Connection, plan: Plan, machine: EngineSettings) -> Decision:
    """Decide every coordinate of the plan's order: the extracts are read from
    ``storage`` in one snapshot (``conn``'s) and streamed into an in-process DuckDB
    database (held within ``machine.memory_mb``, the rest spilled to temporary files),
    then the pipeline's steps run one by one, each timed (``Decision.timings``, after
    the time spent reading the registry). Close the decision (or use it as a context
    manager) once its files are written."""
    import threading

    started = time.perf_counter()
    # while the extracts are read (by a child process on SQLite), DuckDB is loaded. (Nothing
    # in a rental converts Python values to Arrow, which would load pandas: half a second)
    warming = threading.Thread(target=_warm, name="listguard-warm", daemon=True)
    warming.start()
    # the whole contacts table, from its columnar copy (on SQLite), unless a few contacts
    # are asked for
    copied = storage.keeps_copies and not plan.contact_ids
    with storage.read_streams(extracts(plan, copied), conn) as streams:
        warming.join()
        import duckdb

        db = duckdb.connect(config={"memory_limit": f"{machine.memory_mb}MB"})
        # a folder of this decision's own: what DuckDB spills is personal data, and two
        # decisions spilling into one folder could overwrite each other's files; one left
        # by a killed process is removed by the next (``make_folder``)
        spill = make_folder()
        try:
            target = str(spill).replace("'", "''")
            db.execute(f"SET temp_directory = '{target}'")
            _load(db, plan, streams, copied)
        except BaseException:
            db.close()
            shutil.rmtree(spill, ignore_errors=True)
            raise
    try:
        # some contacts of the base are the same person (``dedupe --base``): found by the
        # first such row, not by counting ten million
        any_cluster = "SELECT EXISTS (SELECT 1 FROM contacts WHERE cluster_id IS NOT NULL)"
        clustered = bool(db.execute(any_cluster).fetchall()[0][0])
        timings = [(READING, time.perf_counter() - started)]
        # the one place the plan's values are bound: each step gets those it names
        bound = plan.params.bound()
        for name, sql in pipeline(plan, clustered):
            began = time.perf_counter()
            db.execute(sql, {k: v for k, v in bound.items() if f"${k}" in sql})
            timings.append((name, time.perf_counter() - began))
    except BaseException:
        db.close()
        shutil.rmtree(spill, ignore_errors=True)
        raise
    return Decision(db, plan, timings, spill)


__all__ = ["READING", "decide"]
