"""``listguard calls``: on the partner side, may this number be called now (décret
n° 2022-1313, D223-9), the deliveries received and the calls made."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from listguard.errors import InputError

if TYPE_CHECKING:
    from listguard.cli.app import Context

calls_app = typer.Typer(
    help="The partner side: may a number be called now; deliveries received; calls made.",
    no_args_is_help=True,
)


def e164(number: str, where: str = "NUMBER") -> str:
    """The number in E.164, or a clear refusal."""
    from listguard.calls.check import as_e164

    value = as_e164(number)
    if value is None:
        raise InputError(f"{number!r} is not a phone number", where=where)
    return value


@calls_app.command("check")
def calls_check(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The number to call, in any usual form.")],
    at: Annotated[
        str | None,
        typer.Option(
            help="When the call would be made, ISO 8601 with its zone "
            "(2026-12-07T10:30:00+01:00 or ...Z); default now."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """May NUMBER be called at --at? Exit 0 when it may, 3 when it may not, with every
    reason (not delivered, opposition, hours, holiday, 30-day limit...)."""
    from listguard.calls.check import check
    from listguard.calls.log import parse_at

    c: Context = ctx.obj
    if fmt not in ("text", "json"):
        raise InputError(f"unknown format {fmt!r}: expected text or json", where="--format")
    when = parse_at(at) if at is not None else dt.datetime.now(tz=dt.UTC)
    value = e164(number)
    with c.engine().connect() as conn:
        answer = check(conn, value, when)
    if fmt == "json":
        print(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2))
    else:
        place = answer.territory
        local = (
            f" ({place.name}, {answer.local:%Y-%m-%d %H:%M} {place.zone.key})"
            if place and answer.local
            else ""
        )
        print(f"{value}{local}: {'may be called' if answer.allowed else 'may NOT be called'}")
        for code, message in answer.reasons:
            print(f"  {code}: {message}")
    if not answer.allowed:
        raise typer.Exit(3)


@calls_app.command("log")
def calls_log(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, xlsx or Parquet: number, at, outcome.")],
) -> None:
    """Record the calls or attempts made (outcome: attempt, answered or refused). A file
    with one bad row records nothing; importing it again adds nothing."""
    from listguard.calls.log import import_log

    c: Context = ctx.obj
    done = import_log(c.engine(), file)
    print(f"{done.rows} rows, {done.recorded} calls or attempts recorded")


@calls_app.command("receive")
def calls_receive(
    ctx: typer.Context,
    delivery: Annotated[Path, typer.Argument(help="The delivery folder, or its contacts.csv.")],
    source: Annotated[str, typer.Option(help="The owner it came from (a short name).")],
    until: Annotated[
        str | None,
        typer.Option(help="The campaign's last day (YYYY-MM-DD), as the notice gives it."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The delivery's name (default: its folder's).")
    ] = None,
) -> None:
    """Record the numbers of a delivery received, so that `calls check` knows them."""
    from listguard.calls.log import receive

    c: Context = ctx.obj
    last = None
    if until is not None:
        try:
            last = dt.date.fromisoformat(until)
        except ValueError:
            raise InputError(
                f"{until!r}: expected a date such as 2027-01-31", where="--until"
            ) from None
    done = receive(c.engine(), delivery, source, last, name)
    print(f"delivery {done.delivery}: {done.numbers} numbers to call")
