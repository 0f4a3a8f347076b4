"""Deduplication and linkage run end to end: one file deduplicated or two linked
(``pairs.csv`` and ``clusters.csv``, and the model that scored them in ``model.json``
and ``model.md``), the registry's contacts deduplicated (and their
clusters stored for the rules), and the pairs that identify one person for
``enrich``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine

from listguard import audit
from listguard.config import Settings
from listguard.errors import InputError
from listguard.io.csvout import CsvWriter
from listguard.processing.files import (
    MappedFile,
    check_threshold,
    open_mapped,
    parse_maps,
    registry_table,
)
from listguard.processing.linkage.fields import READ, prepare
from listguard.processing.linkage.model import predict
from listguard.processing.linkage.report import model_report, write_report
from listguard.storage.open import open_storage
from listguard.timeutil import now_ts

DEFAULT_THRESHOLD = 0.9
CLUSTER_ROWS = pa.schema(
    [("contact_id", pa.string()), ("cluster_id", pa.string()), ("computed_at", pa.int64())]
)


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
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
) -> LinkageReport:
    """Deduplicate one file, or link two: ``pairs.csv`` and ``clusters.csv`` in
    ``out_dir`` (written as ``settings`` say, by default the default settings)."""
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
    settings = settings or Settings()
    pairs, clusters, model = predict(frames, threshold, max_pairs=settings.engine.max_pairs)
    records = sum(f.height for f in frames)
    report = _written(pairs, clusters, out_dir, settings, records, started)
    write_report(out_dir, model_report(model, threshold, records))
    return report


def _written(
    pairs: pl.DataFrame,
    clusters: pl.DataFrame,
    out_dir: Path,
    settings: Settings,
    records: int,
    started: float,
) -> LinkageReport:
    """Write ``pairs.csv`` and ``clusters.csv``, each whole or not at all; the counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = [
        (out_dir / "pairs.csv", ["id_a", "id_b", "probability", "agreed"], pairs),
        (out_dir / "clusters.csv", clusters.columns, clusters),
    ]
    for path, header, rows in writers:
        writer = CsvWriter(path, header, settings.output.csv_delimiter)
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


def link_pairs(
    a: pl.DataFrame, b: pl.DataFrame, threshold: float, max_pairs: int | None = None
) -> pl.DataFrame:
    """The pairs of a row of ``a`` and a row of ``b`` (prepared) at ``threshold`` or
    above that identify one person (``identifies_sql``): ``id_a``, ``id_b``,
    ``probability``, ``agreed``. ``max_pairs``: as ``predict``."""
    return predict([a, b], threshold, identify=True, max_pairs=max_pairs)[0]


def dedupe_base(
    engine: Engine,
    out_dir: Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
) -> LinkageReport:
    """The registry's current contacts deduplicated: the files as for a file, and the
    clusters of two or more contacts stored in ``contact_clusters`` (replacing the
    previous ones, in one transaction), where the rules treat each as one person."""
    check_threshold(threshold)
    started = time.perf_counter()
    now = now_ts()  # the clusters are those of the contacts as read from here on
    data = registry_frame(engine, progress)
    settings = settings or Settings()
    pairs, clusters, model = predict([data], threshold, max_pairs=settings.engine.max_pairs)
    report = _written(pairs, clusters, out_dir, settings, data.height, started)
    write_report(out_dir, model_report(model, threshold, data.height))
    grouped = (
        clusters.filter(pl.len().over("cluster_id") > 1)
        .select(contact_id=pl.col("id"), cluster_id="cluster_id", computed_at=pl.lit(now, pl.Int64))
        .to_arrow()
    )
    # in bulk through the storage (SQLite's writer, PostgreSQL's COPY), in one transaction
    with open_storage(engine).transaction() as tx:
        tx.execute("DELETE FROM contact_clusters")
        tx.ingest("contact_clusters", grouped, CLUSTER_ROWS)
        detail = {
            "threshold": threshold,
            "clusters": report.clusters,
            "contacts": report.in_clusters,
        }
        audit.append_through(tx, "clusters_computed", None, detail, now)
    return report


__all__ = [
    "DEFAULT_THRESHOLD",
    "LinkageReport",
    "dedupe_base",
    "link_files",
    "link_pairs",
    "read_file",
    "registry_frame",
]
