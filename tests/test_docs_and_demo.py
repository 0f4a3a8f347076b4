"""The documentation matches the code; the demo runs end to end."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sqlalchemy import text

from listguard.cli.reference import render

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_generated_from_the_commands() -> None:
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date: python -m listguard.cli.reference > docs/cli.md"
    )


def test_every_setting_is_documented() -> None:
    from listguard.config import Settings

    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section in dataclasses.fields(Settings):  # every section, every key
        assert f"\n[{section.name}]" in doc, f"[{section.name}] is not in docs/configuration.md"
        for f in dataclasses.fields(getattr(Settings(), section.name)):
            assert f"\n{f.name} = " in doc, f"setting {f.name} is not in docs/configuration.md"


def test_demo_runs_the_whole_flow(tmp_path: Path) -> None:
    from listguard.config import Settings
    from listguard.demo.run import run_demo

    out = tmp_path / "demo"
    run_demo(None, Settings(), 600, out, seed=7)
    deliveries = sorted(p.name for p in out.glob("delivery-*"))
    assert deliveries == ["delivery-2026-06-15", "delivery-2026-11-28"]
    before = json.loads((out / "delivery-2026-06-15" / "manifest.json").read_text("utf-8"))
    after = json.loads((out / "delivery-2026-11-28" / "manifest.json").read_text("utf-8"))
    assert [p["id"] for p in before["rule_packs"]] == ["fr-2016"]
    assert [p["id"] for p in after["rule_packs"]] == ["fr-2026"]
    assert after["contacts_delivered"] > 0 and before["contacts_delivered"] > 0
    # the demo's messy base produces the reasons a reader expects to see
    reasons = set(after["counts"]["phone"]["excluded_by_reason"])
    assert {"no_consent", "bloctel_listed", "invalid_coordinate"} <= reasons
    assert (out / "input" / "contacts.rejects.csv").exists()
    # the demo leaves what `serve` needs: its settings and an admin account
    from listguard.config import load_settings
    from listguard.storage.engine import make_engine

    served = load_settings(out / "listguard.toml")
    assert served.owner.name == "Éditions Exemple" and served.seeds.file
    with make_engine(f"sqlite:///{out / 'listguard.db'}").connect() as conn:
        hashed = conn.execute(text("SELECT password_hash FROM accounts")).scalar_one()
    assert hashed.startswith("$argon2id$")
    # the second order plants three of the owner's control addresses
    assert after["seeds"] == {"planted": 3, "seed_ids": ["T01", "T02", "T03"]}
    # an opposition after the rentals reached the partner's drop folder
    assert len(list((out / "partner-drop").rglob("*.csv"))) >= 1
    # a second run rebuilds the demo's own folder from scratch: same seed, same deliveries
    run_demo(None, Settings(), 600, out, seed=7)
    again = json.loads((out / "delivery-2026-11-28" / "manifest.json").read_text("utf-8"))
    assert again["delivery_id"] == after["delivery_id"]
    assert again["counts"] == after["counts"]
