"""``listguard demo``: the whole flow on a sample base, with a summary a person can read."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from listguard.config import Owner, SeedSettings, Settings
from listguard.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

MARKER = ".listguard-demo"

ORDERS = {
    "order-2026-06.toml": """\
# Before 2026-08-11 (rule pack fr-2016): calls by a person are opt-out, Bloctel required
partner = "P0003"
channels = ["postal", "phone", "email"]
purpose = "Offres de vins et coffrets cadeaux de Caves Exemple"
call_purpose = "commercial"
campaign_start = 2026-06-20
campaign_end = 2026-07-31
as_of = 2026-06-15
""",
    "order-2026-12.toml": """\
# After 2026-08-11 (rule pack fr-2026): calls to consumers need consent
partner = "P0003"
channels = ["postal", "phone", "sms", "email"]
purpose = "Offres de fin d'année de Caves Exemple"
call_purpose = "commercial"
campaign_start = 2026-12-01
campaign_end = 2027-01-31
as_of = 2026-11-28
limit = 40000
seeds = 3                     # control addresses of demo/seeds.csv planted in the file
""",
}
SCREENINGS = (dt.date(2026, 6, 12), dt.date(2026, 11, 25))
# the owner's control addresses (a team member's home, dedicated mailboxes and lines)
SEEDS = """\
seed_id;civility;first_name;last_name;address_line4;postal_code;city;phone;sms;email
T01;Madame;Claire;Témoin;8 rue des Lilas;33000;Bordeaux;05 56 00 00 01;;temoin@editions.example.com
T02;;;;;;;;06 00 00 00 02;controle-1@editions.example.com
T03;;;;;;;01 40 00 00 03;;controle-2@editions.example.com
T04;Monsieur;Paul;Témoin;3 place du Marché;59000;Lille;;;controle-3@editions.example.com
"""


def _prepare(out: Path) -> None:
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise InputError(
                "the folder exists and was not made by the demo: choose another --out",
                where=str(out),
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by listguard demo; deleted and rebuilt by the next run\n")


def run_demo(db: str | None, settings: Settings, n: int, out: Path, seed: int) -> None:
    from rich.console import Console

    from listguard.bloctel import FakeBloctel, export_numbers, import_result
    from listguard.cli.output import print_counts, progress_rows
    from listguard.db.migrate import upgrade
    from listguard.demo.generate import generate
    from listguard.imports import import_file
    from listguard.renting.deliver import rent
    from listguard.renting.order import load_order
    from listguard.storage.engine import make_engine

    console = Console(stderr=False)
    _prepare(out)
    url = db or f"sqlite:///{out / 'listguard.db'}"
    if db:
        engine = make_engine(url)
        from sqlalchemy import inspect, text

        if "contacts" in inspect(engine).get_table_names():
            with engine.connect() as conn:
                if conn.execute(text("SELECT COUNT(*) FROM contacts")).scalar_one():
                    raise InputError(
                        f"the registry {url!r} already holds contacts: the demo needs an empty one"
                    )
    (out / "seeds.csv").write_text(SEEDS, encoding="utf-8")
    settings = replace(settings, seeds=SeedSettings(file=str(out / "seeds.csv")))
    if settings.owner.name == Owner().name:
        settings = replace(
            settings,
            owner=Owner(
                name="Éditions Exemple",
                legal_name="Éditions Exemple SAS",
                address="1 rue de l'Exemple, 75002 Paris",
                privacy_policy_url="https://editions.example.com/confidentialite",
                rights_contact="dpo@editions.example.com",
            ),
        )
    started = time.perf_counter()
    console.print(f"[bold]listguard demo[/bold]: {n:,} contacts, files in {out}/")
    files = generate(out / "input", n, seed)
    console.print(
        f"sample files written in {time.perf_counter() - started:.1f} s: "
        + ", ".join(p.name for p in files.values())
    )
    engine = make_engine(url)
    upgrade(engine)
    for kind in ("partners", "contacts", "events", "suppression"):
        t0 = time.perf_counter()
        with progress_rows(f"importing {kind}") as advance:
            report = import_file(engine, kind, files[kind], settings=settings, progress=advance)
        console.print(
            f"import {kind}: {report.rows_read:,} rows, {report.rows_imported:,} recorded, "
            f"{report.rows_rejected:,} rejected ({time.perf_counter() - t0:.1f} s)"
            + (f" -> {report.rejects_path}" if report.rejects_path else "")
        )
    fake = FakeBloctel([])
    rng = np.random.default_rng(seed)
    for day in SCREENINGS:
        export = out / "bloctel" / f"export-{day}.csv"
        result = out / "bloctel" / f"result-{day}.csv"
        count = export_numbers(engine, export, settings.rules, day, include_screened=True)
        import polars as pl

        numbers = pl.read_csv(export, separator=";", schema_overrides={"Telephone": pl.String})
        registered = numbers["Telephone"].sample(fraction=0.08, seed=int(rng.integers(1 << 30)))
        fake = FakeBloctel(registered.to_list())
        listed = fake.screen(export, result)
        import_result(engine, result, day)
        console.print(
            f"Bloctel screening of {day} (fake service): {count:,} numbers, {listed:,} registered"
        )
    for name, body in ORDERS.items():
        path = out / name
        path.write_text(body, encoding="utf-8")
        order = load_order(path)
        target = out / f"delivery-{order.as_of}"
        t0 = time.perf_counter()
        delivery = rent(engine, order, target, settings)
        console.print()
        console.print(
            f"[bold]{name}[/bold] -> {order.partner}, rule pack(s) {', '.join(delivery.packs)}: "
            f"{delivery.contacts_delivered:,} contacts delivered in {target}/ "
            f"({time.perf_counter() - t0:.1f} s)"
            + (f", with {order.seeds} seeds of {out / 'seeds.csv'}" if order.seeds else "")
        )
        print_counts(order.channels, delivery.counts, delivery.eligible)
    objector = _opposition_travels(engine, out, console)
    config, password, key = _web_access(engine, settings, out)
    console.print()
    console.print(f"done in {time.perf_counter() - started:.1f} s. Explore:")
    console.print(f"  listguard --db {url} --config {config} serve")
    console.print(
        "  then open http://127.0.0.1:8000/ (public pages) and /admin, signed in as "
        f"[bold]{DEMO_ADMIN}[/bold] with password [bold]{password}[/bold]"
    )
    console.print(f"  partner P0003's API key (see /api/docs): {key}")
    console.print(f"  listguard --db {url} check C0000001 --partner P0003 --channel phone")
    console.print("  each delivery folder holds contacts.csv and notice.txt (for the partner),")
    console.print("  decisions.csv and manifest.json (kept by the owner)")
    console.print(f"  listguard --db {url} oppositions status")
    console.print(f"  listguard --db {url} seeds trace controle-1@editions.example.com")
    if objector:
        console.print(f"  listguard --db {url} rights access --contact {objector}")


DEMO_ADMIN = "admin@demo.example"


def _toml_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _web_access(engine: Engine, settings: Settings, out: Path) -> tuple[Path, str, str]:
    """The demo's settings file (for ``serve``), an admin account with a fresh password,
    and an API key for the partner of the sample orders."""
    import secrets

    from listguard.accounts import add_account, create_api_key

    owner = settings.owner
    lines = ["[owner]"]
    for name in ("name", "legal_name", "address", "privacy_policy_url", "rights_contact"):
        lines.append(f"{name} = {_toml_text(getattr(owner, name))}")
    lines += ["", "[seeds]", 'file = "seeds.csv"', "", "[web]", 'deliveries_dir = "deliveries"']
    config = out / "listguard.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    password = secrets.token_urlsafe(12)
    add_account(engine, DEMO_ADMIN, password, "admin")
    key, _ = create_api_key(engine, role="partner", partner_id="P0003", label="demo")
    return config, password, key


def _opposition_travels(engine: Engine, out: Path, console: Any) -> str | None:
    """After the rentals, a person delivered to the partner objects: the opposition is
    recorded, the message to the partner queued, and sent to its drop folder."""
    from sqlalchemy import text

    from listguard.audit import verify
    from listguard.oppositions import record_opposition
    from listguard.propagation.transports.file_drop import FileDropTransport
    from listguard.propagation.transports.routing import Transports
    from listguard.propagation.worker import run_once

    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT l.contact_id FROM ledger l JOIN deliveries d ON d.id = l.delivery_id "
                "WHERE l.channel = 'email' ORDER BY d.id DESC, l.contact_id LIMIT 1"
            )
        ).first()
    if row is None:
        return None
    recorded = record_opposition(engine, channel="all", contact_id=row[0], via="web_form")
    drop = out / "partner-drop"
    sent = run_once(engine, Transports(file_drop=FileDropTransport(drop)))
    console.print()
    console.print(
        f"{row[0]} objects after being rented: {recorded.messages} message(s) queued for the "
        f"partners holding the contact, {sent.sent} sent to {drop}/ (a webhook where the "
        f"partner gives a URL); audit log intact: {verify(engine).ok}"
    )
    return str(row[0])
