"""Terminal output: messages on stderr, progress bars only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def interactive() -> bool:
    return sys.stderr.isatty()


def err(message: str) -> None:
    print(message, file=sys.stderr)


@contextmanager
def progress_rows(label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A callback that advances a progress bar by a number of rows (silent off a terminal)."""
    if not interactive():
        yield lambda _n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def progress_steps(label: str) -> Iterator[Callable[[str], None]]:
    """A callback that shows the current step of a long task (silent off a terminal)."""
    if not interactive():
        yield lambda _s: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task(label)
        yield lambda step: bar.update(task, description=f"{label}: {step}")


def print_forwarded(forwarded: int, partner: str, meanwhile: int = 0, covered: int = 0) -> None:
    """Say how many messages a delivery queued for oppositions dated after its as_of,
    and for events recorded while its order was being decided."""
    if forwarded:
        print(
            f"{forwarded} opposition(s) dated after as_of cover delivered coordinates: "
            f"queued for {partner} (listguard oppositions status)"
        )
    if meanwhile:
        print(
            f"{meanwhile} opposition(s) or rectification(s) recorded while this order was "
            f"being decided cover {covered} delivered coordinate(s): queued for {partner} "
            "(listguard oppositions status)"
        )


def print_counts(
    channels: tuple[str, ...], counts: dict[str, dict[str, int]], eligible: dict[str, int]
) -> None:
    from rich.console import Console
    from rich.table import Table

    from listguard.rules.reasons import CODES

    table = Table(title="Decisions per channel and reason")
    table.add_column("reason")
    for ch in channels:
        table.add_column(ch, justify="right")
    table.add_row("eligible", *[str(eligible.get(ch, 0)) for ch in channels])
    for code in CODES:
        if any(counts.get(ch, {}).get(code) for ch in channels):
            table.add_row(code, *[str(counts.get(ch, {}).get(code, 0)) for ch in channels])
    Console(width=max(100, 24 + 16 * len(channels))).print(table)
