"""Building registries for tests through the real import and renting paths."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from listguard.bloctel import import_result
from listguard.config import RuleSettings, Settings
from listguard.imports import import_file
from listguard.renting.deliver import DeliveryReport, rent
from listguard.renting.order import parse_order

ALL_CHANNELS = ("postal", "phone", "automated_call", "sms", "email")


def listguard(registry: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``listguard ARGS`` in a process of its own, on the SQLite ``registry``, from ``cwd``
    (no settings file but the one the arguments name)."""
    env = {**os.environ, "LISTGUARD_DATABASE_URL": f"sqlite:///{registry}"}
    env.pop("LISTGUARD_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "listguard", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def write_csv(
    path: Path, rows: list[dict[str, Any]], delimiter: str = ";", encoding: str = "utf-8"
) -> Path:
    names: list[str] = []
    for row in rows:
        for k in row:
            if k not in names:
                names.append(k)
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.DictWriter(f, fieldnames=names, delimiter=delimiter)
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def contact(contact_id: str = "C1", **over: Any) -> dict[str, Any]:
    """A contact who may be rented on every channel, unless ``over`` says otherwise."""
    row: dict[str, Any] = {
        "contact_id": contact_id,
        "civility": "Madame",
        "first_name": "Marie",
        "last_name": "Exemple",
        "address_line4": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "mobile": "06 12 34 56 78",
        "email": "marie.exemple@example.com",
        "collected_at": "2026-01-10",
        "partners_postal": "informed",
        "partners_phone": "consent",
        "partners_automated_call": "consent",
        "partners_sms": "consent",
        "partners_email": "consent",
    }
    row.update(over)
    return row


def partner(partner_id: str = "P1", **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "partner_id": partner_id,
        "name": f"Partenaire {partner_id}",
        "category": "vins",
        "sector": "commercial",
        "listed_from": "2020-01-01",
        "listed_until": "",
    }
    row.update(over)
    return row


@dataclass
class Scenario:
    engine: Engine
    tmp: Path
    contacts: list[dict[str, Any]] = field(default_factory=lambda: [contact()])
    partners: list[dict[str, Any]] = field(default_factory=lambda: [partner()])
    events: list[dict[str, Any]] = field(default_factory=list)
    suppression: list[dict[str, Any]] = field(default_factory=list)
    screenings: list[tuple[dt.date, dict[str, str]]] = field(default_factory=list)

    def load(self) -> None:
        for kind, rows in (
            ("partners", self.partners),
            ("contacts", self.contacts),
            ("events", self.events),
            ("suppression", self.suppression),
        ):
            if rows:
                import_file(self.engine, kind, write_csv(self.tmp / f"{kind}.csv", rows))
        for i, (day, results) in enumerate(self.screenings):
            rows = [
                {"Telephone": number, "Identifiant": n, "Resultat": status}
                for n, (number, status) in enumerate(results.items(), 1)
            ]
            import_result(self.engine, write_csv(self.tmp / f"bloctel{i}.csv", rows), day)

    def rent(
        self,
        *,
        channels: tuple[str, ...] = ALL_CHANNELS,
        as_of: str = "2026-11-28",
        start: str | None = None,
        end: str | None = None,
        partner: str = "P1",
        call_purpose: str = "commercial",
        offer: str = "general",
        limit: int | None = None,
        rules: RuleSettings | None = None,
        settings: Settings | None = None,
        seeds: int = 0,
        out: str = "out",
        progress: Callable[[str], None] | None = None,
    ) -> tuple[DeliveryReport, list[dict[str, str]]]:
        day = dt.date.fromisoformat(as_of)
        start = start or (day + dt.timedelta(days=3)).isoformat()
        end = end or (day + dt.timedelta(days=33)).isoformat()
        body = (
            f'partner = "{partner}"\nchannels = {list(channels)!r}\n'
            f'purpose = "Offre test"\ncall_purpose = "{call_purpose}"\noffer = "{offer}"\n'
            f"campaign_start = {start}\ncampaign_end = {end}\nas_of = {as_of}\n"
        ).replace("'", '"')
        if limit is not None:
            body += f"limit = {limit}\n"
        body += f"seeds = {seeds}\n"
        order = parse_order(body)
        settings = settings or Settings(rules=rules or RuleSettings())
        target = self.tmp / out
        report = rent(self.engine, order, target, settings, progress=progress)
        with (target / "decisions.csv").open(encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f, delimiter=";"))
        return report, rows


def reasons_by_channel(rows: list[dict[str, str]], contact_id: str = "C1") -> dict[str, str]:
    """channel -> reasons of the contact's row ('' when eligible); one coordinate per channel."""
    out: dict[str, str] = {}
    for r in rows:
        if r["contact_id"] != contact_id:
            continue
        assert r["channel"] not in out, f"several rows for {r['channel']}: use rows directly"
        assert (r["decision"] == "eligible") == (r["reasons"] == "")
        out[r["channel"]] = r["reasons"]
    return out
