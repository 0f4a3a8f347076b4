"""``listguard init``, ``import *`` and ``bloctel *``: the registry made, filled from
interchange files, and its phone numbers screened against Bloctel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from listguard.cli.app import Context, as_date
from listguard.cli.output import progress_rows

if TYPE_CHECKING:
    from listguard.imports.common import ImportReport

import_app = typer.Typer(help="Import interchange files into the registry.", no_args_is_help=True)
bloctel_app = typer.Typer(help="Bloctel screening files.", no_args_is_help=True)


def init(ctx: typer.Context) -> None:
    """Create or upgrade the registry (migrations); safe to run again."""
    from listguard.db.migrate import upgrade

    c: Context = ctx.obj
    engine = c.engine(initialised=False)
    before, after = upgrade(engine)
    if before == after:
        print(f"registry {engine.url!r} is up to date (revision {after})")
    else:
        print(f"registry {engine.url!r} upgraded from {before or 'empty'} to revision {after}")


def _print_import(report: ImportReport) -> None:
    print(
        f"{report.kind}: {report.rows_read} rows read, {report.rows_new} new, "
        f"{report.rows_changed} changed, {report.rows_unchanged} unchanged, "
        f"{report.rows_rejected} rejected"
    )
    if report.unknown_columns:
        print(f"kept as custom attributes: {', '.join(report.unknown_columns)}")
    if report.rejects_path:
        print(f"rejected rows and reasons: {report.rejects_path}")
    if report.erasure is not None:
        from listguard.erasure import erasure_lines

        print("\n".join(erasure_lines(report.erasure)))


def _import(ctx: typer.Context, kind: str, file: Path, rejects: Path | None) -> None:
    from listguard.imports import import_file

    c: Context = ctx.obj
    settings = c.settings()
    engine = c.engine()
    with progress_rows(f"importing {kind}") as advance:
        report = import_file(
            engine, kind, file, settings=settings, rejects_path=rejects, progress=advance
        )
    _print_import(report)


RejectsOpt = Annotated[
    Path | None,
    typer.Option("--rejects", help="Where to write rejected rows (default: FILE.rejects.csv)."),
]
FileArg = Annotated[Path, typer.Argument(help="CSV, XLSX or Parquet file.")]


IMPORT_HELP = {
    "contacts": "Import the owner's base; bad rows go to the rejects file.",
    "events": "Import consents, oppositions, list notices, interactions, erasures.",
    "partners": "Import partners and their listing dates.",
    "suppression": "Import suppression lists.",
}


def _import_command(kind: str) -> None:
    def command(ctx: typer.Context, file: FileArg, rejects: RejectsOpt = None) -> None:
        _import(ctx, kind, file, rejects)

    command.__doc__ = IMPORT_HELP[kind]
    import_app.command(kind)(command)


for _kind in IMPORT_HELP:
    _import_command(_kind)


@bloctel_app.command("export")
def bloctel_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="File to write (Telephone;Identifiant).")],
    as_of: Annotated[
        str | None, typer.Option(help="Screen for this delivery date (default: today).")
    ] = None,
    all_numbers: Annotated[
        bool, typer.Option("--all", help="Every French number, even those with a valid result.")
    ] = False,
) -> None:
    """Write the numbers that need screening, in Bloctel's upload format."""
    from listguard.bloctel import export_numbers
    from listguard.timeutil import today

    c: Context = ctx.obj
    day = as_date(as_of, "--as-of") if as_of else today()
    n = export_numbers(c.engine(), out, c.settings().rules, day, include_screened=all_numbers)
    print(f"{n} numbers to screen written to {out}")


@bloctel_app.command("import")
def bloctel_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Bloctel result file.")],
    screened_at: Annotated[str, typer.Option("--screened-at", help="Processing date of the file.")],
) -> None:
    """Record a Bloctel result file with its screening date."""
    from listguard.bloctel import import_result

    c: Context = ctx.obj
    report = import_result(c.engine(), file, as_date(screened_at, "--screened-at"))
    print(
        f"Bloctel result of {report.screened_at}: {report.numbers} numbers, "
        f"{report.listed} registered on Bloctel" + (" (already recorded)" if report.already else "")
    )
