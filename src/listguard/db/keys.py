"""Keys the registry makes for itself: erasure digests, unsubscribe and acknowledgement
links, form tokens. Each is made on first use and never leaves the registry."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, text

from listguard.timeutil import now_ts


def registry_secret(conn: Connection, name: str, *, create: bool) -> str | None:
    """The key ``name`` (erasure, links, acks, forms...), made on first use when
    ``create``; two first uses at once agree on the one written first."""
    query = text("SELECT secret FROM registry_secrets WHERE name = :n")
    secret = conn.execute(query, {"n": name}).scalar_one_or_none()
    if secret is None and create:
        conn.execute(
            text(
                "INSERT INTO registry_secrets (name, secret, created_at) VALUES (:n, :s, :t) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            {"n": name, "s": secrets.token_hex(32), "t": now_ts()},
        )
        secret = conn.execute(query, {"n": name}).scalar_one()
    return None if secret is None else str(secret)


__all__ = ["registry_secret"]
