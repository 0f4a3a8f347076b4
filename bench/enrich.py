"""Enriching a client file against a large base: time, peak memory and match accuracy
of ``listguard enrich``.

    python -m bench.enrich [--contacts 1000000] [--clients 100000]

The demo generator's base is imported (and deduplicated with ``dedupe --base``, as
an owner does before renting); the client file is a sample of the base's persons,
each written as a partner's file would (one kind of difference each), plus persons
the base does not hold, made of the base's own names, towns and streets mixed up
(the hardest strangers: common names in real towns). Accuracy is per kind: a row
is right when it is matched to its own person (a clustered person's any contact),
wrong when matched to anyone else; a stranger matched is a false match.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from bench.common import OUT, listguard

KINDS = ("exact", "no_email_typo", "moved", "name_and_address", "swapped")


def client_file(
    contacts: Path, registry: Path, clients: int, out: Path, seed: int = 11
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Write the client file; returns {client id: the base contact it is, or None} and
    {client id: its kind}. Only contacts the import accepted are sampled."""
    import sqlite3

    rng = np.random.default_rng(seed)
    with sqlite3.connect(registry) as conn:
        held = pl.Series([r[0] for r in conn.execute("SELECT contact_id FROM contacts")])
    base = pl.read_csv(contacts, separator=";", infer_schema=False).filter(
        pl.col("contact_id").is_in(held.implode())
    )
    strangers = clients // 5
    known = base.sample(clients - strangers, seed=seed)
    n = known.height
    kind = pl.Series("kind", [KINDS[i % len(KINDS)] for i in range(n)])
    swap_letters = (
        pl.col("last_name").str.slice(0, 1)
        + pl.col("last_name").str.slice(2, 1)
        + (pl.col("last_name").str.slice(1, 1) + pl.col("last_name").str.slice(3))
    )
    moved_from = base.sample(n, seed=seed + 1, with_replacement=True)
    k = pl.col("kind")
    rows = known.with_columns(kind).with_columns(
        pl.when(k == "swapped")
        .then(pl.col("last_name"))
        .otherwise(pl.col("first_name"))
        .alias("first_name"),
        pl.when(k == "swapped")
        .then(pl.col("first_name"))
        .when(k == "no_email_typo")
        .then(swap_letters)
        .otherwise(pl.col("last_name"))
        .alias("last_name"),
        pl.when(k.is_in(["no_email_typo", "name_and_address"]))
        .then(None)
        .otherwise(pl.col("email"))
        .alias("email"),
        pl.when(k == "name_and_address").then(None).otherwise(pl.col("mobile")).alias("mobile"),
        pl.when(k == "name_and_address").then(None).otherwise(pl.col("phone")).alias("phone"),
        *[
            pl.when(k == "moved").then(moved_from[c]).otherwise(pl.col(c)).alias(c)
            for c in ("address_line4", "postal_code", "city")
        ],
    )
    picks = [base.sample(strangers, seed=seed + 10 + i, with_replacement=True) for i in range(3)]
    made_up = pl.DataFrame(
        {
            "contact_id": [None] * strangers,
            "first_name": picks[0]["first_name"],
            "last_name": picks[1]["last_name"],
            "address_line4": picks[2]["address_line4"],
            "postal_code": picks[2]["postal_code"],
            "city": picks[2]["city"],
            "mobile": [f"07{x:08d}" for x in rng.integers(0, 10**8, strangers)],
            "phone": [None] * strangers,
            "email": [f"client{i}@client.example" for i in range(strangers)],
            "kind": ["stranger"] * strangers,
        },
        schema=dict.fromkeys(
            [
                "contact_id",
                "first_name",
                "last_name",
                "address_line4",
                "postal_code",
                "city",
                "mobile",
                "phone",
                "email",
                "kind",
            ],
            pl.String,
        ),
    )
    cols = ["contact_id", "first_name", "last_name", "address_line4", "postal_code", "city"]
    cols += ["mobile", "phone", "email", "kind"]
    both = pl.concat([rows.select(cols), made_up]).sample(fraction=1.0, shuffle=True, seed=seed)
    both = both.with_row_index("n").with_columns(
        ("K" + pl.col("n").cast(pl.String)).alias("client_ref")
    )
    both.select("client_ref", *[c for c in cols if c not in ("contact_id", "kind")]).write_csv(
        out, separator=";"
    )
    refs = both["client_ref"]
    return (
        dict(zip(refs, both["contact_id"], strict=True)),
        dict(zip(refs, both["kind"], strict=True)),
    )


def main() -> None:
    from listguard.demo.generate import generate

    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--threshold", default=None, help="default: the command's (0.99)")
    args = parser.parse_args()
    folder = OUT / f"enrich-{args.contacts}"
    db = f"sqlite:///{folder / 'registry.db'}"
    files = folder / "input"
    if not (folder / "registry.db").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(files, args.contacts, seed=2026)
        listguard("init", db=db)
        for kind in ("partners", "contacts", "events"):
            listguard("import", kind, str(files / f"{kind}.csv"), db=db)
        listguard("dedupe", "--base", "--out", str(folder / "dedupe"), db=db)
    client = folder / "client.csv"
    truth, kinds = client_file(files / "contacts.csv", folder / "registry.db", args.clients, client)
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    run = listguard(
        "enrich",
        str(client),
        "--partner",
        "P0003",
        "--out",
        str(out),
        "--channel",
        "postal",
        "--channel",
        "sms",
        "--channel",
        "email",
        "--purpose",
        "Benchmark",
        "--id",
        "client_ref",
        "--as-of",
        "2026-11-28",
        *(["--threshold", args.threshold] if args.threshold else []),
        db=db,
    )
    clusters: dict[str, str] = {}
    dedupe = folder / "dedupe" / "clusters.csv"
    with dedupe.open(encoding="utf-8-sig") as f:
        for r in csv.DictReader(f, delimiter=";"):
            clusters[r["id"]] = r["cluster_id"]
    tally: dict[str, Counter[str]] = {}
    with (out / "matches.csv").open(encoding="utf-8-sig") as f:
        for r in csv.DictReader(f, delimiter=";"):
            ref, status, got = r["client_ref"], r["status"], r["contact_id"]
            want = truth[ref]
            c = tally.setdefault(kinds[ref], Counter())
            c["rows"] += 1
            if status == "matched":
                same = want is not None and clusters.get(got, got) == clusters.get(want, want)
                c["right" if same else "wrong"] += 1
            else:
                c[status] += 1
    print(
        f"{args.contacts:,} contacts, {args.clients:,} client rows: {run.seconds:.0f} s, "
        f"peak {run.peak_mib:,.0f} MiB"
    )
    print(run.stdout.strip().splitlines()[0])
    print("| kind | rows | matched right | matched wrong | ambiguous | not found |")
    print("|---|---|---|---|---|---|")
    for kind, c in sorted(tally.items()):
        print(
            f"| {kind} | {c['rows']:,} | {c['right']:,} | {c['wrong']:,} | "
            f"{c['ambiguous']:,} | {c['no_match']:,} |"
        )
    right = sum(c["right"] for c in tally.values())
    wrong = sum(c["wrong"] for c in tally.values())
    members = sum(c["rows"] for k, c in tally.items() if k != "stranger")
    print(f"precision {right / max(1, right + wrong):.4f}, recall {right / max(1, members):.4f}")


if __name__ == "__main__":
    main()
