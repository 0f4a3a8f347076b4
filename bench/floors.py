"""The floors under an import and a rental: what the files and tables the contract asks
for cost on this machine by themselves, before listguard parses, checks or decides
anything.

    python -m bench.floors --registry REGISTRY.db [--contacts N] [--memory-mb 1024]

Each figure is the wall time and the process's CPU time (all threads) of one piece
of unavoidable work, measured alone:

- ``row store``: the registry's ``contacts`` rows (read beforehand from REGISTRY, an
  imported registry: real widths, not made up) written into an empty table of a new
  registry by the driver and pragmas a first load uses (ADBC, WAL, ``synchronous =
  FULL``, the first load's page cache), then its indexes built, as a first import
  must do at the least;
- ``ledger``: as many ledger rows as a rental of the bench's order delivers (1.1 per
  contact) appended to the ledger with its two indexes, as a delivery records them;
- ``decisions``: 4.8 rows per contact (the bench's order on four channels) written as
  ``decisions.parquet`` within ``memory_mb``, sorted as ``formats.md`` orders them, and
  unsorted for comparison.

The import's and the rental's own times are ``bench/import_and_rent.py``'s; the
difference is listguard's own work (parsing, normalising, deciding, the columnar
copy). docs/benchmarks.md quotes the figures.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from bench.common import listguard
from listguard.rules.pipeline import order_key


def _timed(label: str, work: Callable[[], object]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {label} | {wall:.1f} s | {cpu:.1f} s |", flush=True)


def _adbc(path: Path, cache_kib: int, *, foreign_keys: bool = False) -> Any:
    import adbc_driver_sqlite.dbapi as adbc

    from listguard.storage.sqlite.writer import PRAGMAS

    db = adbc.connect(str(path), autocommit=True)
    keys = f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}"
    with db.cursor() as cur:
        for pragma in (*PRAGMAS, keys, f"PRAGMA cache_size = -{cache_kib}", "PRAGMA threads = 2"):
            cur.execute(pragma)
    db.adbc_connection.set_options(**{"adbc.connection.autocommit": "false"})
    return db


def _new_registry(folder: Path, name: str) -> Path:
    path = folder / name
    listguard("init", db=f"sqlite:///{path}")
    return path


def row_store(registry: Path, folder: Path, limit: int | None) -> int:
    """The first load's floor: the rows written, then the indexes built."""
    import sqlite3

    from listguard.storage.sqlite.first_load import LOAD_CACHE_KIB

    source = sqlite3.connect(registry)
    indexes = source.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' "
        "AND sql IS NOT NULL"
    ).fetchall()
    # the table's declared types (SQLite's own are per value)
    declared = pa.schema(
        (name, pa.int64() if kind.upper() == "INTEGER" else pa.string())
        for _cid, name, kind, *_rest in source.execute("PRAGMA table_info(contacts)")
    )
    source.close()
    import adbc_driver_sqlite.dbapi as adbc

    staged = folder / "contacts.arrow"
    with adbc.connect(str(registry)) as db, db.cursor() as cur:
        cur.execute("SELECT * FROM contacts" + (f" LIMIT {limit}" if limit else ""))
        reader = cur.fetch_record_batch()
        with pa.OSFile(str(staged), "wb") as sink, pa.ipc.new_file(sink, declared) as out:
            rows = 0
            for batch in reader:
                out.write_table(pa.Table.from_batches([batch]).cast(declared))
                rows += batch.num_rows
    target = _new_registry(folder, "floor.db")
    db = _adbc(target, LOAD_CACHE_KIB)
    with db.cursor() as cur:
        for name, _sql in indexes:
            cur.execute(f"DROP INDEX {name}")
    db.adbc_connection.commit()

    def load() -> None:
        with pa.memory_map(str(staged)) as source, db.cursor() as cur:
            table = pa.ipc.open_file(source).read_all()
            cur.adbc_ingest("contacts", table, mode="append")
        db.adbc_connection.commit()

    def build() -> None:
        with db.cursor() as cur:
            for _name, sql in indexes:
                cur.execute(sql)
        db.adbc_connection.commit()

    _timed(f"row store: {rows:,} contacts written", load)
    _timed(f"row store: its {len(indexes)} indexes built", build)
    db.close()
    return rows


def ledger(folder: Path, contacts: int) -> None:
    """The ledger's floor: a rental's rows appended in ``contact_id`` order, as a delivery
    writes them, its indexes kept and each row's delivery checked (foreign keys on)."""
    import sqlite3

    import duckdb

    # 1.1 rows a contact on the bench's order: the contacts' ids shaped as the bench's
    # (``C`` and seven digits, not in the order of the base), a delivered number on a
    # tenth of them beside an email, and references numbered in a random order
    rows = duckdb.sql(
        f"""SELECT CAST(1 AS BIGINT) AS delivery_id,
  'C' || lpad(CAST((i * 7919) % {contacts} AS VARCHAR), 7, '0') AS contact_id,
  CASE WHEN j = 0 THEN 'email' ELSE 'sms' END AS channel,
  CASE WHEN j = 0 THEN 'prenom.nom' || CAST(i AS VARCHAR) || '@example.fr'
       ELSE '+336' || lpad(CAST(i AS VARCHAR), 8, '0') END AS coordinate,
  'D1-' || CAST((i * 104729) % {contacts} + 1 AS VARCHAR) AS contact_ref
FROM range({contacts}) r(i), range(2) s(j) WHERE j = 0 OR i % 10 = 0
ORDER BY contact_id"""
    )
    assert rows is not None
    table = rows.to_arrow_table()
    path = _new_registry(folder, "ledger.db")
    setup = sqlite3.connect(path)  # the delivery the rows belong to
    setup.execute(
        "INSERT INTO deliveries (id, partner_id, order_text, order_sha256, as_of, channels, "
        "packs, partner_list_version, created_at, out_dir, contacts_delivered) "
        "VALUES (1, 'P0003', '', '', '2026-11-28', 'email|sms', 'fr-2026', 1, 0, '', 0)"
    )
    setup.commit()
    setup.close()
    db = _adbc(path, 262144, foreign_keys=True)

    def append() -> None:
        with db.cursor() as cur:
            cur.adbc_ingest("ledger", table, mode="append")
        db.adbc_connection.commit()

    _timed(f"ledger: {table.num_rows:,} rows appended, 2 indexes kept", append)
    db.close()


def decisions(folder: Path, contacts: int, memory_mb: int) -> None:
    """The decisions file's floor: 4.8 rows a contact as Parquet, sorted and not."""
    import duckdb

    db = duckdb.connect(
        config={"memory_limit": f"{memory_mb}MB", "temp_directory": str(folder / "spill")}
    )
    # four channels, and a second number on the two phone channels for 40 % of contacts;
    # the rows made in a shuffled order, as a decision's joins leave them
    db.execute(
        f"""CREATE TABLE d AS
SELECT cid, 'C' || lpad(CAST(cid AS VARCHAR), 9, '0') AS contact_id,
  CAST(ch AS UTINYINT) AS ch, CAST(pos AS UTINYINT) AS pos,
  CASE ch WHEN 0 THEN 'Mme Camille Dupont, 12 rue de la Paix ' || CAST(cid % 997 AS VARCHAR)
                      || ', 75002 PARIS'
          WHEN 3 THEN 'prenom.nom' || CAST(cid AS VARCHAR) || '@example.fr'
          ELSE '+336' || lpad(CAST(cid + pos AS VARCHAR), 8, '0') END AS coordinate,
  CAST(hash(cid, ch) % 6 AS BIGINT) * 64 AS mask
FROM range(1, {contacts} + 1) r(cid), range(0, 4) c(ch), range(0, 2) p(pos)
WHERE pos = 0 OR (ch IN (1, 2) AND cid % 5 < 2)
ORDER BY hash(cid, ch, pos)"""
    )
    rows = db.execute("SELECT count(*) FROM d").fetchall()[0][0]
    spelled = " ".join(f"WHEN {m * 64} THEN 'reason_{m}'" for m in range(1, 6))
    select = (
        "SELECT contact_id, CASE ch WHEN 0 THEN 'postal' WHEN 1 THEN 'phone' WHEN 2 THEN 'sms' "
        "ELSE 'email' END AS channel, coordinate, CASE WHEN mask = 0 THEN 'eligible' "
        f"ELSE 'excluded' END AS decision, CASE mask {spelled} END AS reasons FROM d"
    )
    target = str(folder / "decisions.parquet")

    def write(order: str) -> Callable[[], object]:
        return lambda: db.execute(
            f"COPY ({select}{order}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)"
        ).fetchall()

    # the order of formats.md, as ``rules/pipeline.order_key`` writes it
    _timed(f"decisions.parquet: {rows:,} rows, sorted", write(f" ORDER BY {order_key()}"))
    _timed(f"decisions.parquet: {rows:,} rows, unsorted", write(""))
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, required=True, help="an imported SQLite registry")
    parser.add_argument("--contacts", type=int, default=None, help="at most this many of its rows")
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="listguard-floors-"))
    try:
        print("| work | wall | CPU |\n|---|---|---|")
        n = row_store(args.registry, folder, args.contacts)
        ledger(folder, n)
        decisions(folder, n, args.memory_mb)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
