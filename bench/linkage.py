"""Deduplication and linkage accuracy on public data with known truth (FEBRL).

    python -m bench.linkage

FEBRL 3 (5,000 records, deduplication) and FEBRL 4 (two files of 5,000, linking),
as shipped with the ``recordlinkage`` package. Three tools on the same data, each
unsupervised, each with a reasonable configuration written for these fields, run
twice: with the social security number (an identifier) and without it, as most
contact files come:

- listguard: ``listguard dedupe`` / ``link`` with default options (a child process,
  end to end, CSV in and out) on the files written in the contacts format as a user
  would map them (given name, surname, date of birth, street number and street,
  locality as ``address_line5``, suburb as city, postcode), with ``--compare
  soc_sec_id`` or without it;
- splink, on its own, configured as its FEBRL example configures it (names with
  term frequencies, date of birth, street number, postcode; blocking on both names,
  swapped names, date of birth, street, postcode; and the identifier);
- recordlinkage: multi-pass blocking (given name, surname, date of birth,
  postcode), string and exact comparisons, its ECM classifier.

Precision, recall and F1 are over pairs (a true pair is two records of the same
person). Needs ``pip install splink recordlinkage`` (not listguard dependencies).
Prints Markdown.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.common import OUT, listguard


def _score(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1


def _pairs(pairs: Any) -> set[tuple[str, str]]:
    return {(a, b) if a < b else (b, a) for a, b in pairs}


def _contacts(frame: Any, path: Path) -> Path:
    """A FEBRL file in the contacts format (and its soc_sec_id, compared only when named
    with ``--compare``), as a user would map it."""
    df = pl.from_pandas(frame.reset_index())
    df.select(
        pl.col("rec_id").alias("contact_id"),
        pl.col("given_name").alias("first_name"),
        pl.col("surname").alias("last_name"),
        pl.col("date_of_birth").alias("birth_date"),
        pl.concat_str(
            [pl.col("street_number").fill_null(""), pl.col("address_1").fill_null("")],
            separator=" ",
        ).alias("address_line4"),
        pl.col("address_2").alias("address_line5"),
        pl.col("postcode").alias("postal_code"),
        pl.col("suburb").alias("city"),
        pl.col("soc_sec_id"),
    ).write_csv(path, separator=";")
    return path


def _listguard(
    files: list[Path], out: Path, identifier: bool
) -> tuple[set[tuple[str, str]], float]:
    command = "dedupe" if len(files) == 1 else "link"
    compare = ["--compare", "soc_sec_id"] if identifier else []
    run = listguard(
        command,
        *map(str, files),
        "--out",
        str(out),
        *compare,
        db=f"sqlite:///{out.parent / 'unused.db'}",
    )
    with (out / "pairs.csv").open(encoding="utf-8-sig") as f:
        found = _pairs((r["id_a"], r["id_b"]) for r in csv.DictReader(f, delimiter=";"))
    return found, run.seconds


def _splink(frames: list[Any], identifier: bool) -> tuple[set[tuple[str, str]], float]:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI
    from splink.blocking_rule_library import CustomRule

    start = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only" if len(frames) == 1 else "link_only",
        unique_id_column_name="rec_id",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            *([cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2])] if identifier else []),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            CustomRule("l.given_name = r.surname AND l.surname = r.given_name"),
            block_on("date_of_birth"),
            *([block_on("soc_sec_id")] if identifier else []),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
    )
    api = DuckDBAPI()
    tables = [
        api.register(pl.from_pandas(f.reset_index()).to_arrow(), dataset_display_name=f"t{i}")
        for i, f in enumerate(frames)
    ]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    predicted = linker.inference.predict(threshold_match_probability=0.9)
    rows = predicted.as_duckdbpyrelation().select("rec_id_l, rec_id_r").fetchall()
    return _pairs(rows), time.perf_counter() - start


def _recordlinkage(frames: list[Any], identifier: bool) -> tuple[set[tuple[str, str]], float]:
    import recordlinkage

    start = time.perf_counter()
    index = recordlinkage.Index()
    for field in ("given_name", "surname", "date_of_birth", "postcode"):
        index.block(field)
    candidates = index.index(*frames)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.exact("suburb", "suburb")
    compare.exact("state", "state")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85)
    compare.exact("postcode", "postcode")
    if identifier:
        compare.exact("soc_sec_id", "soc_sec_id")
    features = compare.compute(candidates, *frames)
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    return _pairs(matches.to_list()), time.perf_counter() - start


def main() -> None:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    folder = OUT / "linkage"
    folder.mkdir(parents=True, exist_ok=True)
    febrl3, links3 = load_febrl3(return_links=True)
    a, b, links4 = load_febrl4(return_links=True)
    tasks = [
        ("FEBRL 3 (deduplicate 5,000)", [febrl3], _pairs(links3.to_list())),
        ("FEBRL 4 (link 5,000 to 5,000)", [a, b], _pairs(links4.to_list())),
    ]
    print("| data | identifier | tool | pairs | precision | recall | F1 | time |")
    print("|---|---|---|---|---|---|---|---|")
    for label, frames, truth in tasks:
        files = [
            _contacts(f, folder / f"{label[:7].replace(' ', '')}-{i}.csv")
            for i, f in enumerate(frames)
        ]
        for identifier in (True, False):
            for tool in ("listguard", "splink", "recordlinkage"):
                if tool == "listguard":
                    found, seconds = _listguard(files, folder / "out", identifier)
                elif tool == "splink":
                    found, seconds = _splink(frames, identifier)
                else:
                    found, seconds = _recordlinkage(frames, identifier)
                p, r, f1 = _score(found, truth)
                print(
                    f"| {label} | {'soc_sec_id' if identifier else 'none'} | {tool} | "
                    f"{len(found):,} | {p:.4f} | {r:.4f} | {f1:.4f} | {seconds:.1f} s |"
                )


if __name__ == "__main__":
    main()
