"""The candidate pairs of deduplication and linkage: the blocking passes (pairs are
only looked for among rows that share a key, so that the cost grows with the file, not
with its square) and the exact duplicates, found whatever the model learns."""

from __future__ import annotations

import polars as pl

PASSES = (
    ("first", "last"),
    ("last", "dob"),
    ("first", "dob"),
    ("postcode", "last"),
    ("postcode", "first"),
    ("dob", "postcode"),
    ("email",),
    ("tel",),
    ("street", "postcode"),
    # each catches what the others miss: both names mistyped, swapped or replaced
    # (a maiden name), the address lines swapped, a postal code mistyped. Not the postal
    # code alone: in a file of 200,000 it makes millions of pairs (blocks of up to 100)
    ("dob",),
    ("dob", "city"),
    ("last", "city"),
    ("first", "city"),
    ("street", "city"),
    ("number", "postcode"),
    ("number", "city"),
)
BLOCK_MAX = 100  # a blocking value shared by more rows than this finds no pairs by itself


def blocking_keys(data: pl.DataFrame, filled: set[str]) -> tuple[pl.DataFrame, list[str]]:
    """One key column per blocking pass the data allows (``bk<i>``), null where the
    value is missing or shared by more than ``BLOCK_MAX`` rows: a switchboard number,
    a placeholder email, a very common name in a small town would otherwise make a
    block of millions of pairs, while the other passes still find those persons."""
    extras = sorted(c for c in filled if c.startswith("x_"))
    passes = [p for p in (*PASSES, *[(c,) for c in extras]) if set(p) <= filled]
    columns, names = [], []
    for i, fields in enumerate(passes):
        key = pl.concat_str([pl.col(f) for f in fields], separator="|")
        small = pl.len().over(list(fields)) <= BLOCK_MAX
        columns.append(pl.when(small).then(key).alias(f"bk{i}"))
        names.append(f"bk{i}")
        if fields == ("first", "last"):  # the same names, swapped
            swapped = pl.concat_str([pl.col("last"), pl.col("first")], separator="|")
            columns.append(pl.when(small).then(swapped).alias(f"bk{i}_swapped"))
            names.append(f"bk{i}_swapped")
    return data.with_columns(columns), names


def _per_key(data: pl.DataFrame, key: str, side: pl.Expr, alias: str) -> pl.DataFrame:
    """Rows per value of ``key``: in all (``alias``_n) and in the first file (_a)."""
    return (
        data.select(pl.col(key).alias("_k"), side.alias("_a"))
        .drop_nulls("_k")
        .group_by("_k")
        .agg(
            pl.col("_a").sum().cast(pl.Int64).alias(f"{alias}_a"),
            pl.len().cast(pl.Int64).alias(f"{alias}_n"),
        )
    )


def candidate_pairs(
    data: pl.DataFrame, keys: list[str], first: int | None = None
) -> dict[str, int]:
    """At most how many candidate pairs each pass's key makes: the rows sharing it two
    by two, or, linking (the first ``first`` rows one file, the others the other), a
    row of each file; the same names swapped (``bk0_swapped``) as a pass of its own. A
    bound on what comparing costs: a pair found by several passes is counted in each."""
    found = {}
    side = pl.int_range(pl.len()) < (first if first is not None else 0)
    if "bk0_swapped" in keys:  # a row's names against another's swapped, either way
        both = _per_key(data, "bk0", side, "k").join(
            _per_key(data, "bk0_swapped", side, "s"), on="_k"
        )
        if first is None:
            found["bk0_swapped"] = int((both["k_n"] * both["s_n"]).sum())
        else:
            a_b = both["k_a"] * (both["s_n"] - both["s_a"])
            b_a = (both["k_n"] - both["k_a"]) * both["s_a"]
            found["bk0_swapped"] = int((a_b + b_a).sum())
    for key in keys_of(keys):
        if first is None:
            sizes = data.select(key).drop_nulls().group_by(key).len()["len"].cast(pl.Int64)
            found[key] = int((sizes * (sizes - 1) // 2).sum())
            continue
        both = (
            data.select(key, side.alias("_a"))
            .drop_nulls(key)
            .group_by(key)
            .agg(pl.col("_a").sum().cast(pl.Int64).alias("a"), pl.len().cast(pl.Int64).alias("n"))
        )
        found[key] = int((both["a"] * (both["n"] - both["a"])).sum())
    return found


def keys_of(keys: list[str]) -> list[str]:
    """The key columns of the passes, in order (without the swapped names' key)."""
    return [k for k in keys if not k.endswith("_swapped")]


# Exact duplicates are found whatever the model learnt: in a small file, or one made
# of duplicates only, there is nothing to learn from (every pair agrees, so agreeing
# weighs nothing). The same first and last names with the same email, number, birth
# date, or street and postal code are one person. Each record of such a group is
# paired with the group's first record (the smallest id; with two files, each record
# with the other file's first), which is enough for the clusters and stays linear
# however large the group.
EXACT = (("email",), ("tel",), ("dob",), ("number", "street", "postcode"))


def exact_pairs_sql(filled: set[str], link: bool) -> str:
    """SQL over ``lg_side0`` (and ``lg_side1`` to link): the exact pairs as ``file_a``,
    ``file_b``, ``id_a``, ``id_b``, ``probability`` (1.0) and ``agreed``."""
    columns = "file_a, file_b, id_a, id_b, 1.0::DOUBLE AS probability, agreed"
    keys = [k for k in EXACT if {"first", "last", *k} <= filled]
    if not keys:
        return (
            "SELECT NULL::VARCHAR AS file_a, NULL::VARCHAR AS file_b, NULL::VARCHAR AS id_a, "
            "NULL::VARCHAR AS id_b, NULL::DOUBLE AS probability, NULL::VARCHAR AS agreed LIMIT 0"
        )
    rows = (
        "SELECT 'a' AS f, * FROM lg_side0 UNION ALL SELECT 'b', * FROM lg_side1"
        if link
        else "SELECT '' AS f, * FROM lg_side0"
    )
    parts = []
    for key in keys:
        group = ", ".join(("first", "last", *key))
        known = " AND ".join(f"{c} IS NOT NULL" for c in ("first", "last", *key))
        agreed = ";".join(("first_last", *key))
        if link:  # each record with the first of the other file
            heads = (
                "min(unique_id) FILTER (WHERE f = 'a') OVER w AS head_a, "
                "min(unique_id) FILTER (WHERE f = 'b') OVER w AS head_b"
            )
            pair = (
                "SELECT 'a' AS file_a, 'b' AS file_b, head_a AS id_a, unique_id AS id_b "
                "FROM g WHERE f = 'b' AND head_a IS NOT NULL UNION "
                "SELECT 'a', 'b', unique_id, head_b FROM g WHERE f = 'a' AND head_b IS NOT NULL"
            )
        else:
            heads = "min(unique_id) OVER w AS head"
            pair = (
                "SELECT '' AS file_a, '' AS file_b, head AS id_a, unique_id AS id_b "
                "FROM g WHERE unique_id <> head"
            )
        parts.append(
            f"SELECT *, '{agreed}' AS agreed FROM (WITH g AS (SELECT f, unique_id, {heads} "
            f"FROM ({rows}) WHERE {known} WINDOW w AS (PARTITION BY {group})) {pair})"
        )
    # a pair found by several keys is kept once, naming one of them
    return (
        f"SELECT {columns} FROM ({' UNION ALL '.join(parts)}) "
        "QUALIFY row_number() OVER (PARTITION BY id_a, id_b ORDER BY agreed) = 1"
    )


__all__ = [
    "BLOCK_MAX",
    "EXACT",
    "PASSES",
    "blocking_keys",
    "candidate_pairs",
    "exact_pairs_sql",
    "keys_of",
]
