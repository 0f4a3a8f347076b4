"""The owner's administration: ``accounts *``, ``api-key *``, ``partner-secret``,
``partner-endpoint``, ``audit verify``, ``unsubscribe-link``, ``collection-form`` and
``serve``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from listguard.cli.app import Context, as_date
from listguard.cli.output import err
from listguard.errors import InputError

audit_app = typer.Typer(help="The hash-chained audit log.")


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


def partner_secret_command(
    ctx: typer.Context, partner: Annotated[str, typer.Argument(help="Partner id.")]
) -> None:
    """Print the key the partner's webhooks are signed with (made on first use)."""
    from listguard.propagation.signing import partner_secret

    c: Context = ctx.obj
    with c.engine().begin() as conn:
        print(partner_secret(conn, partner))


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
    from listguard.propagation.endpoints import get_endpoint, set_endpoint

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

    from listguard.db.url import database_url

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


@key_app.command("create")
def api_key_create(
    ctx: typer.Context,
    partner: Annotated[
        str | None, typer.Option(help="The partner the key is for (a partner key).")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope to grant (repeat); default: every scope of the role but those of "
            "the owner API, which are given by name only. The owner's systems: "
            "oppositions:write, collections:write, sms:stop, calls:check, calls:write, "
            "and by name only decisions:read, rentals:preview, rentals:deliver, "
            "deliveries:read, rights:read, rights:write (docs/web.md); an unknown one is "
            "refused with the list."
        ),
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
        as_of=as_date(as_of, "--as-of") if as_of else today(),
        audience=audience,
        partner_list_version=version or None,
        notice_version=notice_version,
    )
    if out is None:
        print(fragment, end="")
    else:
        out.write_text(fragment, encoding="utf-8")
        print(f"{out}: partner list version {version}, notice text sha256 {digest}")
