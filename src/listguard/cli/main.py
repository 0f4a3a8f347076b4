"""``listguard`` commands. Heavy libraries are imported inside commands, so ``--help`` is fast."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from listguard.cli.boundary import operational_errors, report_after, terminated_as_exit
from listguard.cli.calls import calls_app
from listguard.cli.output import (
    err,
    print_counts,
    print_forwarded,
    progress_rows,
    progress_steps,
)
from listguard.errors import InputError, ListguardError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from listguard.config import Settings
    from listguard.imports.common import ImportReport

app = typer.Typer(
    help="Lawful rental of contact files: registry, rules, Bloctel, deliveries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
import_app = typer.Typer(help="Import interchange files into the registry.", no_args_is_help=True)
bloctel_app = typer.Typer(help="Bloctel screening files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(bloctel_app, name="bloctel")


class Context:
    """The command's registry and settings, each made once however often a command
    asks for them."""

    def __init__(self, db: str | None, config: str | None) -> None:
        self.db = db
        self.config = config
        self._engine: Engine | None = None
        self._checked = False
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        from listguard.config import load_settings

        if self._settings is None:
            self._settings = load_settings(self.config)
            if self._settings.propagation.allow_private_endpoints:
                from listguard import netguard

                netguard.allow_private_endpoints(True)
                err(netguard.PRIVATE_WARNING)
        return self._settings

    def engine(self, *, initialised: bool = True) -> Engine:
        from listguard.db.engine import check_initialised, make_engine

        if self._engine is None:
            self._engine = make_engine(self.db)
        if initialised and not self._checked:
            check_initialised(self._engine)
            self._checked = True
        return self._engine


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            help="Registry URL (default: $LISTGUARD_DATABASE_URL or sqlite:///listguard.db)."
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Settings file, TOML (default: $LISTGUARD_CONFIG)."),
    ] = None,
) -> None:
    ctx.obj = Context(db, config)


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be a date such as 2026-11-28, got {value!r}") from None


@app.command()
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
    from listguard.domain.retention import Retention
    from listguard.imports import import_file

    c: Context = ctx.obj
    settings = c.settings()
    engine = c.engine()
    with progress_rows(f"importing {kind}") as advance:
        report = import_file(
            engine,
            kind,
            file,
            rejects_path=rejects,
            progress=advance,
            delimiter=settings.output.csv_delimiter,
            retention=Retention.of(settings),
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
    day = _date(as_of, "--as-of") if as_of else today()
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
    report = import_result(c.engine(), file, _date(screened_at, "--screened-at"))
    print(
        f"Bloctel result of {report.screened_at}: {report.numbers} numbers, "
        f"{report.listed} registered on Bloctel" + (" (already recorded)" if report.already else "")
    )


@app.command()
def rent(
    ctx: typer.Context,
    order_file: Annotated[Path, typer.Argument(metavar="ORDER.toml", help="The partner's order.")],
    out: Annotated[Path, typer.Option("--out", help="Delivery folder to create.")],
) -> None:
    """Decide every coordinate, write the delivery folder, record the delivery."""
    from listguard.db.ahead import reader_ahead

    c: Context = ctx.obj
    # the registry's reading child starts while this command loads what it needs
    with reader_ahead(c.db):
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


@app.command()
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
) -> None:
    """Explain one decision as `rent` takes it, with each reason's legal source."""
    from listguard.renting.check_order import CheckOptions
    from listguard.rules.check import explain

    c: Context = ctx.obj
    options = CheckOptions(
        partner=partner,
        channel=channel,
        as_of=_date(as_of, "--as-of") if as_of else None,
        campaign_start=_date(campaign_start, "--campaign-start") if campaign_start else None,
        campaign_end=_date(campaign_end, "--campaign-end") if campaign_end else None,
        call_purpose=call_purpose,
        offer=offer,
        delivery=delivery,
    )
    print(explain(c.engine(), c.settings(), contact_id, options))


def _one_person(contact: str | None, email: str | None, phone: str | None) -> None:
    if sum(x is not None for x in (contact, email, phone)) != 1:
        raise InputError("name the person with exactly one of --contact, --email or --phone")


@app.command()
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
        _one_person(contact, email, phone)
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


@app.command()
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

    from listguard.propagation import Transports, WebhookTransport, run_forever, run_once

    c: Context = ctx.obj
    engine = c.engine()
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
app.add_typer(oppositions_app, name="oppositions")


@oppositions_app.command("status")
def oppositions_status(
    ctx: typer.Context,
    overdue_hours: Annotated[
        float, typer.Option(help="Not acknowledged after this many hours: overdue.")
    ] = 24.0,
) -> None:
    """Messages per partner and status, and how many are overdue."""
    from listguard.propagation import status

    c: Context = ctx.obj
    lines = status(c.engine(), int(overdue_hours * 3600))
    if not lines:
        print("no message queued")
        return
    print(f"{'partner':<12} {'status':<13} {'messages':>8} {'overdue':>8}")
    for line in lines:
        print(f"{line.partner_id:<12} {line.status:<13} {line.messages:>8} {line.overdue:>8}")


rights_app = typer.Typer(help="The rights of the person (GDPR).")
app.add_typer(rights_app, name="rights")


@rights_app.command("access")
def rights_access(
    ctx: typer.Context,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone number.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text (French) or json.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
) -> None:
    """Everything held about a person: data, versions, choices, deliveries (art. 15)."""
    import json

    from listguard.rights import access_report, access_text

    c: Context = ctx.obj
    _one_person(contact, email, phone)
    if fmt not in ("text", "json"):
        raise InputError(f"unknown format {fmt!r}: expected text or json")
    report = access_report(c.engine(), contact_id=contact, email=email, phone=phone)
    body = (
        json.dumps(report, ensure_ascii=False, indent=2) + "\n"
        if fmt == "json"
        else access_text(report, c.settings().owner.name)
    )
    if out is None:
        print(body, end="")
    else:
        out.write_text(body, encoding="utf-8")
        print(f"access report written to {out}")


@rights_app.command("erase")
def rights_erase(
    ctx: typer.Context,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone number.")] = None,
    via: Annotated[str, typer.Option(help="How the request was received.")] = "api",
) -> None:
    """Erase a person: tell the partners, delete their data, refuse them on import (art. 17)."""
    from listguard.domain.retention import Retention
    from listguard.erasure import folder_lines
    from listguard.rights import erase

    c: Context = ctx.obj
    _one_person(contact, email, phone)
    done = erase(
        c.engine(),
        contact_id=contact,
        email=email,
        phone=phone,
        via=via,
        retention=Retention.of(c.settings()),
    )
    print(
        f"erased: {done.contacts} contact record(s) deleted; {done.messages} message(s) queued "
        "for the partners that received them"
    )
    print("\n".join(folder_lines(done.folders)))


@rights_app.command("rectify")
def rights_rectify(
    ctx: typer.Context,
    contact: Annotated[str, typer.Option("--contact", help="Contact id.")],
    values: Annotated[
        list[str],
        typer.Argument(
            metavar="FIELD=VALUE...", help="Corrected values, e.g. last_name=Dupont email=..."
        ),
    ],
    via: Annotated[str, typer.Option(help="How the request was received.")] = "letter",
) -> None:
    """Correct a person's data and tell the partners that received it (art. 16 and 19)."""
    from listguard.domain.retention import Retention
    from listguard.rights import rectify

    c: Context = ctx.obj
    changes: dict[str, str] = {}
    for value in values:
        field, sep, new = value.partition("=")
        if not sep or not field.strip():
            raise InputError(f"{value!r}: expected FIELD=VALUE")
        changes[field.strip()] = new
    done = rectify(
        c.engine(),
        contact,
        changes,
        via=via,
        retention=Retention.of(c.settings()),
    )
    if not done.changed:
        print("nothing changed: the registry already holds these values")
        return
    print(
        f"rectified: {', '.join(done.changed)}; {done.messages} message(s) queued for the "
        "partners that received them"
    )


audit_app = typer.Typer(help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    published: Annotated[
        str | None,
        typer.Option(
            "--published",
            help="A head COUNT:HASH printed by an earlier run and kept outside the registry: "
            "the log must still hold that entry, unchanged.",
        ),
    ] = None,
) -> None:
    """Check that no entry of the audit log was altered or removed; print its head."""
    from listguard.audit import parse_head, verify

    c: Context = ctx.obj
    result = verify(c.engine(), parse_head(published) if published is not None else None)
    if result.ok:
        print(f"audit log intact: {result.entries} entries")
        # published outside the registry, the head holds the log to at least these entries
        print(f"head: {result.entries}:{result.head}")
        return
    raise InputError(f"audit log broken: {result.problem} ({result.entries} entries check out)")


seeds_app = typer.Typer(help="Control addresses planted in rented files.")
app.add_typer(seeds_app, name="seeds")


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


@app.command("partner-secret")
def partner_secret_command(
    ctx: typer.Context, partner: Annotated[str, typer.Argument(help="Partner id.")]
) -> None:
    """Print the key the partner's webhooks are signed with (made on first use)."""
    from listguard.propagation import partner_secret

    c: Context = ctx.obj
    with c.engine().begin() as conn:
        print(partner_secret(conn, partner))


@app.command("partner-endpoint")
def partner_endpoint_command(
    ctx: typer.Context,
    partner: Annotated[str, typer.Argument(help="Partner id.")],
    url: Annotated[
        str | None, typer.Option("--url", help="Webhook address (https://...; '' removes it).")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Digest address ('' removes it).")
    ] = None,
    file_identifiers: Annotated[
        str | None,
        typer.Option(help="In file drops: clear coordinates, or keyed hashes (hashed)."),
    ] = None,
) -> None:
    """Show, or change, where and how a partner receives its messages (the partner can
    do the same through the API). A change makes a new version of the partner."""
    from listguard.propagation import get_endpoint, set_endpoint

    c: Context = ctx.obj
    c.settings()  # whether private webhook addresses are accepted (tests only)
    changes: dict[str, Any] = {"notify_url": url, "notify_email": email}
    changes = {k: v for k, v in changes.items() if v is not None}
    if file_identifiers is not None:
        changes["file_identifiers"] = file_identifiers
    if changes:
        now = set_endpoint(c.engine(), partner, by="cli", **changes)
    else:
        with c.engine().connect() as conn:
            now = get_endpoint(conn, partner)
    print(f"notify_url:       {now.notify_url or '-'}")
    print(f"notify_email:     {now.notify_email or '-'}")
    print(f"file_identifiers: {now.file_identifiers}")


inbound_app = typer.Typer(
    help="The partner side: messages received from owners that run listguard."
)
app.add_typer(inbound_app, name="inbound")
app.add_typer(calls_app, name="calls")


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


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    propagate: Annotated[
        bool,
        typer.Option(
            help="Send queued oppositions to the partners from the server (one worker "
            "process only; with several, run `listguard worker` beside it)."
        ),
    ] = True,
) -> None:
    """Start the web application: public pages, back office, API."""
    import os

    import uvicorn

    from listguard.db.ahead import database_url

    c: Context = ctx.obj
    c.engine()  # refuses a registry that is not initialised
    c.settings()  # refuses bad settings before starting
    if workers < 1:
        raise InputError("--workers must be at least 1")
    os.environ["LISTGUARD_DATABASE_URL"] = database_url(c.db)
    if c.config:
        os.environ["LISTGUARD_CONFIG"] = str(Path(c.config).resolve())
    os.environ["LISTGUARD_SERVE_PROPAGATE"] = "1" if propagate and workers == 1 else "0"
    print(f"listguard serving on http://{host}:{port}/ (back office: /admin, API: /api/docs)")
    uvicorn.run(
        "listguard.web.server:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,  # request lines hold addresses and links: no personal data in logs
        proxy_headers=False,  # the application believes only [web] trusted_proxies
    )


accounts_app = typer.Typer(help="Accounts of the owner's team (back office).")
app.add_typer(accounts_app, name="accounts")


@accounts_app.command("add")
def accounts_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's email, used to sign in.")],
    role: Annotated[str, typer.Option(help="admin or operator.")] = "operator",
) -> None:
    """Add an account; the password is asked twice (or read from LISTGUARD_PASSWORD)."""
    import os

    from listguard.accounts import add_account

    c: Context = ctx.obj
    password = os.environ.get("LISTGUARD_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    account = add_account(c.engine(), email, password, role)
    print(f"account {account.email} ({account.role}) added")


def _day(at: int | None) -> str:
    """An instant as its day (``2026-11-29``), or empty."""
    from listguard.timeutil import to_iso

    return to_iso(at)[:10] if at else ""


@accounts_app.command("list")
def accounts_list(ctx: typer.Context) -> None:
    """The team's accounts, enabled first."""
    from listguard.accounts import list_accounts

    c: Context = ctx.obj
    print(f"{'email':<40} {'role':<9} {'created':<10} disabled")
    for a in list_accounts(c.engine()):
        print(
            f"{a['email']:<40} {a['role']:<9} {_day(a['created_at']):<10} {_day(a['disabled_at'])}"
        )


@accounts_app.command("disable")
def accounts_disable(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email.")],
) -> None:
    """Disable an account: it can no longer sign in, its sessions end at once."""
    from listguard.accounts import disable_account

    c: Context = ctx.obj
    if not disable_account(c.engine(), email, by="cli"):
        raise InputError("no enabled account with this email", where=email)
    print(f"account {email.strip().lower()} disabled")


key_app = typer.Typer(help="API keys for partners and the owner's systems.")
app.add_typer(key_app, name="api-key")


@key_app.command("create")
def api_key_create(
    ctx: typer.Context,
    partner: Annotated[
        str | None, typer.Option(help="The partner the key is for (a partner key).")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="A scope to grant (repeat); default: every scope of the role."),
    ] = None,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    from listguard.accounts import create_api_key

    c: Context = ctx.obj
    key, grant = create_api_key(
        c.engine(),
        role="partner" if partner else "machine",
        partner_id=partner,
        scopes=tuple(scope) if scope else None,
        label=label,
    )
    print(key)
    err(f"scopes: {' '.join(sorted(grant.scopes))} (keep the key: it is not shown again)")


@key_app.command("list")
def api_key_list(ctx: typer.Context) -> None:
    """Every key by its prefix (the key itself is never kept), live keys first."""
    from listguard.accounts import list_api_keys

    c: Context = ctx.obj
    print(f"{'prefix':<14} {'role':<8} {'partner':<10} {'last used':<10} {'revoked':<10} scopes")
    for k in list_api_keys(c.engine()):
        used, gone, partner = _day(k["last_used_at"]), _day(k["revoked_at"]), k["partner_id"] or ""
        print(f"{k['prefix']:<14} {k['role']:<8} {partner:<10} {used:<10} {gone:<10} {k['scopes']}")


@key_app.command("revoke")
def api_key_revoke(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="The key's prefix (lg_<prefix>_...).")],
) -> None:
    """Revoke a key at once."""
    from listguard.accounts import revoke_api_key

    c: Context = ctx.obj
    if not revoke_api_key(c.engine(), prefix):
        raise InputError("no live key with this prefix", where=prefix)
    print(f"key {prefix} revoked")


@app.command("unsubscribe-link")
def unsubscribe_link(
    ctx: typer.Context,
    contact: Annotated[str | None, typer.Option(help="The owner's contact id (preferred).")] = None,
    email: Annotated[str | None, typer.Option(help="An email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="A phone number.")] = None,
    channel: Annotated[str, typer.Option(help="The channel to stop.")] = "email",
    scope: Annotated[str, typer.Option(help="own, partners or all.")] = "all",
    days: Annotated[int, typer.Option(help="Days the link stays valid.")] = 400,
) -> None:
    """Print a one-click unsubscribe link (RFC 8058) for a mailing: encrypted and
    signed, it reveals nothing and expires."""
    from listguard.links import Unsubscribe, make_token

    c: Context = ctx.obj
    settings = c.settings()
    with c.engine().begin() as conn:
        token = make_token(conn, Unsubscribe(channel, scope, contact, email, phone), days)
    base = settings.web.public_url or "http://127.0.0.1:8000"
    print(f"{base}/desinscription/{token}")


@app.command("collection-form")
def collection_form(
    ctx: typer.Context,
    channel: Annotated[
        list[str], typer.Option("--channel", help="A channel the form collects (repeat).")
    ],
    audience: Annotated[str, typer.Option(help="b2c or b2b.")] = "b2c",
    as_of: Annotated[
        str | None, typer.Option(help="The day the rules are taken from (default: today).")
    ] = None,
    notice_version: Annotated[
        str, typer.Option(help="Your identifier of this information text.")
    ] = "",
    out: Annotated[Path | None, typer.Option(help="Write the fragment to this file.")] = None,
) -> None:
    """Print the HTML fragment a collection form needs for these channels: the
    information text and distinct, unticked boxes for the owner and for its partners
    (to object where informing is enough, to accept where consent is required)."""
    from listguard.collection import form_fragment
    from listguard.renting.partner_list import partner_list_version
    from listguard.timeutil import now_ts, today

    if audience not in ("b2c", "b2b"):
        raise InputError(f"--audience {audience!r}: expected b2c or b2b")
    c: Context = ctx.obj
    settings = c.settings()
    if not settings.web.public_url:
        print(
            "warning: [web] public_url is not set: the links to the partner list and the "
            "opposition page are relative, valid only on pages listguard serves",
            file=sys.stderr,
        )
    with c.engine().connect() as conn:
        version, _start = partner_list_version(conn, now_ts())
    fragment, digest = form_fragment(
        settings,
        channel,
        as_of=_date(as_of, "--as-of") if as_of else today(),
        audience=audience,
        partner_list_version=version or None,
        notice_version=notice_version,
    )
    if out is None:
        print(fragment, end="")
    else:
        out.write_text(fragment, encoding="utf-8")
        print(f"{out}: partner list version {version}, notice text sha256 {digest}")


# the options the processing commands share
Maps = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="SOURCE=COLUMN",
        help="Read a column under a contacts-format name, e.g. --map Prenom=first_name "
        "--map CP=postal_code (for rnvp, address is one free-text field).",
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
PairsOut = Annotated[Path, typer.Option("--out", help="Folder for pairs.csv and clusters.csv.")]


@app.command()
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
    from listguard.processing.addresses import restructure_file

    c: Context = ctx.obj
    with progress_rows("restructuring addresses") as advance:
        report = restructure_file(
            file,
            out,
            map_ or [],
            id_column,
            c.settings().output.csv_delimiter,
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
    from listguard.processing.linkage import link_files

    c: Context = ctx.obj
    with progress_rows("reading") as advance:
        report = link_files(
            files,
            out,
            maps=maps or [],
            id_column=id_column,
            threshold=threshold,
            compare=compare or [],
            delimiter=c.settings().output.csv_delimiter,
            progress=advance,
        )
    print(
        f"{report.records} record(s): {report.pairs} pair(s) at probability >= {threshold}, "
        f"{report.clusters} cluster(s) of {report.in_clusters} record(s); "
        f"{out / 'pairs.csv'}, {out / 'clusters.csv'} ({report.seconds:.1f} s)"
    )


@app.command()
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
            delimiter=c.settings().output.csv_delimiter,
            progress=advance,
        )
    print(
        f"{report.records} contact(s): {report.clusters} person(s) held as several contacts "
        f"({report.in_clusters} contacts), kept for the rules; {out / 'pairs.csv'}, "
        f"{out / 'clusters.csv'} ({report.seconds:.1f} s)"
    )


@app.command()
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


@app.command()
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
            as_of=_date(as_of, "--as-of") if as_of else today(),
            campaign_start=_date(campaign_start, "--campaign-start") if campaign_start else None,
            campaign_end=_date(campaign_end, "--campaign-end") if campaign_end else None,
            call_purpose=call_purpose,
            offer=offer,
        )
    if warning := backdated(order):
        err(f"warning: {warning}")
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
            maps=map_ or [],
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


@app.command()
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
    from listguard.processing.profile import profile_base, profile_file

    if (file is None) == (not base):
        raise InputError("give a file, or --base for the registry's contacts (not both)")
    with progress_rows("profiling") as advance:
        if file is not None:
            report = profile_file(file, out, map_ or [], progress=advance)
        else:
            c: Context = ctx.obj
            report = profile_base(c.engine(), out, progress=advance)
    print(f"{report['rows']} row(s): {out / 'profile.html'}, {out / 'profile.json'}")
    for name, f in report["fields"].items():
        valid = f", {f['valid_share_of_filled']:.1%} valid" if "valid_share_of_filled" in f else ""
        print(f"  {name}: {f['filled_share']:.1%} filled{valid}")


@app.command()
def demo(
    ctx: typer.Context,
    contacts: Annotated[int, typer.Option("--contacts", help="Size of the sample base.")] = 100_000,
    out: Annotated[Path, typer.Option("--out", help="Folder for the sample files.")] = Path("demo"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same base).")] = 2026,
) -> None:
    """Build a realistic sample base and run the whole flow on it."""
    from listguard.demo.run import run_demo

    c: Context = ctx.obj
    if contacts < 100:
        raise InputError("--contacts must be at least 100")
    run_demo(c.db, c.settings(), contacts, out, seed)


def run(argv: list[str] | None = None) -> Any:
    """Entry point: user mistakes become a message and exit status 1 (or 2), not a traceback."""
    import os

    # no command does linear algebra: the BLAS threads numpy starts would only spin
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    groups = {g.name for g in app.registered_groups if g.name}
    try:
        with (
            terminated_as_exit(),
            operational_errors(sys.argv[1:] if argv is None else argv, groups),
        ):
            return app(args=argv, standalone_mode=True)
    except ListguardError as exc:
        err(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err("interrupted: nothing was changed by the unfinished step")
        sys.exit(130)
