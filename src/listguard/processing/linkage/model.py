"""The Fellegi-Sunter model of deduplication and linkage (splink, on DuckDB in this
process): the comparisons for the fields the data fills, trained without labels (the
prior from the pairs that surely match, ``u`` from random pairs, ``m`` by expectation
maximisation within a few blocks), the pairs it predicts above the threshold behind
their gate, the exact pairs it missed, and the clusters they make."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Literal

import polars as pl

from listguard.errors import InputError
from listguard.processing.linkage.blocking import (
    PASSES,
    blocking_keys,
    candidate_pairs,
    exact_pairs_sql,
    keys_of,
)
from listguard.processing.linkage.fields import filled_fields
from listguard.processing.linkage.gates import identifies_sql, not_household_sql


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
        # a typo, or two digits swapped, is one edit
        "dob": lambda c: cl.DamerauLevenshteinAtThresholds(c, [1, 2]),
        # exact only: jean.martin@ at another provider, or jean.martin46@, is often
        # another person
        "email": lambda c: cl.ExactMatch(c),
        "tel": lambda c: cl.LevenshteinAtThresholds(c, [1, 2]),
        "number": lambda c: cl.ExactMatch(c),
        "street": lambda c: cl.JaroWinklerAtThresholds(c, [0.9, 0.8]),
        "locality": lambda c: cl.JaroWinklerAtThresholds(c, [0.9]),
        # a common value (Paris, a big town's postal code) agreeing weighs less than
        # a rare one: term-frequency adjustments
        "postcode": lambda c: cl.DamerauLevenshteinAtThresholds(c, [1]).configure(
            term_frequency_adjustments=True
        ),
        "city": lambda c: cl.JaroWinklerAtThresholds(c, [0.9]).configure(
            term_frequency_adjustments=True
        ),
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


def _within(
    data: pl.DataFrame,
    keys: list[str],
    by_fields: dict[tuple[str, ...], str],
    max_pairs: int,
    first: int | None,
) -> None:
    """``InputError`` when the blocking passes make more than ``max_pairs`` candidate
    pairs, naming those that make most: said before hours of work, not after."""
    counts = candidate_pairs(data, keys, first)
    total = sum(counts.values())
    if total <= max_pairs:
        return
    names = {key: "+".join(fields) for fields, key in by_fields.items()}
    names["bk0_swapped"] = "last+first"
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    most = ", ".join(f"{names.get(k, 'compare')} {n:,}" for k, n in top)
    parts = (
        "link a part of the file at a time"
        if first is not None
        else "deduplicate the records in parts (a department at a time)"
    )
    raise InputError(
        f"{data.height:,} records make up to {total:,} candidate pairs to compare, more "
        f"than [engine] max_pairs ({max_pairs:,}); the passes that make most: {most}. "
        f"Comparing them would take hours and tens of GB of temporary disk: {parts}, or "
        "raise max_pairs where the machine has the time and disk (docs/benchmarks.md)"
    )


def predict(
    frames: Sequence[pl.DataFrame],
    threshold: float,
    identify: bool = False,
    max_pairs: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(pairs: id_a, id_b, probability, agreed; clusters: id[, file], cluster_id; the
    trained model, as splink saves it: empty when no pair can be made).
    The pairs are those not of two persons of one household (``not_household_sql``),
    or with ``identify`` those that identify one person (``identifies_sql``); clusters
    are made of them. ``max_pairs``: refuse (``InputError``) before any comparison when
    the blocking passes make more candidate pairs than that."""
    import duckdb
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    link = len(frames) == 2
    both = pl.concat(frames)
    if min(f.height for f in frames) == 0 or both.height < 2:  # no pair can be made
        return _alone(frames, link)
    with_keys, keys = blocking_keys(both, filled_fields(both))
    settings, filled = _model(both, "link_only" if link else "dedupe_only", keys)
    by_fields: dict[tuple[str, ...], str] = dict(
        zip([p for p in PASSES if set(p) <= filled], keys_of(keys), strict=False)
    )
    if max_pairs is not None:
        _within(with_keys, keys, by_fields, max_pairs, frames[0].height if link else None)
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
    _train(linker, by_fields, filled)
    trained = _trained(linker)
    predicted = linker.inference.predict(threshold_match_probability=threshold)
    rel = predicted.as_duckdbpyrelation()
    modelled = _gated(rel, filled, link, identify)
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
    result = pairs.sort("id_a", "id_b"), clusters.select(order).sort(order[:-1]), trained
    con.close()
    spill.cleanup()
    return result


def _train(linker: Any, by_fields: dict[tuple[str, ...], str], filled: set[str]) -> None:
    """The model trained without labels: the prior (how many pairs match at all) from
    the pairs that surely do, ``u`` from random pairs, ``m`` by expectation
    maximisation within the blocks the data allows."""
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


def _trained(linker: Any) -> dict[str, Any]:
    """The trained model as predictions use it: the prior, and for each comparison
    (``column``) its levels with ``m`` and ``u`` (splink's fallback where training
    saw no pair at a level, ``learnt`` false), ``missing`` for the null level and
    ``tf`` where the value's frequency adjusts the weight."""
    model = linker._settings_obj  # splink's public JSON leaves unlearnt levels out
    comparisons = []
    for comparison in model.comparisons:
        levels = []
        for level in comparison.comparison_levels:
            missing = bool(level.is_null_level)
            levels.append(
                {
                    "label": str(level.label_for_charts),
                    "missing": missing,
                    "m": None if missing else level.m_probability,
                    "u": None if missing else level.u_probability,
                    "learnt": not missing and bool(level._m_is_trained),
                    "tf": bool(level._has_tf_adjustments),
                }
            )
        comparisons.append({"column": str(comparison.output_column_name), "levels": levels})
    return {
        "prior": float(model._probability_two_random_records_match),
        "comparisons": comparisons,
    }


def _gated(rel: Any, filled: set[str], link: bool, identify: bool) -> Any:
    """The predicted pairs behind their gate (``identifies_sql`` with ``identify``,
    else ``not_household_sql``): ``file_a``, ``file_b``, ``id_a``, ``id_b``,
    ``probability`` and the fields that ``agreed``."""
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
    return rel.filter(gate).select(
        side.format("l", "a") + side.format("r", "b") + "unique_id_l AS id_a, unique_id_r AS id_b, "
        f"round(match_probability, 4) AS probability, {agreed} AS agreed"
    )


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


def _alone(
    frames: Sequence[pl.DataFrame], link: bool
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
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
    return pairs, clusters, {}


__all__ = ["predict"]
