"""Who may use the web application: the owner's team (accounts, sessions) and the
partners' and owner's systems (API keys).

Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
recommended profile). A session cookie holds a random token; the registry keeps only
its SHA-256, with the session's CSRF token. An API key is ``lg_<prefix>_<secret>``:
looked up by its prefix and checked against the SHA-256 of the whole key; a random
256-bit secret needs no slow hash. Keys carry a role (``partner`` bound to one partner,
or ``machine`` for the owner's own systems), scopes, and can be revoked.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from listguard import audit
from listguard.db import schema
from listguard.errors import InputError
from listguard.storage.engine import writing
from listguard.timeutil import now_ts

SESSION_SECONDS = 8 * 3600
MIN_PASSWORD = 12
# what each kind of key may do; a key is given a subset
SCOPES = {
    "partner": (
        "deliveries:read",
        "oppositions:read",
        "oppositions:ack",
        "oppositions:report",
        "endpoint:write",
    ),
    "machine": (
        "oppositions:write",
        "collections:write",
        "sms:stop",
        "calls:check",  # the partner side: may a number be called now
        "calls:write",  # the partner side: calls and attempts made
        # the owner API (web/api/owner.py): a CRM explains, previews, delivers, reads back
        "decisions:read",
        "rentals:preview",
        "rentals:deliver",
        "deliveries:read",  # every delivery and its files, the owner's own included
        "rights:read",  # the persons' rights requests, to follow them
        "rights:write",  # a rights request received by the owner's own systems
    ),
}
# scopes that open personal data in bulk or deliver a file: a key holds them only when
# they are named (``--scope``), never by default, so that a key made for a web form
# before or after they existed cannot rent the base
NAMED_ONLY = frozenset(
    {"decisions:read", "rentals:preview", "rentals:deliver", "rights:read", "rights:write"}
)


def default_scopes(role: str) -> tuple[str, ...]:
    """The scopes a key of ``role`` gets when none is named: every scope of the role
    but those given by name only (``NAMED_ONLY``); the owner's ``deliveries:read``
    with them."""
    named_only = NAMED_ONLY | ({"deliveries:read"} if role == "machine" else set())
    return tuple(s for s in SCOPES[role] if s not in named_only)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str


def add_account(engine: Engine, email: str, password: str, role: str) -> Account:
    """A new account of the owner's team."""
    from argon2 import PasswordHasher

    email = email.strip().lower()
    if "@" not in email:
        raise InputError(
            f"{email!r} is not an email address", fr=f"{email!r} n'est pas une adresse email"
        )
    if role not in schema.ROLES:
        raise InputError(
            f"unknown role {role!r}: expected one of {', '.join(schema.ROLES)}",
            fr=f"rôle inconnu {role!r} ; valeurs possibles : {', '.join(schema.ROLES)}",
        )
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"the password must have at least {MIN_PASSWORD} characters",
            fr=f"le mot de passe doit avoir au moins {MIN_PASSWORD} caractères",
        )
    now = now_ts()
    with writing(engine) as conn:
        if conn.execute(
            select(schema.accounts.c.id).where(schema.accounts.c.email == email)
        ).first():
            raise InputError(
                f"an account {email} exists already", fr=f"un compte {email} existe déjà"
            )
        account_id = conn.execute(
            insert(schema.accounts)
            .values(
                email=email,
                password_hash=PasswordHasher().hash(password),
                role=role,
                created_at=now,
            )
            .returning(schema.accounts.c.id)
        ).scalar_one()
        audit.append(conn, "account_added", email, {"role": role}, now)
    return Account(int(account_id), email, role)


def disable_account(engine: Engine, email: str, *, by: str) -> bool:
    """Disable an account (it can no longer sign in; its sessions end at once). False
    when there is no enabled account with this email. An account is never deleted: the
    audit log names it. ``by``: who disables it; nobody disables their own account (the
    last admin would lock the team out)."""
    email = email.strip().lower()
    if email == by.strip().lower():
        raise InputError(
            "you cannot disable your own account",
            where=email,
            fr=f"{email} : vous ne pouvez pas désactiver votre propre compte",
        )
    a = schema.accounts
    now = now_ts()
    with writing(engine) as conn:
        row = conn.execute(
            select(a.c.id).where(a.c.email == email, a.c.disabled_at.is_(None))
        ).first()
        if row is None:
            return False
        conn.execute(update(a).where(a.c.id == row.id).values(disabled_at=now))
        conn.execute(schema.web_sessions.delete().where(schema.web_sessions.c.account_id == row.id))
        audit.append(conn, "account_disabled", email, {"by": by}, now)
    return True


def list_accounts(engine: Engine) -> list[dict[str, Any]]:
    """Every account of the owner's team, enabled first, with its dates."""
    a = schema.accounts
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.c.email, a.c.role, a.c.created_at, a.c.disabled_at).order_by(
                a.c.disabled_at.is_not(None), a.c.email
            )
        ).all()
    return [dict(r._mapping) for r in rows]


def list_api_keys(engine: Engine) -> list[dict[str, Any]]:
    """Every API key (never the key itself: its prefix), live keys first, newest first."""
    k = schema.api_keys
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                k.c.prefix,
                k.c.role,
                k.c.partner_id,
                k.c.scopes,
                k.c.label,
                k.c.created_at,
                k.c.last_used_at,
                k.c.revoked_at,
            ).order_by(k.c.revoked_at.is_not(None), k.c.id.desc())
        ).all()
    return [dict(r._mapping) for r in rows]


def authenticate(engine: Engine, email: str, password: str) -> Account | None:
    """The account if the password is right (and the account enabled), else None. The
    hash is computed even for an unknown email, so timing does not tell which it was."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    ph = PasswordHasher()
    a = schema.accounts
    with engine.connect() as conn:
        row = conn.execute(
            select(a.c.id, a.c.email, a.c.role, a.c.password_hash, a.c.disabled_at).where(
                a.c.email == email.strip().lower()
            )
        ).first()
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        ph.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    return Account(int(row.id), str(row.email), str(row.role))


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the email is unknown (made once)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Session:
    token: str  # for the cookie only; never stored
    csrf: str
    account: Account


def open_session(engine: Engine, account: Account) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = now_ts()
    with writing(engine) as conn:
        conn.execute(
            insert(schema.web_sessions).values(
                token_hash=_sha(token),
                account_id=account.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + SESSION_SECONDS,
            )
        )
        audit.append(conn, "signed_in", account.email, {}, now)
    return Session(token, csrf, account)


def session_of(engine: Engine, token: str | None) -> Session | None:
    """The live session of a cookie's token, if any."""
    if not token:
        return None
    s, a = schema.web_sessions, schema.accounts
    with engine.connect() as conn:
        row = conn.execute(
            select(s.c.csrf, s.c.expires_at, a.c.id, a.c.email, a.c.role, a.c.disabled_at)
            .join_from(s, a, a.c.id == s.c.account_id)
            .where(s.c.token_hash == _sha(token))
        ).first()
    if row is None or row.expires_at < now_ts() or row.disabled_at is not None:
        return None
    return Session(token, str(row.csrf), Account(int(row.id), str(row.email), str(row.role)))


def close_session(engine: Engine, token: str) -> None:
    with writing(engine) as conn:
        conn.execute(
            schema.web_sessions.delete().where(schema.web_sessions.c.token_hash == _sha(token))
        )


@dataclass(frozen=True)
class ApiKey:
    id: int
    role: str
    partner_id: str | None
    scopes: frozenset[str]
    label: str
    last_used_at: int | None = None
    prefix: str = ""  # how the key is named (``api-key list``, the audit log)


def create_api_key(
    engine: Engine,
    *,
    role: str,
    partner_id: str | None = None,
    scopes: tuple[str, ...] | None = None,
    label: str = "",
) -> tuple[str, ApiKey]:
    """A new key (shown once: only its hash is kept) and what it may do."""
    if role not in SCOPES:
        raise InputError(
            f"unknown key role {role!r}: expected one of {', '.join(SCOPES)}",
            fr=f"rôle de clé inconnu {role!r} ; valeurs possibles : {', '.join(SCOPES)}",
        )
    if (role == "partner") != (partner_id is not None):
        raise InputError(
            "a partner key names its partner (--partner); a machine key does not",
            fr="une clé de partenaire désigne son partenaire, une clé de machine n'en désigne pas",
        )
    chosen = tuple(scopes) if scopes else default_scopes(role)
    unknown = sorted(set(chosen) - set(SCOPES[role]))
    if unknown:
        raise InputError(
            f"scope(s) {', '.join(unknown)} do not exist for a {role} key: "
            f"expected among {', '.join(SCOPES[role])}",
            fr=f"droit(s) {', '.join(unknown)} inexistant(s) pour une clé "
            f"{'de partenaire' if role == 'partner' else 'des systèmes du responsable'} ; "
            f"valeurs possibles : {', '.join(SCOPES[role])}",
        )
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = f"lg_{prefix}_{secret}"
    now = now_ts()
    with writing(engine) as conn:
        if (
            partner_id is not None
            and not conn.execute(
                select(schema.partners.c.partner_id).where(
                    schema.partners.c.partner_id == partner_id
                )
            ).first()
        ):
            raise InputError(
                f"unknown partner {partner_id!r}", fr=f"partenaire inconnu {partner_id!r}"
            )
        key_id = conn.execute(
            insert(schema.api_keys)
            .values(
                prefix=prefix,
                key_hash=_sha(key),
                role=role,
                partner_id=partner_id,
                scopes=" ".join(chosen),
                label=label,
                created_at=now,
            )
            .returning(schema.api_keys.c.id)
        ).scalar_one()
        audit.append(
            conn, "api_key_created", partner_id or role, {"key": prefix, "scopes": chosen}, now
        )
    return key, ApiKey(int(key_id), role, partner_id, frozenset(chosen), label, prefix=prefix)


def check_api_key(conn: Connection, key: str) -> ApiKey | None:
    """The key's grant if ``key`` is a live key, else None."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "lg":
        return None
    k = schema.api_keys
    row = conn.execute(
        select(
            k.c.id, k.c.key_hash, k.c.role, k.c.partner_id, k.c.scopes, k.c.label, k.c.last_used_at
        ).where(k.c.prefix == parts[1], k.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(str(row.key_hash), _sha(key)):
        return None
    return ApiKey(
        int(row.id),
        str(row.role),
        row.partner_id,
        frozenset(str(row.scopes).split()),
        row.label,
        row.last_used_at,
        parts[1],
    )


class GrantCache:
    """API keys recently checked, for ``ttl`` seconds: under load, the registry is not
    asked again for the same key on every request. A key revoked by this process is
    forgotten at once (``forget``); revoked by another one (the CLI), it stops working
    within ``ttl``. Keys are held by their SHA-256 only, per registry."""

    def __init__(self, ttl: float = 1.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._grants: dict[tuple[str, str], tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def check(self, engine: Engine, key: str) -> ApiKey | None:
        held, grant = self.peek(engine, key)
        if held:
            return grant
        now = time.monotonic()
        with engine.connect() as conn:
            grant = check_api_key(conn, key)
        self.keep(engine, key, grant, now)
        return grant

    def peek(self, engine: Engine, key: str) -> tuple[bool, ApiKey | None]:
        """(True, the grant) when the answer for ``key`` is held and fresh, without asking
        the registry; (False, None) otherwise."""
        with self._lock:
            held = self._grants.get((str(engine.url), _sha(key)))
        if held is not None and time.monotonic() - held[0] < self.ttl:
            return True, held[1]
        return False, None

    def keep(self, engine: Engine, key: str, grant: ApiKey | None, at: float | None = None) -> None:
        """Hold ``grant`` as the answer for ``key`` in ``engine``'s registry."""
        with self._lock:
            if len(self._grants) >= self.size:
                self._grants.clear()
            self._grants[(str(engine.url), _sha(key))] = (
                time.monotonic() if at is None else at,
                grant,
            )

    def forget(self) -> None:
        with self._lock:
            self._grants.clear()


GRANTS = GrantCache()


def revoke_api_key(engine: Engine, prefix: str) -> bool:
    now = now_ts()
    with writing(engine) as conn:
        done = conn.execute(
            update(schema.api_keys)
            .where(schema.api_keys.c.prefix == prefix, schema.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        if done:
            audit.append(conn, "api_key_revoked", prefix, {}, now)
    GRANTS.forget()
    return bool(done)


__all__ = [
    "GRANTS",
    "Account",
    "ApiKey",
    "GrantCache",
    "Session",
    "add_account",
    "authenticate",
    "check_api_key",
    "close_session",
    "create_api_key",
    "disable_account",
    "list_accounts",
    "list_api_keys",
    "open_session",
    "revoke_api_key",
    "session_of",
]
