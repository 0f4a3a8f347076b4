"""``listguard oppose``, ``worker``, ``oppositions status`` and ``inbound *``:
oppositions recorded, forwarded to the partners, and received from other owners."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listguard.cli.app import Context, one_person
from listguard.cli.output import err
from listguard.errors import InputError


def oppose(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option("--channel", help="Channel, or all.")],
    contact: Annotated[str | None, typer.Option("--contact", help="Contact id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone number.")] = None,
    last_name: Annotated[
        str | None, typer.Option("--last-name", help="Or by name and postal address: last name.")
    ] = None,
    first_name: Annotated[str, typer.Option("--first-name", help="First name.")] = "",
    street: Annotated[str, typer.Option("--street", help="Number and street.")] = "",
    postal_code: Annotated[str, typer.Option("--postal-code", help="Postal code.")] = "",
    city: Annotated[str, typer.Option("--city", help="Town.")] = "",
    scope: Annotated[str, typer.Option(help="partners, own, all or partner:<id>.")] = "all",
    via: Annotated[str, typer.Option(help="How it was received.")] = "api",
) -> None:
    """Record an opposition; it excludes the person from every later rental at once.
    The person is named by contact id, email, phone, or name and postal address (a
    letter): every contact of that name at that address."""
    from listguard.domain.retention import Retention
    from listguard.oppositions import PostalAddress, record_opposition, record_postal_opposition

    c: Context = ctx.obj
    engine = c.engine()
    retention = Retention.of(c.settings())
    if last_name is not None:
        if contact or email or phone:
            raise InputError("name the person by name and address, or by one identifier: not both")
        recorded = record_postal_opposition(
            engine,
            PostalAddress(last_name, street, postal_code, city, first_name),
            channel=channel,
            scope=scope,
            via=via,
            retention=retention,
        )
    else:
        one_person(contact, email, phone)
        recorded = record_opposition(
            engine,
            channel=channel,
            scope=scope,
            via=via,
            contact_id=contact,
            email=email,
            phone=phone,
            retention=retention,
        )
    print(
        f"opposition recorded ({channel}, {scope}); it covers {recorded.covered} contact(s) "
        f"in the base; {recorded.messages} message(s) queued for the partners holding them"
    )


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then exit.")] = False,
    drop_folder: Annotated[
        Path | None,
        typer.Option(
            "--drop-folder",
            help="Folder of CSV files for partners without a webhook (one sub-folder each).",
        ),
    ] = None,
    poll: Annotated[float, typer.Option(help="Seconds between rounds.")] = 1.0,
) -> None:
    """Send the queued messages to the partners (webhooks, email digests, file drop)."""
    import signal
    import threading

    from listguard.propagation.transports.routing import Transports
    from listguard.propagation.transports.webhook import WebhookTransport
    from listguard.propagation.worker import run_forever, run_once
    from listguard.rights_requests import forget_answered

    c: Context = ctx.obj
    engine = c.engine()
    # what a closed rights request no longer needs (its answer, the person's address or
    # number) is forgotten at each worker start and each --once round, not only when
    # the back office lists the requests
    forget_answered(engine)
    settings = c.settings()  # before the webhook transport: it follows the settings
    webhook = WebhookTransport()
    transports = Transports.from_settings(settings, webhook, drop_folder)
    try:
        if once:
            report = run_once(engine, transports)
            print(
                f"{report.sent} sent, {report.retried} to retry, {report.failed} failed, "
                f"{report.waiting} waiting for a transport"
            )
            for line in report.errors:
                err(f"  {line}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print("worker running; Ctrl-C to stop")
        try:
            run_forever(engine, transports, stop, poll, warn=err)
        except KeyboardInterrupt:
            stop.set()
    finally:
        webhook.close()


oppositions_app = typer.Typer(help="Messages forwarding oppositions to partners.")


@oppositions_app.command("status")
def oppositions_status(
    ctx: typer.Context,
    overdue_hours: Annotated[
        float, typer.Option(help="Not acknowledged after this many hours: overdue.")
    ] = 24.0,
) -> None:
    """Messages per partner and status, and how many are overdue."""
    from listguard.propagation.status import status

    c: Context = ctx.obj
    lines = status(c.engine(), int(overdue_hours * 3600))
    if not lines:
        print("no message queued")
        return
    print(f"{'partner':<12} {'status':<13} {'messages':>8} {'overdue':>8}")
    for line in lines:
        print(f"{line.partner_id:<12} {line.status:<13} {line.messages:>8} {line.overdue:>8}")


inbound_app = typer.Typer(
    help="The partner side: messages received from owners that run listguard."
)


@inbound_app.command("add")
def inbound_add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A short name for the owner (in the URL).")],
    secret_env: Annotated[
        str,
        typer.Option(help="Environment variable holding the signing key the owner gave."),
    ],
    list_name: Annotated[
        str | None,
        typer.Option("--list", help="Suppression list (default opposition:<source>)."),
    ] = None,
) -> None:
    """Accept an owner's signed messages at /api/v1/inbound/<source> of `serve`."""
    import os

    from listguard.inbound import add_source

    c: Context = ctx.obj
    secret = os.environ.get(secret_env, "")
    if not secret:
        raise InputError(f"the environment variable {secret_env} is empty or not set")
    chosen = add_source(c.engine(), source, secret, list_name)
    settings = c.settings()
    base = settings.web.public_url or "http://127.0.0.1:8000"
    print(f"source {source}: oppositions go to the list {chosen}")
    print(f"give the owner this webhook address: {base}/api/v1/inbound/{source}")


@inbound_app.command("ack")
def inbound_ack(ctx: typer.Context) -> None:
    """Tell the owners the messages applied but not acknowledged yet (their server was
    unreachable when they were received)."""
    from listguard.inbound import acknowledge_pending

    c: Context = ctx.obj
    report = acknowledge_pending(c.engine())
    print(f"{report.acknowledged} acknowledged, {report.failed} failed")
    for line in report.errors or []:
        err(f"  {line}")
    if report.failed:
        raise typer.Exit(1)
