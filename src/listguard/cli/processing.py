"""``listguard rnvp``, ``dedupe``, ``link``, ``enrich`` and ``profile``: data
processing on files or on the registry's contacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listguard.cli.app import Context, as_date
from listguard.cli.boundary import report_after
from listguard.cli.output import (
    err,
    print_counts,
    print_forwarded,
    progress_rows,
    progress_steps,
)
from listguard.errors import InputError

# the options the processing commands share
Maps = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="SOURCE=COLUMN",
        help="Read a column under a contacts-format name, e.g. --map Prenom=first_name "
        "--map CP=postal_code (for rnvp, address is one free-text field); a column "
        "the command has no use for is noted and left out.",
    ),
]
IdColumn = Annotated[str, typer.Option("--id", help="Column naming each row.")]
Threshold = Annotated[
    float, typer.Option(help="Match probability above which two rows are one person.")
]
Compare = Annotated[
    list[str] | None,
    typer.Option(help="Another identifier column to compare (customer number...)."),
]
PairsOut = Annotated[
    Path,
    typer.Option(
        "--out", help="Folder for pairs.csv, clusters.csv and model.md (why pairs matched)."
    ),
]


def _usable(
    maps: list[str] | None, reads: tuple[str, ...], id_column: str
) -> tuple[list[str], str]:
    """The ``--map`` options the command can use and its id column; each option naming a
    contacts-format column the command has no use for is said on standard error and
    left out (the command goes on)."""
    from listguard.processing.files import usable_maps

    usable = usable_maps(maps or [], reads, id_column)
    for note in usable.notes:
        err(f"note: {note}")
    return usable.options, usable.id_column


def rnvp(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, XLSX or Parquet file of addresses.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for addresses.csv.")],
    map_: Maps = None,
    id_column: IdColumn = "contact_id",
) -> None:
    """Restructure postal addresses to AFNOR NF Z10-011 (six lines of at most 38
    characters, postal code and city checked against La Poste's base), with a status
    per address: valid, corrected, doubtful or invalid."""
    from listguard.normalise.rnvp import INPUT
    from listguard.processing.addresses import restructure_file

    c: Context = ctx.obj
    maps, id_column = _usable(map_, INPUT, id_column)
    with progress_rows("restructuring addresses") as advance:
        report = restructure_file(
            file,
            out,
            maps,
            id_column,
            c.settings(),
            progress=advance,
        )
    print(f"{report.rows} address(es) written to {report.out}")
    for title, counts in (("status", report.statuses), ("reason", report.reasons)):
        for name, n in counts.most_common():
            print(f"  {title} {name}: {n} ({n / max(1, report.rows):.1%})")


def _linkage(
    ctx: typer.Context,
    files: list[Path],
    out: Path,
    maps: list[str] | None,
    id_column: str,
    threshold: float,
    compare: list[str] | None,
) -> None:
    from listguard.processing.linkage import READ, link_files

    c: Context = ctx.obj
    extra = tuple(x.strip().lower() for x in compare or [])
    usable, id_column = _usable(maps, (*READ, *extra), id_column)
    with progress_rows("reading") as advance:
        report = link_files(
            files,
            out,
            maps=usable,
            id_column=id_column,
            threshold=threshold,
            compare=compare or [],
            settings=c.settings(),
            progress=advance,
        )
    print(
        f"{report.records} record(s): {report.pairs} pair(s) at probability >= {threshold}, "
        f"{report.clusters} cluster(s) of {report.in_clusters} record(s); "
        f"{out / 'pairs.csv'}, {out / 'clusters.csv'} ({report.seconds:.1f} s)"
    )


def dedupe(
    ctx: typer.Context,
    out: PairsOut,
    file: Annotated[
        Path | None, typer.Argument(help="CSV, XLSX or Parquet file of contacts.")
    ] = None,
    base: Annotated[
        bool,
        typer.Option(
            "--base",
            help="Deduplicate the registry's contacts and keep the clusters: the rules "
            "then treat each as one person.",
        ),
    ] = False,
    map_: Maps = None,
    id_column: IdColumn = "contact_id",
    threshold: Threshold = 0.9,
    compare: Compare = None,
) -> None:
    """Find the rows of a file (or the registry's contacts, --base) that are the same
    person written differently: pairs with their match probability and the fields that
    agreed, and clusters."""
    if (file is None) == (not base):
        raise InputError("give a file, or --base for the registry's contacts (not both)")
    if file is not None:
        _linkage(ctx, [file], out, map_, id_column, threshold, compare)
        return
    from listguard.processing.linkage import dedupe_base

    c: Context = ctx.obj
    with progress_rows("reading the registry") as advance:
        report = dedupe_base(
            c.engine(),
            out,
            threshold=threshold,
            settings=c.settings(),
            progress=advance,
        )
    print(
        f"{report.records} contact(s): {report.clusters} person(s) held as several contacts "
        f"({report.in_clusters} contacts), kept for the rules; {out / 'pairs.csv'}, "
        f"{out / 'clusters.csv'} ({report.seconds:.1f} s)"
    )


def link(
    ctx: typer.Context,
    file_a: Annotated[Path, typer.Argument(help="First file.")],
    file_b: Annotated[Path, typer.Argument(help="Second file.")],
    out: PairsOut,
    map_: Maps = None,
    id_column: IdColumn = "contact_id",
    threshold: Threshold = 0.9,
    compare: Compare = None,
) -> None:
    """Find the persons of file A that are in file B: pairs (id_a from A, id_b from
    B) with their match probability and the fields that agreed, and clusters."""
    _linkage(ctx, [file_a, file_b], out, map_, id_column, threshold, compare)


def enrich(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The partner's client file (CSV, XLSX, Parquet).")],
    partner: Annotated[str, typer.Option("--partner", help="The partner whose file it is.")],
    out: Annotated[Path, typer.Option("--out", help="Delivery folder to create.")],
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            help="A channel to append (repeat): postal, phone, automated_call, sms, email.",
        ),
    ] = None,
    purpose: Annotated[
        str | None, typer.Option(help="The campaign's purpose (told to each person).")
    ] = None,
    order_file: Annotated[
        Path | None,
        typer.Option("--order", metavar="ORDER.toml", help="An order instead of the options."),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Delivery date (default: today).")] = None,
    campaign_start: Annotated[
        str | None, typer.Option(help="First day of the campaign (default: the delivery date).")
    ] = None,
    campaign_end: Annotated[
        str | None,
        typer.Option(help="Last day of the campaign (default: 30 days after its start)."),
    ] = None,
    call_purpose: Annotated[str, typer.Option(help="commercial, press, ...")] = "commercial",
    offer: Annotated[
        str, typer.Option(help="general, energy_renovation, home_adaptation.")
    ] = "general",
    map_: Maps = None,
    id_column: IdColumn = "contact_id",
    threshold: Annotated[
        float,
        typer.Option(
            help="Match probability a row must reach (higher than dedupe's: a false "
            "match gives a stranger someone's coordinates)."
        ),
    ] = 0.99,
) -> None:
    """Match a partner's client file against the base and append the coordinates this
    partner may lawfully receive (the rules of renting; recorded in the ledger), with a
    match probability per row and a match-rate report."""
    from listguard.processing.clusters import stale_clusters
    from listguard.processing.enrich import enrich as do_enrich
    from listguard.processing.enrich import make_order
    from listguard.processing.linkage import READ
    from listguard.renting.order import backdated, load_order
    from listguard.timeutil import today

    c: Context = ctx.obj
    if order_file is not None:
        if channel or purpose or as_of or campaign_start or campaign_end or offer != "general":
            raise InputError(
                "give either --order, or --channel and --purpose (with the dates): not both"
            )
        order = load_order(order_file)
        if order.partner != partner:
            raise InputError(
                f"the order is for partner {order.partner!r}, not {partner!r}",
                where=str(order_file),
            )
    else:
        if not channel or not purpose:
            raise InputError("name the channels (--channel) and the --purpose, or give --order")
        order = make_order(
            partner,
            channel,
            purpose,
            as_of=as_date(as_of, "--as-of") if as_of else today(),
            campaign_start=as_date(campaign_start, "--campaign-start") if campaign_start else None,
            campaign_end=as_date(campaign_end, "--campaign-end") if campaign_end else None,
            call_purpose=call_purpose,
            offer=offer,
        )
    if warning := backdated(order):
        err(f"warning: {warning}")
    maps, id_column = _usable(map_, READ, id_column)
    if warning := stale_clusters(c.engine()):
        err(f"warning: {warning}")
    from listguard.renting.leftovers import sweep

    for note in sweep(c.engine(), out):
        err(f"warning: {note}")
    with progress_steps("enriching") as step:
        report = do_enrich(
            c.engine(),
            file,
            out,
            c.settings(),
            order,
            maps=maps,
            id_column=id_column,
            threshold=threshold,
            step=step,
        )
    m, d = report.match, report.delivery

    def pct(n: int) -> str:
        return f"{n / m.rows:.1%}" if m.rows else "0%"

    with report_after(f"delivery {d.delivery_id} was recorded, in {d.out}"):
        print(
            f"{m.rows} row(s): {m.matched} matched ({pct(m.matched)}), {m.ambiguous} ambiguous "
            f"(nothing appended), {m.unmatched} not found; {m.enriched} row(s) enriched "
            f"({pct(m.enriched)}): " + ", ".join(f"{ch} {n}" for ch, n in m.appended.items())
        )
        print(
            f"delivery {d.delivery_id} to {order.partner} ({', '.join(d.packs)}): "
            f"{d.out / 'enriched.csv'} ({report.seconds:.1f} s)"
        )
        print_forwarded(d.forwarded, order.partner, d.forwarded_meanwhile, d.covered_meanwhile)
        print_counts(order.channels, d.counts, d.eligible)


def profile(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder for profile.html and .json.")],
    file: Annotated[
        Path | None, typer.Argument(help="CSV, XLSX or Parquet file of contacts.")
    ] = None,
    base: Annotated[
        bool, typer.Option("--base", help="Report on the registry's contacts instead.")
    ] = False,
    map_: Maps = None,
) -> None:
    """A quality report of a file, or of the registry's contacts (--base):
    completeness and validity per field, phone line types, email domains (mistyped,
    disposable), address statuses, exact duplicates."""
    from listguard.processing.profile import READ, profile_base, profile_file

    if (file is None) == (not base):
        raise InputError("give a file, or --base for the registry's contacts (not both)")
    with progress_rows("profiling") as advance:
        if file is not None:
            # the rows of a profile are not named: no id column
            maps, _ = _usable(map_, READ, "")
            report = profile_file(file, out, maps, progress=advance)
        else:
            c: Context = ctx.obj
            report = profile_base(c.engine(), out, progress=advance)
    print(f"{report['rows']} row(s): {out / 'profile.html'}, {out / 'profile.json'}")
    for name, f in report["fields"].items():
        valid = f", {f['valid_share_of_filled']:.1%} valid" if "valid_share_of_filled" in f else ""
        print(f"  {name}: {f['filled_share']:.1%} filled{valid}")
