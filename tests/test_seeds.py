"""Seeds: control addresses planted in a rented file, and traced back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from listguard.config import SeedSettings, Settings
from listguard.db import schema
from listguard.errors import InputError
from listguard.renting.seeds import trace
from tests.scenario import Scenario, contact, partner, write_csv
from tests.test_cli import ok, user_error

SEEDS = [
    {
        "seed_id": "S1",
        "civility": "M.",
        "first_name": "Témoin",
        "last_name": "Un",
        "address_line4": "1 rue du Contrôle",
        "postal_code": "69001",
        "city": "Lyon",
        "email": "Temoin.Un@Example.com",
        "phone": "",
    },
    {"seed_id": "S2", "email": "temoin.deux@example.com", "sms": "06 98 76 54 32"},
    {"seed_id": "S3", "phone": "01 44 55 66 77"},
]


def _settings(tmp: Path, rows: list[dict[str, str]] | None = None) -> Settings:
    path = write_csv(tmp / "seeds.csv", rows if rows is not None else SEEDS)
    return Settings(seeds=SeedSettings(file=str(path)))


def _partner_file(out: Path) -> list[dict[str, str]]:
    with (out / "contacts.csv").open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f, delimiter=";"))


def test_seeds_are_planted_among_the_contacts_and_recorded(
    any_engine: Engine, tmp_path: Path
) -> None:
    people = [
        contact(f"C{i}", email=f"c{i}@example.com", address_line4=f"{i} rue de la Paix")
        for i in range(1, 6)
    ]
    sc = Scenario(any_engine, tmp_path, contacts=people)
    sc.load()
    report, decisions = sc.rent(channels=("postal", "email"), seeds=2, settings=_settings(tmp_path))
    assert report.contacts_delivered == 5
    rows = _partner_file(tmp_path / "out")
    assert len(rows) == 7
    refs = [r["contact_ref"] for r in rows]
    assert len(set(refs)) == 7 and all(r.startswith(f"D{report.delivery_id}-") for r in refs)
    by_email = {r["email"]: r for r in rows}
    s1 = by_email["temoin.un@example.com"]  # normalised like any email
    assert (s1["last_name"], s1["city"], s1["postal_code"]) == ("Un", "Lyon", "69001")
    s2 = by_email["temoin.deux@example.com"]
    assert s2["last_name"] == "" and s2["city"] == ""  # no address: no postal fields
    assert "sms" not in s2  # only the rented channels' columns
    # seeds are not decisions and not in the ledger: oppositions never look for them
    assert {d["contact_id"] for d in decisions} == {f"C{i}" for i in range(1, 6)}
    with any_engine.connect() as conn:
        ledger = conn.execute(select(schema.ledger.c.contact_ref)).scalars().all()
        planted = conn.execute(
            select(schema.delivery_seeds.c.seed_id, schema.delivery_seeds.c.contact_ref)
        ).all()
    assert len(ledger) == 10
    assert {(sid, ref) for sid, ref in planted} == {
        ("S1", s1["contact_ref"]),
        ("S2", s2["contact_ref"]),
    }
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seeds"] == {"planted": 2, "seed_ids": ["S1", "S2"]}
    assert manifest["contacts_delivered"] == 5


def test_least_planted_seeds_go_first_and_trace_finds_them(engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(engine, tmp_path)
    sc.load()
    settings = _settings(tmp_path)
    sc.rent(channels=("phone", "sms", "email"), seeds=2, settings=settings, out="d1")
    sc.rent(channels=("phone", "sms", "email"), seeds=2, settings=settings, out="d2")
    with engine.connect() as conn:
        per = conn.execute(
            select(schema.delivery_seeds.c.delivery_id, schema.delivery_seeds.c.seed_id).order_by(
                schema.delivery_seeds.c.delivery_id, schema.delivery_seeds.c.seed_id
            )
        ).all()
        assert [tuple(r) for r in per] == [(1, "S1"), (1, "S2"), (2, "S1"), (2, "S3")]
        # as received: another spelling of the number, the email in capitals
        assert [(t.delivery_id, t.matched) for t in trace(conn, "+33 1 44 55 66 77")] == [
            (2, "phone")
        ]
        assert [t.delivery_id for t in trace(conn, "TEMOIN.UN@EXAMPLE.COM")] == [1, 2]
        assert [t.seed_id for t in trace(conn, "S2")] == ["S2"]
        assert trace(conn, "nobody@example.com") == []


def test_seed_problems_stop_the_rental_before_anything_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    sc = Scenario(engine, tmp_path)
    sc.load()
    with pytest.raises(InputError, match="no seed file is configured"):
        sc.rent(seeds=1)
    with pytest.raises(InputError, match="has 0 seed"):
        sc.rent(channels=("postal",), seeds=1, settings=_settings(tmp_path, [SEEDS[2]]))
    bad = [dict(SEEDS[1]), {"seed_id": "S9", "email": "not an email"}]
    with pytest.raises(InputError, match="not an email address") as err:
        sc.rent(seeds=1, settings=_settings(tmp_path, bad))
    assert str(err.value.where).endswith("seeds.csv:3")
    with pytest.raises(InputError, match="appears twice"):
        sc.rent(seeds=1, settings=_settings(tmp_path, [SEEDS[1], SEEDS[1]]))
    assert not (tmp_path / "out").exists()
    with engine.connect() as conn:
        assert conn.execute(select(schema.deliveries.c.id)).all() == []


def test_cli_trace(tmp_path: Path) -> None:
    write_csv(tmp_path / "seeds.csv", SEEDS)
    (tmp_path / "listguard.toml").write_text('[seeds]\nfile = "seeds.csv"\n', encoding="utf-8")
    write_csv(tmp_path / "partners.csv", [partner()])
    write_csv(tmp_path / "contacts.csv", [contact()])
    (tmp_path / "order.toml").write_text(
        'partner = "P1"\nchannels = ["email"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\nseeds = 1\n",
        encoding="utf-8",
    )
    config = ("--config", "listguard.toml")
    ok(tmp_path, "init")
    ok(tmp_path, "import", "partners", "partners.csv")
    ok(tmp_path, "import", "contacts", "contacts.csv")
    ok(tmp_path, *config, "rent", "order.toml", "--out", "d")
    out = ok(tmp_path, *config, "seeds", "trace", "temoin.un@example.com")
    assert "P1" in out and "S1" in out and "D1-" in out
    err = user_error(tmp_path, "seeds", "trace", "someone@else.example")
    assert "no delivery carried a seed" in err
