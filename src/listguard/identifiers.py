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


def person_subject(
    conn: Connection,
    contact_id: str | None = None,
    email_norm: str | None = None,
    phone_e164: str | None = None,
) -> str | None:
    """The audit subject naming a person given by contact id, normalised email or E.164
    number (the first given): its keyed digest, or None when none is given."""
    for kind, value in zip(KINDS, (contact_id, email_norm, phone_e164), strict=True):
        if value:
            secret = identifier_secret(conn, create=True)
            assert secret is not None
            return keyed_digest(secret, kind, value)
    return None


__all__ = ["KINDS", "SECRET", "identifier_secret", "keyed_digest", "person_subject"]
