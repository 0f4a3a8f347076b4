"""Settings: the owner's identity and the rule parameters, from a TOML file.

Every key is optional. A rule setting may only make a rule stricter than the
law (``shared/spec/rules.md``), except ``phone_consent_max_age_days`` whose
legal source is unverified and which may be switched off with 0.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from listguard.errors import InputError
from listguard.netguard import check_link_url


@dataclass(frozen=True)
class Owner:
    name: str = "Organisme propriétaire"
    legal_name: str = ""
    address: str = ""
    privacy_policy_url: str = ""
    rights_contact: str = ""


@dataclass(frozen=True)
class RuleSettings:
    retention_years: int = 3
    bloctel_validity_days: int = 30
    phone_consent_max_age_days: int = 365
    bloctel_screening: str = "optional"


@dataclass(frozen=True)
class OutputSettings:
    csv_delimiter: str = ";"


@dataclass(frozen=True)
class NotifySettings:
    """How messages reach partners by email (the digest of their pending oppositions)."""

    smtp_host: str = ""  # empty: no email is sent
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password_env: str = ""  # the name of the environment variable holding the password
    sender: str = ""
    digest_minutes: int = 60  # at most one digest per partner in this many minutes


@dataclass(frozen=True)
class SeedSettings:
    """Control addresses planted in rented files (``seeds`` in an order)."""

    file: str = ""  # the seed pool; a relative path is read from the config file's folder


@dataclass(frozen=True)
class WebSettings:
    """``listguard serve``."""

    public_url: str = ""  # the address persons reach, for links (e.g. https://donnees.exemple.fr)
    deliveries_dir: str = "deliveries"  # where rentals delivered from the back office go
    form_rate_per_minute: int = 30  # per client, on the public forms and the sign-in
    # the reverse proxies (addresses or networks) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; from any other peer they are ignored
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineSettings:
    """How batch work uses the machine."""

    # DuckDB's memory for deciding an order, in MiB; past it, DuckDB spills to temporary
    # files (slower, never wrong). 2048 decides a 1,000,000-contact order on 4 channels
    # with little spilling.
    memory_mb: int = 2048


@dataclass(frozen=True)
class PropagationSettings:
    """Sending messages to partners."""

    # accept webhook addresses on this machine or a private network, and plain http:
    # for tests only (the commands warn at start while it is on)
    allow_private_endpoints: bool = False


@dataclass(frozen=True)
class Settings:
    owner: Owner = field(default_factory=Owner)
    rules: RuleSettings = field(default_factory=RuleSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    seeds: SeedSettings = field(default_factory=SeedSettings)
    web: WebSettings = field(default_factory=WebSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    propagation: PropagationSettings = field(default_factory=PropagationSettings)


LEGAL_MAXIMA = {"retention_years": 3, "bloctel_validity_days": 30}


def _section(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    known = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(unknown)}", where=where)
    data = dict(data)
    for key, value in data.items():
        if str(known[key]) == "tuple[str, ...]":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(
                    f"setting {key!r} must be a list of texts, got {value!r}", where=where
                )
            data[key] = tuple(value)
            continue
        expected = {"int": int, "bool": bool}.get(str(known[key]), str)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kind = {int: "a whole number", bool: "true or false"}.get(expected, "text")
            raise InputError(f"setting {key!r} must be {kind}, got {value!r}", where=where)
    return cls(**data)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path`` (or ``$LISTGUARD_CONFIG``); defaults when neither is given."""
    path = path or os.environ.get("LISTGUARD_CONFIG")
    if not path:
        return Settings()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("configuration file not found", where=str(p)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a valid TOML file: {exc}", where=str(p)) from None
    sections = {"owner", "rules", "output", "notify", "seeds", "web", "engine", "propagation"}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise InputError(f"unknown section(s) {', '.join(unknown)}", where=str(p))
    owner = _section(Owner, raw.get("owner", {}), f"{p} [owner]")
    rules = _section(RuleSettings, raw.get("rules", {}), f"{p} [rules]")
    output = _section(OutputSettings, raw.get("output", {}), f"{p} [output]")
    notify = _section(NotifySettings, raw.get("notify", {}), f"{p} [notify]")
    seeds = _section(SeedSettings, raw.get("seeds", {}), f"{p} [seeds]")
    web = _section(WebSettings, raw.get("web", {}), f"{p} [web]")
    engine = _section(EngineSettings, raw.get("engine", {}), f"{p} [engine]")
    propagation = _section(PropagationSettings, raw.get("propagation", {}), f"{p} [propagation]")
    if owner.privacy_policy_url:
        try:
            check_link_url(owner.privacy_policy_url, "privacy_policy_url")
        except InputError as exc:
            raise InputError(exc.message, where=f"{p} [owner]") from None
    if engine.memory_mb < 64:
        raise InputError("memory_mb must be at least 64", where=f"{p} [engine]")
    if web.deliveries_dir:
        web = replace(
            web,
            public_url=web.public_url.rstrip("/"),
            deliveries_dir=str((p.parent / web.deliveries_dir).resolve()),
        )
    for proxy in web.trusted_proxies:
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            raise InputError(
                f"trusted_proxies: {proxy!r} is not an IP address or network", where=f"{p} [web]"
            ) from None
    if seeds.file:
        seeds = SeedSettings(file=str((p.parent / seeds.file).resolve()))
    if notify.smtp_host and not notify.sender:
        raise InputError(
            "sender is required to send email (smtp_host is set)", where=f"{p} [notify]"
        )
    if notify.digest_minutes < 1:
        raise InputError("digest_minutes must be at least 1", where=f"{p} [notify]")
    for key, maximum in LEGAL_MAXIMA.items():
        value = getattr(rules, key)
        if not 0 < value <= maximum:
            raise InputError(
                f"{key} = {value}: a setting may only make the rule stricter "
                f"(between 1 and {maximum})",
                where=f"{p} [rules]",
            )
    if rules.phone_consent_max_age_days < 0:
        raise InputError(
            "phone_consent_max_age_days must be 0 (off) or a number of days", where=f"{p} [rules]"
        )
    if rules.bloctel_screening not in ("optional", "required"):
        raise InputError(
            f"bloctel_screening must be 'optional' or 'required', got {rules.bloctel_screening!r}",
            where=f"{p} [rules]",
        )
    if output.csv_delimiter not in (";", ",", "\t", "|"):
        raise InputError("csv_delimiter must be one of ; , | or a tab", where=f"{p} [output]")
    return Settings(
        owner=owner,
        rules=rules,
        output=output,
        notify=notify,
        seeds=seeds,
        web=web,
        engine=engine,
        propagation=propagation,
    )
