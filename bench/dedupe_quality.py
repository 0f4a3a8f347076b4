"""Deduplication accuracy per kind of error, on a generated French file.

    python -m bench.dedupe_quality [--persons 20000]

``listguard.demo.duplicates``: French names, addresses, numbers and emails (Faker),
one person in five with a second row of one kind of error: accents and case
dropped, two letters of the last name swapped (no email), first and last names
swapped, moved house (same mobile and email), street type abbreviated (no
mobile), exact copy. ``listguard dedupe`` (a child process) at its default
threshold; precision over all pairs found, recall per kind. Prints Markdown.
"""

from __future__ import annotations

import argparse
import csv

from bench.common import OUT, listguard
from listguard.demo.duplicates import ERRORS, write_duplicates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20_000)
    args = parser.parse_args()
    folder = OUT / "dedupe_quality"
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.csv"
    truth = {tuple(sorted(p)): k for p, k in write_duplicates(base, args.persons).items()}
    run = listguard(
        "dedupe", str(base), "--out", str(folder / "out"), db=f"sqlite:///{folder / 'x.db'}"
    )
    with (folder / "out" / "pairs.csv").open(encoding="utf-8-sig") as f:
        found = {tuple(sorted((r["id_a"], r["id_b"]))) for r in csv.DictReader(f, delimiter=";")}
    hits = found & set(truth)
    print(
        f"{args.persons:,} persons, {len(truth):,} duplicates, {run.seconds:.1f} s: "
        f"{len(found):,} pairs found, precision {len(hits) / max(1, len(found)):.4f}, "
        f"recall {len(hits) / len(truth):.4f}\n"
    )
    print("| kind | duplicates | found | recall |")
    print("|---|---|---|---|")
    for kind in ERRORS:
        of_kind = {p for p, k in truth.items() if k == kind}
        got = len(of_kind & hits)
        print(f"| {kind} | {len(of_kind):,} | {got:,} | {got / len(of_kind):.4f} |")
    false = sorted(found - set(truth))
    print(f"\nFalse pairs: {len(false)}" + (f", e.g. {false[:3]}" if false else ""))


if __name__ == "__main__":
    main()
