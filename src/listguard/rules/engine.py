"""The eligibility engine: ``shared/spec/rules.md`` as one set-based relational pipeline.

The registry holds the facts; the decision is computed by DuckDB over Arrow
extracts of them (ADR 0006): the rows an order can concern are read from the
registry in one snapshot (``rules/extracts.py``, read by ``Storage.read_arrow``),
and the pipeline's steps (``rules/pipeline.py``) run one by one, each timed, in an
in-process DuckDB database, columnar and on every core, whatever the registry (SQLite or
PostgreSQL). The registry is only read. The result is a :class:`Decision`, which
holds the DuckDB database until it is closed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from listguard.rules.decision import Decision
from listguard.rules.extracts import base_contacts, extracts
from listguard.rules.pipeline import pipeline
from listguard.rules.plan import Plan
from listguard.storage.open import open_storage

if TYPE_CHECKING:
    import pyarrow as pa

# the time spent reading the registry, as ``Decision.timings`` names it
READING = "reading the registry"


def _read(conn: Connection, plan: Plan) -> tuple[dict[str, pa.Table], bool]:
    """The extracts of ``plan`` from the registry, in one snapshot; and whether the
    contacts are the whole table (its columnar copy, on SQLite, unless a few contacts
    are asked for), to be filtered by ``base_contacts``."""
    storage = open_storage(conn.engine)
    copied = storage.keeps_copies and not plan.contact_ids
    return storage.read_arrow(extracts(plan, copied), conn), copied


def _warm() -> None:
    import duckdb  # noqa: F401


def decide(conn: Connection, plan: Plan, *, memory_mb: int = 2048) -> Decision:
    """Decide every coordinate of the plan's order: the pipeline's steps run one by
    one over the extracts, each timed (``Decision.timings``, after the time spent
    reading the registry). Close the decision (or use it as a context manager) once
    its files are written."""
    import tempfile
    import threading

    started = time.perf_counter()
    # while the extracts are read (by a child process on SQLite), DuckDB is loaded. (Nothing
    # in a rental converts Python values to Arrow, which would load pandas: half a second)
    warming = threading.Thread(target=_warm, name="listguard-warm", daemon=True)
    warming.start()
    tables, copied = _read(conn, plan)
    warming.join()
    import duckdb

    db = duckdb.connect(config={"memory_limit": f"{memory_mb}MB"})
    try:
        db.execute(f"SET temp_directory = '{tempfile.gettempdir()}/listguard-duckdb'")
        if copied:
            tables["contacts"] = base_contacts(
                db, plan, tables.pop("contacts_all"), tables.pop("clusters")
            )
        if plan.only is not None:
            import pyarrow.compute as pc

            people = tables["contacts"]
            tables["contacts"] = people.filter(pc.is_in(people["contact_id"], value_set=plan.only))
        for name, table in tables.items():
            db.register(name, table)
        people = tables["contacts"]
        clustered = people.num_rows > 0 and people.column("cluster_id").null_count < people.num_rows
        timings = [(READING, time.perf_counter() - started)]
        # the one place the plan's values are bound: each step gets those it names
        bound = plan.params.bound()
        for name, sql in pipeline(plan, clustered):
            began = time.perf_counter()
            db.execute(sql, {k: v for k, v in bound.items() if f"${k}" in sql})
            timings.append((name, time.perf_counter() - began))
    except BaseException:
        db.close()
        raise
    return Decision(db, plan, timings)


__all__ = ["READING", "decide"]
