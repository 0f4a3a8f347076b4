"""``listguard demo``: a sample base and the whole flow run on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listguard.cli.app import Context
from listguard.errors import InputError


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
