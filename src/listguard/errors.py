"""Errors that listguard reports to a person.

    ListguardError            anything listguard reports with a message
    ├── InputError            a file, an order or an option is wrong (CLI exit 1)
    │   └── FileFormatError   a file cannot be read at all (encoding, delimiter, missing column)
    └── UsageError            the command was called wrongly (CLI exit 2)

Each error carries a message a person can act on, and where it applies (file,
line, column); those a back-office form can meet carry it in French too (``fr``).
They are translated to exit codes or HTTP statuses only at the edges (the CLI
handler, the API exception handler).
"""

from __future__ import annotations

from dataclasses import dataclass


class ListguardError(Exception):
    """Base of every error listguard reports to a person."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, fr: str | None = None) -> None:
        self.message = message
        self.where = where
        # the message in French, whole (the back office shows it on its French pages)
        self.fr = fr
        super().__init__(f"{where}: {message}" if where else message)

    def said(self, lang: str) -> str:
        """The message in ``lang`` ("fr" or "en"): French where the raise gave it."""
        return self.fr if lang == "fr" and self.fr else str(self)


@dataclass(frozen=True)
class Notice:
    """A warning told beside a result (not an error: the work was done), in English
    and in French; ``str`` gives the English (the command line, the API)."""

    en: str
    fr: str

    def said(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en

    def __str__(self) -> str:
        return self.en


class InputError(ListguardError):
    """The input (a file, an order, an option value) is wrong; nothing was changed."""


class FileFormatError(InputError):
    """A file cannot be read as a whole: encoding, delimiter, header or required column."""


class UsageError(ListguardError):
    """The command line itself is wrong."""

    exit_code = 2
