"""Deduplicating a large base: time and peak memory of ``listguard dedupe``.

    python -m bench.dedupe_scale [--contacts 1000000]

The demo generator's base (French names, addresses, numbers and emails, with the
duplicates it plants) written as CSV, then ``listguard dedupe`` on it in a child
process. Target (issue 5): 1,000,000 contacts in under 3 minutes, under 4 GiB.
"""

from __future__ import annotations

import argparse
import csv

from bench.common import OUT, listguard
from listguard.demo.generate import generate_large


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = OUT / f"dedupe-{args.contacts}"
    contacts = folder / "contacts.csv"
    if not contacts.exists():
        generate_large(folder, args.contacts, seed=2026)
    out = folder / "out"
    run = listguard(
        "dedupe", str(contacts), "--out", str(out), db=f"sqlite:///{folder / 'unused.db'}"
    )
    with (out / "pairs.csv").open(encoding="utf-8-sig") as f:
        pairs = sum(1 for _ in csv.reader(f)) - 1
    print(
        f"{args.contacts:,} contacts: {run.seconds:.0f} s, peak {run.peak_mib:,.0f} MiB, "
        f"{pairs:,} pairs\n{run.stdout.strip()}"
    )


if __name__ == "__main__":
    main()
