"""``listguard enrich``: a partner's client file matched against the owner's base, with
the coordinates this partner may lawfully receive appended.

1. Matching: each row of the client file is compared with the registry's contacts by
   the linkage model of ``dedupe`` and ``link`` (names, birth date, email, phone,
   address). A row matches a person when the pairs at or above the threshold name
   exactly one person (a contact, or the contacts ``dedupe --base`` found to be the
   same person). A row close to two different persons is *ambiguous* and gets
   nothing: appending another person's coordinates would disclose them to a stranger.
2. Deciding: the order (partner, channels, purpose, campaign) is decided by the rules
   engine exactly as a rental, on the matched persons' contacts only (all of each
   person's contacts, so that an objection on any of them applies).
3. Delivering: the delivery is recorded in the ledger like a rental (a per-delivery
   ``contact_ref`` per person, so that oppositions reach the partner), and the folder
   holds, for the partner, ``enriched.csv`` (the client file, every row in its order,
   with the appended columns) and ``notice.txt``; for the owner, ``matches.csv`` (each
   row's match), ``decisions.csv`` and ``manifest.json`` (with the match-rate report).

A row that matched but may receive nothing looks exactly like a row that matched
nobody in the partner's file: whether someone is in the owner's base is itself
personal data, and it is not the partner's to learn.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl
from sqlalchemy import Connection, Engine, text

from listguard.config import Settings
from listguard.errors import InputError
from listguard.io.csvout import write_frame_csv
from listguard.processing.files import MappedFile, check_threshold, open_mapped, parse_maps
from listguard.processing.linkage import (
    READ,
    link_pairs,
    read_file,
    registry_frame,
)
from listguard.renting import seeds
from listguard.renting.deliver import DeliveryReport, Output, deliver
from listguard.renting.order import Order, parse_order
from listguard.rules.decision import Decision
from listguard.rules.extracts import POSTAL_FIELDS
from listguard.storage.engine import check_initialised

PREFIX = "appended_"  # the columns enrich adds to the client's file
CAMPAIGN_DAYS = 30  # the campaign assumed when none is given: consents are aged over it
# higher than deduplication's: a false match here gives a stranger someone's coordinates
DEFAULT_THRESHOLD = 0.99


@dataclass
class MatchReport:
    threshold: float
    rows: int = 0
    matched: int = 0
    ambiguous: int = 0
    unmatched: int = 0
    enriched: int = 0  # rows given at least one coordinate
    appended: dict[str, int] = field(default_factory=dict)  # channel -> rows given one

    def as_json(self) -> dict[str, Any]:
        rate = (lambda n: round(n / self.rows, 4)) if self.rows else (lambda n: 0.0)
        return {
            "threshold": self.threshold,
            "rows": self.rows,
            "matched": self.matched,
            "ambiguous": self.ambiguous,
            "unmatched": self.unmatched,
            "match_rate": rate(self.matched),
            "enriched": self.enriched,
            "enrichment_rate": rate(self.enriched),
            "rows_enriched_by_channel": self.appended,
        }


@dataclass
class EnrichReport:
    delivery: DeliveryReport
    match: MatchReport
    seconds: float


def make_order(
    partner: str,
    channels: Sequence[str],
    purpose: str,
    *,
    as_of: dt.date,
    campaign_start: dt.date | None = None,
    campaign_end: dt.date | None = None,
    call_purpose: str = "commercial",
    offer: str = "general",
) -> Order:
    """The order of an enrichment from the command's options, as the TOML a rental
    order would be (it is recorded with the delivery, and checked the same way)."""
    start = campaign_start or as_of
    end = campaign_end or start + dt.timedelta(days=CAMPAIGN_DAYS)
    body = "\n".join(
        [
            f"partner = {json.dumps(partner)}",
            f"channels = {json.dumps(list(channels))}",
            f"purpose = {json.dumps(purpose)}",
            f"call_purpose = {json.dumps(call_purpose)}",
            f"offer = {json.dumps(offer)}",
            f"campaign_start = {start.isoformat()}",
            f"campaign_end = {end.isoformat()}",
            f"as_of = {as_of.isoformat()}",
            "",
        ]
    )
    return parse_order(body, where="enrich options")


def _check_order(order: Order) -> None:
    if order.limit is not None or order.seeds or order.segment.postal_code_prefix:
        raise InputError(
            "limit, seeds and segment choose contacts of the base for a rental; an enrichment "
            "concerns the persons of the client file only: leave them out",
            where="order",
        )


def resolve(pairs: pl.DataFrame, clusters: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """Each client row's match (in the file's order): ``client_id``, ``status``
    (matched, ambiguous, no_match), ``probability`` (the best), ``contact_id`` (the best
    contact), ``person`` (the matched person: its cluster, else the contact), ``persons``
    (how many distinct persons reach the threshold) and ``agreed``."""
    candidates = (
        pairs.join(clusters, left_on="id_b", right_on="contact_id", how="left")
        .with_columns(person=pl.coalesce("cluster_id", "id_b"))
        .sort(["id_a", "probability", "id_b"], descending=[False, True, False])
    )
    per_person = candidates.group_by("id_a", "person", maintain_order=True).agg(
        pl.col("probability").first(), pl.col("id_b").first(), pl.col("agreed").first()
    )
    per_row = per_person.group_by("id_a", maintain_order=True).agg(
        pl.len().alias("persons"),
        pl.col("probability").first(),
        pl.col("id_b").first().alias("contact_id"),
        pl.col("person").first(),
        pl.col("agreed").first(),
    )
    rows = pl.DataFrame({"client_id": ids}).join(
        per_row, left_on="client_id", right_on="id_a", how="left", maintain_order="left"
    )
    status = (
        pl.when(pl.col("persons").is_null())
        .then(pl.lit("no_match"))
        .when(pl.col("persons") > 1)
        .then(pl.lit("ambiguous"))
        .otherwise(pl.lit("matched"))
    )
    return rows.select(
        "client_id",
        status.alias("status"),
        "probability",
        "contact_id",
        pl.when(status == "matched").then(pl.col("person")).alias("person"),
        pl.col("persons").fill_null(0),
        "agreed",
    )


def _clusters(engine: Engine) -> pl.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT contact_id, cluster_id FROM contact_clusters")).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"contact_id": pl.String, "cluster_id": pl.String},
        orient="row",
    )


def enrich(
    engine: Engine,
    path: Path,
    out: Path,
    settings: Settings,
    order: Order,
    *,
    maps: Sequence[str] = (),
    id_column: str = "contact_id",
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> EnrichReport:
    """Match the client file at ``path`` against the base, decide ``order`` on the
    matched persons, and write the delivery folder ``out``."""
    started = time.perf_counter()
    check_threshold(threshold)
    check_initialised(engine)
    _check_order(order)
    say = step or (lambda _msg: None)
    mapped = open_mapped(path, parse_maps(maps, READ), id_column, READ)
    clash = [c for c in mapped.tab.columns if c.startswith(PREFIX)]
    if clash:
        raise InputError(
            f"the file already has column(s) {', '.join(clash)}: enrich adds the columns "
            f"named {PREFIX}...; rename them",
            where=str(path),
        )
    say("reading the client file")
    client = read_file(mapped, [], progress)
    if client.height == 0:
        raise InputError("the file has no rows to enrich", where=str(path))
    say("reading the base")
    base = registry_frame(engine)
    say("matching")
    clusters = _clusters(engine)
    pairs = link_pairs(client, base, threshold, settings.engine.max_pairs)
    matches = resolve(pairs, clusters, client["unique_id"])
    report = MatchReport(threshold=threshold, rows=matches.height)
    counts = dict(matches["status"].value_counts().iter_rows())
    report.matched = int(counts.get("matched", 0))
    report.ambiguous = int(counts.get("ambiguous", 0))
    report.unmatched = int(counts.get("no_match", 0))
    persons = matches["person"].drop_nulls().unique()
    # every contact of a matched person: its objections apply to the others
    only = pl.concat(
        [persons, clusters.filter(pl.col("cluster_id").is_in(persons.implode()))["contact_id"]]
    ).unique()
    match_section: dict[str, Any] = {}
    output = Output(
        "enrichment",
        "enriched.csv",
        _numbering(matches),
        _writer(mapped, order.channels, matches, report, match_section),
        {"match": match_section},
    )
    delivery = deliver(engine, order, out, settings, output, only=only.to_arrow(), progress=step)
    return EnrichReport(delivery, report, time.perf_counter() - started)


def _numbering(
    matches: pl.DataFrame,
) -> Callable[[Connection, Decision, Order], int]:
    def number(_conn: Connection, decision: Decision, order: Order) -> int:
        """The eligible rows of the matched persons, no seed, and each person's rank
        ``n`` in a random order, shared by its contacts. Returns the number of persons
        given something."""
        return decision.number_persons(matches.to_arrow(), seeds.seed_table([], order.channels, 0))

    return number


def _standard_lines(found: pl.DataFrame) -> pl.DataFrame:
    """The appended address also as the six lines of NF Z10-011 (``appended_line1`` ..
    ``appended_line6``, as ``listguard rnvp`` writes them), where one is appended."""
    from listguard.normalise.rnvp import restructure

    given = found[f"{PREFIX}postal_code"].is_not_null() | found[f"{PREFIX}city"].is_not_null()
    lines = restructure(
        found.select(pl.col(f"{PREFIX}{f}").alias(f) for f in POSTAL_FIELDS)
    ).select(f"line{i}" for i in range(1, 7))
    return found.with_columns(
        pl.when(pl.lit(given)).then(lines[f"line{i}"]).alias(f"{PREFIX}line{i}")
        for i in range(1, 7)
    )


def _writer(
    mapped: MappedFile,
    channels: Sequence[str],
    matches: pl.DataFrame,
    report: MatchReport,
    section: dict[str, Any],
) -> Callable[[Decision, Path, dict[str, Any], str], list[str]]:
    def write(decision: Decision, folder: Path, params: dict[str, Any], sep: str) -> list[str]:
        """``enriched.csv`` (the client file streamed again, each batch joined with what
        is appended) and ``matches.csv`` (the owner's record of every row's match)."""
        found = cast(pl.DataFrame, pl.from_arrow(decision.appended(PREFIX, params)))
        if "postal" in channels:
            found = _standard_lines(found)
        appended = found.rename({"client_id": "lg_client_id"})
        report.enriched = appended.height
        for ch in channels:
            col = f"{PREFIX}{'postal_code' if ch == 'postal' else ch}"
            report.appended[ch] = appended.height - appended[col].null_count()
        # the client's own columns are text as the client gave it: neutralised like the
        # appended ones (io/formula.py), the appended numbers being E.164
        numbers = [f"{PREFIX}{ch}" for ch in channels if ch not in ("postal", "email")]
        with (folder / "enriched.csv").open("wb") as f:
            f.write("\ufeff".encode())
            first = True
            for frame in mapped.raw_batches():
                joined = (
                    frame.with_columns(mapped.ids(frame).alias("lg_client_id"))
                    .join(appended, on="lg_client_id", how="left", maintain_order="left")
                    .drop("_line", "lg_client_id")
                )
                write_frame_csv(f, joined, sep, header=first, numbers=numbers)
                first = False
        enriched = pl.col("client_id").is_in(appended["lg_client_id"].implode())
        with (folder / "matches.csv").open("wb") as f:
            f.write("\ufeff".encode())
            write_frame_csv(
                f,
                matches.select(
                    pl.col("client_id").alias(mapped.id_column),
                    "status",
                    "probability",
                    "contact_id",
                    "persons",
                    "agreed",
                    pl.when(enriched).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("enriched"),
                ),
                sep,
                header=True,
            )
        section.update(report.as_json())
        return ["enriched.csv", "matches.csv"]

    return write


__all__ = [
    "CAMPAIGN_DAYS",
    "DEFAULT_THRESHOLD",
    "EnrichReport",
    "MatchReport",
    "enrich",
    "make_order",
    "resolve",
]
