"""Keyed digests of a person's identifiers (contact id, email, number).

The registry keeps a digest, never the identifier, where it only has to recognise a
person again: the ``erased`` table (so that a re-import of an erased person is
refused) and the subject of every audit log entry that concerns a person. The
digest is SHA-256 over ``secret:kind:value``, the secret being 32 random bytes the
registry makes for itself on first use (``registry_secrets``, name ``erasure``): without
it nobody can tell which identifier a digest stands for, even by trying every
number; with it the owner can find a person's entries again. DuckDB's ``sha256``
computes the same digest over the same text (the import's check of erased persons).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from sqlalchemy import Connection

from listguard.db.keys import registry_secret

SECRET = "erasure"  # the name the key was first made under, kept for existing registries
KINDS = ("contact_id", "email", "phone")


def identifier_secret(conn: Connection, *, create: bool) -> str | None:
    """The key identifier digests are made with (made with the first one needed)."""
    return registry_secret(conn, SECRET, create=create)


def keyed_digest(secret: str, kind: str, value: str) -> str:
    """The keyed digest of an identifier (``kind``: contact_id, email, phone)."""
    return hashlib.sha256(f"{secret}:{kind}:{value}".encode()).hexdigest()


class Subject(Protocol):
    """Makes the audit subject of a person (``subjects``)."""

    def __call__(
        self, contact_id: str | None, email_norm: str | None = None, phone_e164: str | None = None
    ) -> str | None: ...


def subjects(conn: Connection) -> Subject:
    """A maker of audit subjects in ``conn``'s transaction: the keyed digest of the
    first of (contact id, normalised email, E.164 number) given, None when none is.
    The key is read (or made) once, at the first subject."""
    secret: list[str] = []

    def subject(
        contact_id: str | None, email_norm: str | None = None, phone_e164: str | None = None
    ) -> str | None:
        for kind, value in zip(KINDS, (contact_id, email_norm, phone_e164), strict=True):
            if value:
                if not secret:
                    made = identifier_secret(conn, create=True)
                    assert made is not None
                    secret.append(made)
                return keyed_digest(secret[0], kind, value)
        return None

    return subject


def person_subject(
    conn: Connection,
    contact_id: str | None = None,
    email_norm: str | None = None,
    phone_e164: str | None = None,
) -> str | None:
    """The audit subject naming one person (``subjects``)."""
    return subjects(conn)(contact_id, email_norm, phone_e164)


__all__ = [
    "KINDS",
    "SECRET",
    "Subject",
    "identifier_secret",
    "keyed_digest",
    "person_subject",
    "subjects",
]
