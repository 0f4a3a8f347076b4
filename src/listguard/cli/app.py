"""The root of ``listguard``: its global options (``--db``, ``--config``), the
:class:`Context` each command takes its registry and settings from, and the helpers
the command groups share. Each group module defines its commands and
``listguard.cli.main`` puts them on the app. Heavy libraries are imported inside
commands, so ``--help`` is fast."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from listguard.cli.output import err
from listguard.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from listguard.config import Settings

app = typer.Typer(
    help="Lawful rental of contact files: registry, rules, Bloctel, deliveries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


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
        from listguard.storage.engine import check_initialised, make_engine

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


def as_date(value: str, name: str) -> dt.date:
    """The date an option gives (``--as-of 2026-11-28``), or a refusal naming it."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be a date such as 2026-11-28, got {value!r}") from None


def one_person(contact: str | None, email: str | None, phone: str | None) -> None:
    """Refuse a command that names a person by none, or by more than one, identifier."""
    if sum(x is not None for x in (contact, email, phone)) != 1:
        raise InputError("name the person with exactly one of --contact, --email or --phone")
