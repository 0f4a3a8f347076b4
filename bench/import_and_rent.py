"""Import and renting at scale, on SQLite and PostgreSQL, against the naive way.

    python -m bench.import_and_rent [--contacts 1000000] [--postgres URL] [--import-only]

``--import-only`` times the contacts import alone (SQLite), to compare two versions
of the code on one machine quickly.

Prints a Markdown table. Each phase runs in its own process, so peak memory is
that phase's own.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

from bench.common import OUT, listguard, run

ORDER = """partner = "P0003"
channels = ["postal", "phone", "sms", "email"]
purpose = "Benchmark"
campaign_start = 2026-12-01
campaign_end = 2027-01-31
as_of = 2026-11-28
"""


def generate(n: int, folder: Path) -> dict[str, Path]:
    """The generated files of ``n`` contacts, made a million at a time (the same files
    as ``listguard demo`` up to a million); made once, then kept in ``folder``."""
    from listguard.demo.generate import generate_large

    names = ("partners", "contacts", "events", "suppression")
    done = folder / "done"
    if done.is_file():
        return {kind: folder / f"{kind}.csv" for kind in names}
    shutil.rmtree(folder, ignore_errors=True)
    files = generate_large(folder, n, seed=2026)
    done.touch()
    return files


def registry(db: str, files: dict[str, Path], rows: list[tuple[str, str]], label: str) -> float:
    listguard("init", db=db)
    listguard("import", "partners", str(files["partners"]), db=db)
    imp = listguard("import", "contacts", str(files["contacts"]), db=db)
    n = sum(1 for _ in files["contacts"].open(encoding="utf-8")) - 1
    rows.append(
        (
            f"import contacts ({label})",
            f"{imp.seconds:.1f} s, {n / imp.seconds:,.0f} rows/s, peak {imp.peak_mib:,.0f} MiB",
        )
    )
    ev = listguard("import", "events", str(files["events"]), db=db)
    listguard("import", "suppression", str(files["suppression"]), db=db)
    rows.append((f"import events ({label})", f"{ev.seconds:.1f} s"))
    return imp.seconds + ev.seconds


def rent(db: str, folder: Path, rows: list[tuple[str, str]], label: str) -> float:
    """Rent the order twice: the first rental after the import (on SQLite it also makes
    the columnar copy of the contacts, ADR 0013), then the same order again, as an
    owner renting the same base to another partner does. Returns the first's time."""
    order = folder / "order.toml"
    order.write_text(ORDER, encoding="utf-8")
    times = []
    for attempt, name in enumerate(("rent 4 channels", "rent again, same base")):
        out = folder / f"delivery-{label}-{attempt}"
        shutil.rmtree(out, ignore_errors=True)
        r = listguard("rent", str(order), "--out", str(out), "--verbose", db=db)
        rows.append((f"{name} ({label})", f"{r.seconds:.1f} s, peak {r.peak_mib:,.0f} MiB"))
        print(f"{name} ({label}):\n{r.stderr}", file=sys.stderr)
        times.append(r.seconds)
    return times[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--import-only", action="store_true")
    args = parser.parse_args()
    folder = OUT / f"scale-{args.contacts}"
    files = generate(args.contacts, OUT / f"input-{args.contacts}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows: list[tuple[str, str]] = []
    db = f"sqlite:///{folder / 'registry.db'}"
    if args.import_only:
        listguard("init", db=db)
        listguard("import", "partners", str(files["partners"]), db=db)
        imp = listguard("import", "contacts", str(files["contacts"]), db=db)
        print(f"import contacts (SQLite, {args.contacts:,}): {imp.seconds:.2f} s")
        return
    total = registry(db, files, rows, "SQLite") + rent(db, folder, rows, "SQLite")
    rows.append(("listguard import + rent (SQLite)", f"{total:.1f} s"))
    if args.postgres:
        from sqlalchemy import create_engine, text

        with create_engine(args.postgres).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        pg_total = registry(args.postgres, files, rows, "PostgreSQL")
        pg_total += rent(args.postgres, folder, rows, "PostgreSQL")
        rows.append(("listguard import + rent (PostgreSQL)", f"{pg_total:.1f} s"))
    if not args.skip_naive:
        naive = run(
            [
                sys.executable,
                "-m",
                "bench.naive",
                str(files["contacts"]),
                str(files["events"]),
                str(folder / "naive.csv"),
            ]
        )
        rows.append(
            (
                "naive (pandas + phonenumbers + Python loop)",
                f"{naive.seconds:.1f} s, peak {naive.peak_mib:,.0f} MiB",
            )
        )
        rows.append(("naive / listguard (SQLite)", f"{naive.seconds / total:.2f}x"))
    starts = [run([sys.executable, "-m", "listguard", "--help"]).seconds for _ in range(5)]
    rows.append(
        ("cold start `listguard --help` (median of 5)", f"{statistics.median(starts):.2f} s")
    )
    print(f"| {args.contacts:,} contacts | |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
