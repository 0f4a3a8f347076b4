"""``listguard rnvp``: the addresses of any file restructured to NF Z10-011."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from listguard.config import Settings
from listguard.io.csvout import CsvWriter
from listguard.normalise.reference import COLUMNS as ENRICHED
from listguard.normalise.reference import enrich
from listguard.normalise.rnvp import INPUT, OUTPUT, restructure
from listguard.processing.files import open_mapped, parse_maps


@dataclass
class AddressReport:
    rows: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    out: Path | None = None


def restructure_file(
    path: Path,
    out_dir: Path,
    maps: Sequence[str] = (),
    id_column: str = "contact_id",
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
) -> AddressReport:
    """Write ``out_dir/addresses.csv``: the id, the six lines and the checked postal code,
    city and INSEE code, status, changes and reason of every row, in the file's order,
    then the civility (given, or from the first name) and the département and région.
    Streams the file; the output appears whole or not at all, written as ``settings``
    say (by default the default settings)."""
    delimiter = (settings or Settings()).output.csv_delimiter
    mapped = open_mapped(path, parse_maps(maps, INPUT), id_column, INPUT)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "addresses.csv"
    report = AddressReport(out=target)
    writer = CsvWriter(target, [mapped.id_column, *OUTPUT, *ENRICHED], delimiter)
    try:
        for frame, ids in mapped.batches():
            done = restructure(frame)
            extra = enrich(
                pl.concat(
                    [
                        frame.select([c for c in ("civility", "first_name") if c in frame.columns]),
                        done.select("insee", "postal_code"),
                    ],
                    how="horizontal",
                )
            )
            rows = pl.concat([done.insert_column(0, ids), extra], how="horizontal")
            writer.write_frame(rows)
            report.rows += frame.height
            report.statuses.update(done["status"].to_list())
            report.reasons.update(r for r in done["reason"].to_list() if r)
            report.changes.update(
                c for cs in done["changes"].to_list() if cs for c in cs.split(";")
            )
            if progress is not None:
                progress(frame.height)
    except BaseException:
        writer.discard()
        raise
    writer.close()
    return report


__all__ = ["AddressReport", "restructure_file"]
