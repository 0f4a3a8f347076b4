"""Imports of the interchange files into the registry (``shared/spec/formats.md``).

``import_file(engine, kind, path)`` imports one file of a kind: ``contacts``,
``events``, ``partners`` or ``suppression``. Every import is one transaction;
bad rows go to a rejects file with their line, column, value and a message.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from listguard.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from listguard.config import Settings
    from listguard.imports.common import ImportReport

KINDS = ("contacts", "events", "partners", "suppression")


def import_file(
    engine: Engine,
    kind: str,
    path: str | Path,
    *,
    settings: Settings | None = None,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``path`` as a file of ``kind``; returns the counts and where the rejects are.
    ``settings`` (by default, the default settings): the retention period, whose
    deliveries an imported opposition or erasure is forwarded for, and the rejects
    file's delimiter."""
    from listguard.config import Settings
    from listguard.imports.common import run_import

    if kind not in KINDS:
        raise UsageError(f"unknown import kind {kind!r}: expected one of {', '.join(KINDS)}")
    module = import_module(f"listguard.imports.{kind}")
    report = run_import(
        engine,
        module.KIND,
        path,
        settings or Settings(),
        rejects_path=rejects_path,
        progress=progress,
    )
    if report.erasure is not None:  # committed: the files around the registry follow
        from listguard.erasure import after_erasure

        after_erasure(engine)
    return report


__all__ = ["KINDS", "import_file"]
