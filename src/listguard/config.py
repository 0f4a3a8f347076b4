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


# what ``[delivery] decisions_format`` may be
DECISIONS_FORMATS = ("auto", "csv", "parquet")


@dataclass(frozen=True)
class DeliverySettings:
    """The files of a delivery kept by the owner."""

    # ``decisions.csv`` or ``decisions.parquet`` (same columns, rows in the same order):
    # "auto" writes the CSV while it fits a spreadsheet's sheet, the Parquet file above
    # (``rules/files.py``, SPREADSHEET_ROWS)
    decisions_format: str = "auto"


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
class SmsSettings:
    """The owner's SMS adapter, for the codes a person asks to obtain their consent proof.
    listguard ships none: an adapter registered under ``provider`` is used (see
    ``listguard.proof.senders``); empty, no SMS is sent and the option is not offered."""

    provider: str = ""


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

    def link(self, path: str) -> str:
        """The address persons follow to ``path`` (``/droits/...``): under ``public_url``,
        or the bare path when it is not set."""
        return self.public_url.rstrip("/") + path


@dataclass(frozen=True)
class EngineSettings:
    """How batch work uses the machine."""

    # DuckDB's memory for deciding an order, in MiB; past it, DuckDB spills to temporary
    # files (slower, never wrong). A rental's processes together stay within about this
    # and 700 MiB more, whatever the size of the base (docs/benchmarks.md: 10 million
    # contacts on 4 channels in under 2 GiB with 1024).
    memory_mb: int = 1024
    # deduplication and linkage refuse, before comparing anything, a file whose blocking
    # passes make more candidate pairs than this (each pass counted alone): comparing
    # them takes hours and spills tens of GB (docs/benchmarks.md, ten million contacts)
    max_pairs: int = 100_000_000


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
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    seeds: SeedSettings = field(default_factory=SeedSettings)
    web: WebSettings = field(default_factory=WebSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    propagation: PropagationSettings = field(default_factory=PropagationSettings)


LEGAL_MAXIMA = {"retention_years": 3, "bloctel_validity_days": 30}


SECTIONS: dict[str, type[Any]] = {
    "owner": Owner,
    "rules": RuleSettings,
    "output": OutputSettings,
    "delivery": DeliverySettings,
    "notify": NotifySettings,
    "sms": SmsSettings,
    "seeds": SeedSettings,
    "web": WebSettings,
    "engine": EngineSettings,
    "propagation": PropagationSettings,
}


class SettingsError(InputError):
    """A settings file with several problems: each is listed with its section, so one
    run shows everything to correct."""

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = "".join(
            f"\n  [{section}] {message}" if section else f"\n  {message}"
            for section, message in problems
        )
        super().__init__(f"{len(problems)} problems in the settings:{lines}", where=path)


class _Problems:
    """The problems found in a settings file, each with its section ("" for the file)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, section: str, message: str) -> None:
        self.found.append((section, message))

    def raise_any(self, path: Path) -> None:
        """One problem is reported as it always was; several are reported together."""
        if len(self.found) == 1:
            section, message = self.found[0]
            raise InputError(message, where=f"{path} [{section}]" if section else str(path))
        if self.found:
            raise SettingsError(str(path), self.found)


def _section(cls: type[Any], data: Any, section: str, problems: _Problems) -> Any:
    """The section's settings with their types checked; a key in error keeps its
    default, so that the checks after this one still run."""
    if not isinstance(data, dict):
        problems.add(section, f"must be a table of settings, got {data!r}")
        return cls()
    known = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        problems.add(section, f"unknown setting(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue
        if str(known[key]) == "tuple[str, ...]":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.add(section, f"setting {key!r} must be a list of texts, got {value!r}")
                continue
            values[key] = tuple(value)
            continue
        expected = {"int": int, "bool": bool}.get(str(known[key]), str)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kind = {int: "a whole number", bool: "true or false"}.get(expected, "text")
            problems.add(section, f"setting {key!r} must be {kind}, got {value!r}")
            continue
        values[key] = value
    return cls(**values)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path`` (or ``$LISTGUARD_CONFIG``); defaults when neither is given.

    The whole file is checked before anything is refused: an :class:`InputError`
    names the one problem, a :class:`SettingsError` lists them all."""
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
    problems = _Problems()
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        problems.add("", f"unknown section(s) {', '.join(unknown)}")
    parsed = {
        name: _section(cls, raw.get(name, {}), name, problems) for name, cls in SECTIONS.items()
    }
    settings = _checked(Settings(**parsed), p, problems)
    problems.raise_any(p)
    return settings


def _checked(settings: Settings, p: Path, problems: _Problems) -> Settings:
    """The settings' values checked against each other and the law, with their paths
    made absolute (relative to the file's folder)."""
    owner, rules, output, notify = settings.owner, settings.rules, settings.output, settings.notify
    seeds, web, engine = settings.seeds, settings.web, settings.engine
    if owner.privacy_policy_url:
        try:
            check_link_url(owner.privacy_policy_url, "privacy_policy_url")
        except InputError as exc:
            problems.add("owner", exc.message)
    if engine.memory_mb < 64:
        problems.add("engine", "memory_mb must be at least 64")
    if engine.max_pairs < 1:
        problems.add("engine", "max_pairs must be at least 1")
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
            problems.add("web", f"trusted_proxies: {proxy!r} is not an IP address or network")
    if seeds.file:
        seeds = SeedSettings(file=str((p.parent / seeds.file).resolve()))
    if notify.smtp_host and not notify.sender:
        problems.add("notify", "sender is required to send email (smtp_host is set)")
    if notify.digest_minutes < 1:
        problems.add("notify", "digest_minutes must be at least 1")
    for key, maximum in LEGAL_MAXIMA.items():
        value = getattr(rules, key)
        if not 0 < value <= maximum:
            problems.add(
                "rules",
                f"{key} = {value}: a setting may only make the rule stricter "
                f"(between 1 and {maximum})",
            )
    if rules.phone_consent_max_age_days < 0:
        problems.add("rules", "phone_consent_max_age_days must be 0 (off) or a number of days")
    if rules.bloctel_screening not in ("optional", "required"):
        problems.add(
            "rules",
            f"bloctel_screening must be 'optional' or 'required', got {rules.bloctel_screening!r}",
        )
    if settings.delivery.decisions_format not in DECISIONS_FORMATS:
        problems.add(
            "delivery",
            "decisions_format must be 'auto', 'csv' or 'parquet', got "
            f"{settings.delivery.decisions_format!r}",
        )
    if output.csv_delimiter not in (";", ",", "\t", "|"):
        problems.add("output", "csv_delimiter must be one of ; , | or a tab")
    return replace(settings, web=web, seeds=seeds)
