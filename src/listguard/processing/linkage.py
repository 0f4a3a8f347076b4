"""Deduplication and linkage of contact files: the same person written differently.

A Fellegi-Sunter model (splink, on DuckDB in this process) over fields listguard
normalises first: names in capitals without accents or punctuation, compared with
Jaro-Winkler and with first and last names swapped; the birth date as digits
(a typo is one or two edits); the email as normalised for the rules; one phone
number in E.164 (the mobile, else the other); the street line, the locality, the
postal code and the city; and any other identifier the user names (``--compare``:
a customer number, a social security number), compared with edit distance.

Only fields that some row fills take part. Candidate pairs come from several
blocking passes (same first and last name; same last name and birth date; same
first name and birth date; same postal code and last name or first name; same
birth date and postal code; same email; same number; swapped names; same street
and postal code; each ``--compare`` field), so that the cost grows with the file,
not with its square. The model is trained without labels: the chance that two
fields agree by accident (``u``) from random pairs, the chance that they agree for
the same person (``m``) by expectation maximisation within three blocks.

Pairs above the threshold (a match probability, 0.9 by default) are written with
the fields that agreed; clusters are the connected groups of such pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from sqlalchemy import Engine

from listguard.errors import InputError
from listguard.io.csvout import CsvWriter
from listguard.normalise.text import text_key
from listguard.processing.files import (
    MappedFile,
    check_threshold,
    open_mapped,
    parse_maps,
    registry_table,
)

READ = (
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "mobile",
    "address_line4",
    "address_line5",
    "postal_code",
    "city",
)
DEFAULT_THRESHOLD = 0.9
_COMPARED = ("first", "last", "dob", "email", "tel", "street", "locality", "postcode", "city")


def _null_if_blank(e: pl.Expr) -> pl.Expr:
    return pl.when(e == "").then(None).otherwise(e)


def prepare(frame: pl.DataFrame, ids: pl.Series, extra: Sequence[str]) -> pl.DataFrame:
    """The compared fields of a batch: ``unique_id`` and the normalised columns."""
    from listguard.io.dates import parse_dates_iso
    from listguard.normalise.email import normalise_emails
    from listguard.normalise.phone import normalise_phones
    from listguard.normalise.rnvp import street_type_written_out

    n = frame.height

    def col(name: str) -> pl.Series:
        if name in frame.columns:
            return frame[name].cast(pl.String)
        return pl.Series(name, [None] * n, pl.String)

    base = pl.DataFrame({c: col(c) for c in (*READ, *extra)})
    mobiles = normalise_phones(base["mobile"])["e164"]
    phones = normalise_phones(base["phone"])["e164"]
    return base.select(
        pl.Series("unique_id", ids.cast(pl.String)),
        *[
            _null_if_blank(text_key(c)).alias(a)
            for c, a in (("first_name", "first"), ("last_name", "last"))
        ],
        pl.coalesce(
            parse_dates_iso(pl.col("birth_date")).str.replace_all("-", ""),
            pl.col("birth_date").str.strip_chars().str.extract(r"^(\d{8})$"),
        ).alias("dob"),
        normalise_emails(base["email"])["email"].alias("email"),
        pl.coalesce(mobiles, phones).alias("tel"),
        # "12 AV FOCH" and "12 AVENUE FOCH" are one street
        _null_if_blank(street_type_written_out(text_key("address_line4"))).alias("street"),
        _null_if_blank(text_key("address_line5")).alias("locality"),
        _null_if_blank(pl.col("postal_code").fill_null("").str.replace_all(r"\s", "")).alias(
            "postcode"
        ),
        _null_if_blank(text_key("city")).alias("city"),
        *[_null_if_blank(text_key(c)).alias(f"x_{c}") for c in extra],
    )


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
)
BLOCK_MAX = 100  # a blocking value shared by more rows than this finds no pairs by itself


def filled_fields(data: pl.DataFrame) -> set[str]:
    return {c for c in data.columns if c != "unique_id" and data[c].null_count() < data.height}


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


def _model(
    data: pl.DataFrame,
    link_type: Literal["link_only", "dedupe_only"],
    keys: list[str],
) -> tuple[Any, set[str]]:
    """splink's settings for the fields the data fills, blocking on ``keys``."""
    import splink.comparison_library as cl
    from splink import SettingsCreator

    filled = filled_fields(data)
    comparisons: list[Any] = []
    if {"first", "last"} <= filled:
        comparisons.append(cl.ForenameSurnameComparison("first", "last"))
    else:
        comparisons += [
            cl.JaroWinklerAtThresholds(c, [0.92, 0.88]) for c in ("first", "last") if c in filled
        ]
    fuzzy: dict[str, Callable[[str], Any]] = {
        "dob": lambda c: cl.LevenshteinAtThresholds(c, [1, 2]),
        # exact only: jean.martin@ at another provider, or jean.martin46@, is often
        # another person
        "email": lambda c: cl.ExactMatch(c),
        "tel": lambda c: cl.LevenshteinAtThresholds(c, [1, 2]),
        "street": lambda c: cl.JaroWinklerAtThresholds(c, [0.9, 0.8]),
        "locality": lambda c: cl.JaroWinklerAtThresholds(c, [0.9]),
        "postcode": lambda c: cl.LevenshteinAtThresholds(c, [1]),
        "city": lambda c: cl.JaroWinklerAtThresholds(c, [0.9]),
    }
    comparisons += [make(c) for c, make in fuzzy.items() if c in filled]
    extras = sorted(c for c in filled if c.startswith("x_"))
    comparisons += [cl.LevenshteinAtThresholds(c, [1, 2]) for c in extras]
    if len(comparisons) < 2:
        raise InputError(
            "too few fields to compare: give at least two of names, birth date, email, "
            "phone, address (or --compare COLUMN)"
        )
    rules: list[Any] = [f"l.{k} = r.{k}" for k in keys if not k.endswith("_swapped")]
    if "bk0_swapped" in keys:
        rules.append("l.bk0 = r.bk0_swapped")
    if not rules:
        raise InputError("no field to find candidate pairs with: names, birth date, email or phone")
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=True,  # the weights: which fields agreed
        retain_matching_columns=True,  # the names and identifiers, for the gates
    ), filled


@dataclass
class LinkageReport:
    records: int = 0
    pairs: int = 0
    clusters: int = 0  # of two records or more
    in_clusters: int = 0
    seconds: float = 0.0


def read_file(
    mapped: MappedFile, extra: Sequence[str], progress: Callable[[int], None] | None
) -> pl.DataFrame:
    parts = []
    for frame, ids in mapped.batches():
        parts.append(prepare(frame, ids, extra))
        if progress is not None:
            progress(frame.height)
    data = (
        pl.concat(parts)
        if parts
        else prepare(pl.DataFrame(), pl.Series([], dtype=pl.String), extra)
    )
    dup = data["unique_id"].is_duplicated()
    if dup.any():
        first = data.filter(dup)["unique_id"][0]
        raise InputError(
            f"the id {first!r} names several rows: ids must be unique (--id COLUMN)",
            where=str(mapped.tab.path),
        )
    return data


def link_files(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    maps: Sequence[str] = (),
    id_column: str = "contact_id",
    threshold: float = DEFAULT_THRESHOLD,
    compare: Sequence[str] = (),
    delimiter: str = ";",
    progress: Callable[[int], None] | None = None,
) -> LinkageReport:
    """Deduplicate one file, or link two: ``pairs.csv`` and ``clusters.csv`` in
    ``out_dir``."""
    import time

    check_threshold(threshold)
    started = time.perf_counter()
    extra = [c.strip().lower() for c in compare]
    mapped = [
        open_mapped(p, parse_maps(maps, (*READ, *extra)), id_column, (*READ, *extra)) for p in paths
    ]
    for m in mapped:
        missing = [c for c in extra if c not in m.tab.columns and c not in m.maps.values()]
        if missing:
            raise InputError(
                f"--compare {', '.join(missing)}: no such column", where=str(m.tab.path)
            )
    frames = [read_file(m, extra, progress) for m in mapped]
    pairs, clusters = _predict(frames, threshold)
    return _written(pairs, clusters, out_dir, delimiter, sum(f.height for f in frames), started)


def _written(
    pairs: pl.DataFrame,
    clusters: pl.DataFrame,
    out_dir: Path,
    delimiter: str,
    records: int,
    started: float,
) -> LinkageReport:
    """Write ``pairs.csv`` and ``clusters.csv``, each whole or not at all; the counts."""
    import time

    out_dir.mkdir(parents=True, exist_ok=True)
    writers = [
        (out_dir / "pairs.csv", ["id_a", "id_b", "probability", "agreed"], pairs),
        (out_dir / "clusters.csv", clusters.columns, clusters),
    ]
    for path, header, rows in writers:
        writer = CsvWriter(path, header, delimiter)
        try:
            writer.write_frame(rows)
        except BaseException:
            writer.discard()
            raise
        writer.close()
    sizes = clusters.group_by("cluster_id").len().filter(pl.col("len") > 1)
    return LinkageReport(
        records=records,
        pairs=pairs.height,
        clusters=sizes.height,
        in_clusters=int(sizes["len"].sum()),
        seconds=time.perf_counter() - started,
    )


def registry_frame(engine: Engine, progress: Callable[[int], None] | None = None) -> pl.DataFrame:
    """The compared fields of the registry's current contacts (``unique_id`` is the
    contact_id), prepared in batches."""
    whole = registry_table(engine, ("contact_id", *READ))
    if whole.height == 0:
        raise InputError("the registry holds no contact")
    parts = []
    for frame in whole.iter_slices(100_000):
        parts.append(prepare(frame, frame["contact_id"], []))
        if progress is not None:
            progress(frame.height)
    return pl.concat(parts)


def link_pairs(a: pl.DataFrame, b: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """The pairs of a row of ``a`` and a row of ``b`` (prepared) at ``threshold`` or
    above that identify one person (``identifies_sql``): ``id_a``, ``id_b``,
    ``probability``, ``agreed``."""
    return _predict([a, b], threshold, identify=True)[0]


# The model alone weighs a place so heavily (street, postal code and town are not
# independent) that a spouse or a child at the same address reaches any threshold on the
# surname and the address. Two rows whose first names differ (and are not the names
# swapped) are one person only if something personal agrees as well: the email, the birth
# date (one typo allowed) or an identifier given with --compare; not the number, which
# a household shares.
def _close(a: str, b: str) -> str:
    return f"coalesce(jaro_winkler_similarity({a}, {b}) >= 0.88, TRUE)"


def _swapped(filled: set[str]) -> str:
    if {"first", "last"} <= filled:
        return (
            "coalesce(jaro_winkler_similarity(first_l, last_r) >= 0.88 "
            "AND jaro_winkler_similarity(last_l, first_r) >= 0.88, FALSE)"
        )
    return "FALSE"


def not_household_sql(filled: set[str]) -> str:
    """SQL on splink's predictions (with the compared fields kept): not two persons of
    one household (see above)."""
    if "first" not in filled:
        return "TRUE"
    personal = [f"{c}_l = {c}_r" for c in ("email",) if c in filled]
    personal += [
        f"levenshtein({c}_l, {c}_r) <= 1"
        for c in sorted(filled)
        if c == "dob" or c.startswith("x_")
    ]
    agrees = "coalesce(" + " OR ".join(personal) + ", FALSE)" if personal else "FALSE"
    return f"({_close('first_l', 'first_r')} OR {_swapped(filled)} OR {agrees})"


def names_agree_sql(filled: set[str]) -> str:
    """SQL: the names agree (each close, or missing on a side; or the two swapped)."""
    if {"first", "last"} <= filled:
        both = f"{_close('first_l', 'first_r')} AND {_close('last_l', 'last_r')}"
        return f"(({both}) OR {_swapped(filled)})"
    if filled & {"first", "last"}:
        name = "first" if "first" in filled else "last"
        return _close(f"{name}_l", f"{name}_r")
    return "TRUE"


# For a match that discloses coordinates (``enrich``), more is asked: the names must
# agree, and something only that person has too (a namesake in the same town would pass
# otherwise): the email, the number, the birth date, or the street with the postal
# code or town.
def identifies_sql(filled: set[str]) -> str:
    """SQL on splink's predictions: the names agree and an identifying field does
    (never, when none is filled)."""
    same = [f"{c}_l = {c}_r" for c in ("email", "tel", "dob") if c in filled]
    place = [f"{c}_l = {c}_r" for c in ("postcode",) if c in filled]
    place += ["jaro_winkler_similarity(city_l, city_r) >= 0.9"] if "city" in filled else []
    if "street" in filled and place:
        same.append(
            f"(jaro_winkler_similarity(street_l, street_r) >= 0.9 AND ({' OR '.join(place)}))"
        )
    evidence = "coalesce(" + " OR ".join(same) + ", FALSE)" if same else "FALSE"
    return f"({names_agree_sql(filled)}) AND {evidence}"


def dedupe_base(
    engine: Engine,
    out_dir: Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    delimiter: str = ";",
    progress: Callable[[int], None] | None = None,
) -> LinkageReport:
    """The registry's current contacts deduplicated: the files as for a file, and the
    clusters of two or more contacts stored in ``contact_clusters`` (replacing the
    previous ones, in one transaction), where the rules treat each as one person."""
    import time

    from sqlalchemy import text

    from listguard import audit
    from listguard.db.engine import writing
    from listguard.timeutil import now_ts

    check_threshold(threshold)
    started = time.perf_counter()
    now = now_ts()  # the clusters are those of the contacts as read from here on
    data = registry_frame(engine, progress)
    pairs, clusters = _predict([data], threshold)
    report = _written(pairs, clusters, out_dir, delimiter, data.height, started)
    grouped = clusters.filter(pl.len().over("cluster_id") > 1)
    with writing(engine) as conn:
        conn.execute(text("DELETE FROM contact_clusters"))
        if grouped.height:
            conn.execute(
                text(
                    "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                    "VALUES (:i, :c, :t)"
                ),
                [{"i": i, "c": c, "t": now} for i, c in grouped.iter_rows()],
            )
        audit.append(
            conn,
            "clusters_computed",
            None,
            {
                "threshold": threshold,
                "clusters": report.clusters,
                "contacts": report.in_clusters,
            },
            now,
        )
    return report


def _predict(
    frames: Sequence[pl.DataFrame], threshold: float, identify: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs: id_a, id_b, probability, agreed; clusters: id[, file], cluster_id).
    The pairs are those not of two persons of one household (``not_household_sql``),
    or with ``identify`` those that identify one person (``identifies_sql``); clusters
    are made of them."""
    import tempfile

    import duckdb
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    link = len(frames) == 2
    both = pl.concat(frames)
    if min(f.height for f in frames) == 0 or both.height < 2:  # no pair can be made
        return _alone(frames, link)
    with_keys, keys = blocking_keys(both, filled_fields(both))
    settings, filled = _model(both, "link_only" if link else "dedupe_only", keys)
    frames = (
        [with_keys.head(frames[0].height), with_keys.tail(frames[1].height)]
        if link
        else [with_keys]
    )
    spill = tempfile.TemporaryDirectory(prefix="listguard-linkage-")
    con = duckdb.connect(
        config={
            "memory_limit": "2GB",  # beyond, DuckDB spills to disk
            "temp_directory": spill.name,
            "preserve_insertion_order": False,
        }
    )
    api = DuckDBAPI(connection=con)
    tables = [
        api.register(f.to_arrow(), dataset_display_name=name)
        for f, name in zip(frames, ("a", "b"), strict=False)
    ]
    linker = Linker(tables if link else tables[0], settings, log_level=logging.ERROR)
    by_fields = dict(zip([p for p in PASSES if set(p) <= filled], keys_of(keys), strict=False))
    sure: list[Any] = [
        f"l.{by_fields[p]} = r.{by_fields[p]}"
        + (" AND l.dob = r.dob" if p == ("first", "last") else "")
        for p in (("first", "last"), ("email",), ("tel",))
        if p in by_fields and (p != ("first", "last") or "dob" in filled)
    ]
    if sure:  # how many pairs are matches at all: from the pairs that surely are
        model = linker._settings_obj  # splink has no public setter for the prior
        prior = model._probability_two_random_records_match
        try:
            linker.training.estimate_probability_two_random_records_match(sure, recall=0.7)
        except Exception:  # too few such pairs: splink's prior stays
            logging.getLogger(__name__).debug("prior not estimated")
        if not 0 < model._probability_two_random_records_match < 1:
            # no sure pair at all (or only sure pairs), as in a small file: a prior of
            # 0 or 1 leaves no weight to compute, so splink's own prior stays
            model._probability_two_random_records_match = prior
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=2026)
    for block in (("first", "last"), ("last", "dob"), ("dob", "postcode"), ("email",), ("tel",)):
        if block in by_fields:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    f"l.{by_fields[block]} = r.{by_fields[block]}"
                )
            except Exception:  # a block with too few pairs to learn from: the others teach
                logging.getLogger(__name__).debug("no EM on %s", block)
    predicted = linker.inference.predict(threshold_match_probability=threshold)
    rel = predicted.as_duckdbpyrelation()
    gate = identifies_sql(filled) if identify else not_household_sql(filled)
    # a field "agreed" when its comparison weighed for the match (a positive weight)
    weights = [c for c in rel.columns if c.startswith("mw_") and not c.startswith("mw_tf_adj_")]
    agreed = (
        "concat_ws(';', "
        + ", ".join(f"CASE WHEN {w} > 0 THEN '{w[3:]}' END" for w in weights)
        + ")"
        if weights
        else "''"
    )
    side = "source_dataset_{0} AS file_{1}, " if link else "'' AS file_{1}, "
    modelled = rel.filter(gate).select(
        side.format("l", "a") + side.format("r", "b") + "unique_id_l AS id_a, unique_id_r AS id_b, "
        f"round(match_probability, 4) AS probability, {agreed} AS agreed"
    )
    for i, f in enumerate(frames):
        con.register(f"lg_side{i}", f.select("unique_id", *sorted(filled)).to_arrow())
    exact = con.sql(exact_pairs_sql(filled, link))
    # the exact pairs the model missed (a small file teaches it nothing) are added
    kept = modelled.union(
        exact.join(modelled.select("id_a AS m_a, id_b AS m_b"), "id_a = m_a AND id_b = m_b", "anti")
    )
    pairs = kept.select("id_a, id_b, probability, agreed").pl()
    clusters = _components(api, frames, kept, link)
    order = ["id", "file", "cluster_id"] if link else ["id", "cluster_id"]
    result = pairs.sort("id_a", "id_b"), clusters.select(order).sort(order[:-1])
    con.close()
    spill.cleanup()
    return result


def _components(api: Any, frames: Sequence[pl.DataFrame], kept: Any, link: bool) -> pl.DataFrame:
    """The clusters: connected groups of the kept pairs (splink's connected components,
    in SQL), every record in one (alone if it pairs with nobody)."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    names = ("a", "b") if link else ("",)
    nodes = pl.concat(
        [
            f.select(
                (pl.lit(f"{name}:" if link else "") + pl.col("unique_id")).alias("node"),
                pl.col("unique_id").alias("id"),
                pl.lit(name).alias("file"),
            )
            for f, name in zip(frames, names, strict=True)
        ]
    )
    side = "concat(file_{0}, ':', id_{0})" if link else "id_{0}"
    edges = kept.select(f"{side.format('a')} AS node_l, {side.format('b')} AS node_r").arrow()
    clustered = cluster_pairwise_predictions_at_threshold(
        nodes.to_arrow(), edges.read_all(), api, "node", "node_l", "node_r"
    )
    found = clustered.as_duckdbpyrelation().select("node, cluster_id").pl()
    out = nodes.join(found, on="node", how="left").with_columns(
        pl.col("cluster_id").fill_null(pl.col("node"))
    )
    # a cluster is named by one of its records, as the record is named in the output
    out = out.with_columns(
        pl.col("cluster_id").str.replace(r"^[ab]:", "") if link else pl.col("cluster_id")
    )
    return out.select("id", "file", "cluster_id") if link else out.select("id", "cluster_id")


def _alone(frames: Sequence[pl.DataFrame], link: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """No pair, and every record a cluster of its own (a file of fewer than two rows,
    or an empty side of a link)."""
    pairs = pl.DataFrame(
        schema={
            "id_a": pl.String,
            "id_b": pl.String,
            "probability": pl.Float64,
            "agreed": pl.String,
        }
    )
    clusters = pl.concat(
        [
            f.select(
                pl.col("unique_id").alias("id"),
                *([pl.lit(name).alias("file")] if link else []),
                pl.col("unique_id").alias("cluster_id"),
            )
            for f, name in zip(frames, ("a", "b"), strict=False)
        ]
    )
    return pairs, clusters


# Exact duplicates are found whatever the model learnt: in a small file, or one made
# of duplicates only, there is nothing to learn from (every pair agrees, so agreeing
# weighs nothing). The same first and last names with the same email, number, birth
# date, or street and postal code are one person. Each record of such a group is
# paired with the group's first record (the smallest id; with two files, each record
# with the other file's first), which is enough for the clusters and stays linear
# however large the group.
EXACT = (("email",), ("tel",), ("dob",), ("street", "postcode"))


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


def keys_of(keys: list[str]) -> list[str]:
    """The key columns of the passes, in order (without the swapped names' key)."""
    return [k for k in keys if not k.endswith("_swapped")]


__all__ = [
    "DEFAULT_THRESHOLD",
    "LinkageReport",
    "dedupe_base",
    "link_files",
    "link_pairs",
    "prepare",
    "read_file",
    "registry_frame",
]
