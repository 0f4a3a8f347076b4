"""``listguard``: the command line, assembled from one module per command group, in
the order ``listguard --help`` lists them. Heavy libraries are imported inside
commands, so ``--help`` is fast."""

from __future__ import annotations

import sys
from typing import Any

from listguard.cli import admin, demo, oppositions, processing, registry, renting, rights
from listguard.cli.app import app
from listguard.cli.boundary import operational_errors, terminated_as_exit
from listguard.cli.calls import calls_app
from listguard.cli.output import err
from listguard.errors import ListguardError

__all__ = ["app", "run"]

# the commands, then the groups, in the order `listguard --help` lists them
app.command()(registry.init)
app.command()(renting.rent)
app.command()(renting.check)
app.command()(oppositions.oppose)
app.command()(oppositions.worker)
app.command("partner-secret")(admin.partner_secret_command)
app.command("partner-endpoint")(admin.partner_endpoint_command)
app.command()(admin.serve)
app.command("unsubscribe-link")(admin.unsubscribe_link)
app.command("collection-form")(admin.collection_form)
app.command()(processing.rnvp)
app.command()(processing.dedupe)
app.command()(processing.link)
app.command()(processing.enrich)
app.command()(processing.profile)
app.command()(demo.demo)
app.add_typer(registry.import_app, name="import")
app.add_typer(registry.bloctel_app, name="bloctel")
app.add_typer(oppositions.oppositions_app, name="oppositions")
app.add_typer(rights.rights_app, name="rights")
app.add_typer(rights.consents_app, name="consents")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(renting.seeds_app, name="seeds")
app.add_typer(oppositions.inbound_app, name="inbound")
app.add_typer(calls_app, name="calls")
app.add_typer(admin.accounts_app, name="accounts")
app.add_typer(admin.key_app, name="api-key")


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
