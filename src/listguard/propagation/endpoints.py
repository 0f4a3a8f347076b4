"""Where and how a partner receives its messages: its webhook address, its email
address, whether its file drops carry the coordinates or keyed hashes of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from listguard import audit, netguard
from listguard.db import schema
from listguard.errors import InputError
from listguard.normalise.email import normalise_email
from listguard.storage.engine import writing
from listguard.timeutil import now_ts


@dataclass(frozen=True)
class PartnerEndpoint:
    notify_url: str | None
    notify_email: str | None
    file_identifiers: str  # clear | hashed


_UNCHANGED: Any = object()


def check_notify_url(url: str) -> str:
    """A webhook address: see ``netguard.check_endpoint_url``."""
    return netguard.check_endpoint_url(url)


def get_endpoint(conn: Connection, partner_id: str) -> PartnerEndpoint:
    row = conn.execute(
        text(
            "SELECT p.notify_url, p.notify_email, s.file_identifiers FROM partners p "
            "LEFT JOIN partner_settings s ON s.partner_id = p.partner_id "
            "WHERE p.partner_id = :p"
        ),
        {"p": partner_id},
    ).first()
    if row is None:
        raise InputError(f"unknown partner {partner_id!r}")
    return PartnerEndpoint(row.notify_url, row.notify_email, row.file_identifiers or "clear")


def set_endpoint(
    engine: Engine,
    partner_id: str,
    *,
    notify_url: str | None = _UNCHANGED,
    notify_email: str | None = _UNCHANGED,
    file_identifiers: str = _UNCHANGED,
    by: str = "api",
) -> PartnerEndpoint:
    """Change where (and how) a partner receives its messages; what is not given stays.
    A changed address makes a new version of the partner (the previous one is kept);
    the change is in the audit log. An empty value removes the address."""
    if notify_url is not _UNCHANGED and notify_url:
        notify_url = check_notify_url(notify_url)
    if notify_email is not _UNCHANGED and notify_email:
        normalised, valid = normalise_email(notify_email)
        if not valid:
            raise InputError(f"{notify_email!r} is not a valid email address")
        notify_email = normalised
    if file_identifiers is not _UNCHANGED and file_identifiers not in schema.FILE_IDENTIFIERS:
        raise InputError(
            f"file_identifiers {file_identifiers!r}: expected "
            + " or ".join(schema.FILE_IDENTIFIERS)
        )
    now = now_ts()
    with writing(engine) as conn:
        before = get_endpoint(conn, partner_id)
        changes = {
            k: v or None
            for k, v in (("notify_url", notify_url), ("notify_email", notify_email))
            if v is not _UNCHANGED and (v or None) != getattr(before, k)
        }
        if changes:
            fields = [c.name for c in schema.partner_versions.columns if c.name != "id"]
            cols = ", ".join(fields)
            conn.execute(
                text(
                    f"INSERT INTO partner_versions ({cols}) SELECT {cols} FROM partners "
                    "WHERE partner_id = :p"
                ),
                {"p": partner_id},
            )
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            conn.execute(
                text(
                    f"UPDATE partners SET {sets}, import_id = NULL, recorded_at = :now, "
                    "version = version + 1 WHERE partner_id = :p"
                ),
                {**changes, "now": now, "p": partner_id},
            )
        if file_identifiers is not _UNCHANGED and file_identifiers != before.file_identifiers:
            conn.execute(
                text(
                    "INSERT INTO partner_settings (partner_id, file_identifiers, updated_at) "
                    "VALUES (:p, :f, :now) ON CONFLICT (partner_id) DO UPDATE SET "
                    "file_identifiers = excluded.file_identifiers, updated_at = excluded.updated_at"
                ),
                {"p": partner_id, "f": file_identifiers, "now": now},
            )
            changes["file_identifiers"] = file_identifiers
        if changes:
            audit.append(conn, "partner_endpoint", partner_id, {**changes, "by": by}, now)
        return get_endpoint(conn, partner_id)


__all__ = ["PartnerEndpoint", "check_notify_url", "get_endpoint", "set_endpoint"]
