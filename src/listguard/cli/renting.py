"""``listguard rent``, ``check`` and ``seeds trace``: deliveries to partners, one
decision explained, and the control addresses planted in them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from listguard.cli.app import Context, as_date
from listguard.cli.boundary import report_after
from listguard.cli.output import err, print_counts, print_forwarded, progress_steps
from listguard.errors import InputError


def rent(
    ctx: typer.Context,
    order_file: Annotated[Path, typer.Argument(metavar="ORDER.toml", help="The partner's order.")],
    out: Annotated[Path, typer.Option("--out", help="Delivery folder to create.")],
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Print the time each step of the decision took.")
    ] = False,
) -> None:
    """Decide every coordinate, write the delivery folder, record the delivery."""
    from listguard.storage.reading import prepare_reading

    c: Context = ctx.obj
    # the registry's reading starts getting ready while this command loads what it needs
    with prepare_reading(c.db):
        from listguard.processing.clusters import stale_clusters
        from listguard.renting.deliver import rent as do_rent
        from listguard.renting.leftovers import sweep
        from listguard.renting.order import backdated, load_order

        order = load_order(order_file)
        if warning := backdated(order):
            err(f"warning: {warning}")
        settings = c.settings()
        engine = c.engine()
        if warning := stale_clusters(engine):
            err(f"warning: {warning}")
        for note in sweep(engine, out):
            err(f"warning: {note}")
        with progress_steps("renting") as step:
            report = do_rent(engine, order, out, settings, progress=step)
    with report_after(f"delivery {report.delivery_id} was recorded, in {report.out}"):
        print(
            f"delivery {report.delivery_id} to {order.partner} ({', '.join(report.packs)}): "
            f"{report.contacts_delivered} contacts in {report.out}"
        )
        print_forwarded(
            report.forwarded, order.partner, report.forwarded_meanwhile, report.covered_meanwhile
        )
        print_counts(order.channels, report.counts, report.eligible)
        if verbose:
            print_timings(report.timings)


def check(
    ctx: typer.Context,
    contact_id: Annotated[str, typer.Argument(metavar="CONTACT_ID")],
    channel: Annotated[str, typer.Option("--channel", help="Channel.")],
    partner: Annotated[
        str | None, typer.Option("--partner", help="Partner id (default: the delivery's).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Delivery date (default: today).")] = None,
    campaign_start: Annotated[
        str | None, typer.Option(help="First day of the campaign (default: the delivery date).")
    ] = None,
    campaign_end: Annotated[
        str | None, typer.Option(help="Last day of the campaign (default: the delivery date).")
    ] = None,
    call_purpose: Annotated[
        str | None, typer.Option(help="commercial (default), press, public_service, ...")
    ] = None,
    offer: Annotated[
        str | None, typer.Option(help="general (default), energy_renovation, home_adaptation.")
    ] = None,
    delivery: Annotated[
        int | None,
        typer.Option(help="Explain this past delivery's row, under its order as recorded."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Print the time each step of the decision took.")
    ] = False,
) -> None:
    """Explain one decision as `rent` takes it, with each reason's legal source."""
    from listguard.renting.check_order import CheckOptions
    from listguard.rules.check import explanation

    c: Context = ctx.obj
    options = CheckOptions(
        partner=partner,
        channel=channel,
        as_of=as_date(as_of, "--as-of") if as_of else None,
        campaign_start=as_date(campaign_start, "--campaign-start") if campaign_start else None,
        campaign_end=as_date(campaign_end, "--campaign-end") if campaign_end else None,
        call_purpose=call_purpose,
        offer=offer,
        delivery=delivery,
    )
    explained = explanation(c.engine(), c.settings(), contact_id, options)
    print(explained.text)
    if verbose:
        print_timings(explained.timings)


def print_timings(timings: Sequence[tuple[str, float]]) -> None:
    """``--verbose``: the time each step of the decision took, on standard error."""
    from listguard.rules.decision import timing_lines

    for line in timing_lines(timings):
        err(line)


seeds_app = typer.Typer(help="Control addresses planted in rented files.")


@seeds_app.command("trace")
def seeds_trace(
    ctx: typer.Context,
    what: Annotated[
        str, typer.Argument(help="A seed_id, or a seed's email, phone number or name as received.")
    ],
) -> None:
    """List the deliveries that carried a seed: the partners a misuse points at."""
    from rich.console import Console
    from rich.table import Table

    from listguard.renting.seeds import trace

    c: Context = ctx.obj
    with c.engine().connect() as conn:
        found = trace(conn, what)
    if not found:
        raise InputError("no delivery carried a seed matching this", where=what)
    table = Table("delivery", "partner", "delivered on", "seed", "contact_ref", "matched on")
    for t in found:
        table.add_row(
            str(t.delivery_id), t.partner_id, t.delivered_on, t.seed_id, t.contact_ref, t.matched
        )
    Console().print(table)
