"""Offers the law bans (``rules.md``, "Offers the law bans"): ``banned_offer``, case by
case, on both rule packs, and an order's ``offer`` key.

The expected rows are computed here from the table of rules.md, independently of the
code: an offer, a channel, the audience of the contact and a campaign window that ends
before, spans or follows the ban's date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from listguard.errors import InputError
from listguard.renting.order import parse_order
from tests.scenario import ALL_CHANNELS, Scenario, contact

# rules.md, "Offers the law bans": (offer, channel) -> banned from
BANNED_FROM = {
    **{
        ("energy_renovation", ch): dt.date(2020, 7, 26) for ch in ("phone", "automated_call", "sms")
    },
    ("energy_renovation", "email"): dt.date(2025, 7, 2),
    **{
        ("home_adaptation", ch): dt.date(2025, 7, 2)
        for ch in ("phone", "automated_call", "sms", "email")
    },
}
OFFERS = ("general", "energy_renovation", "home_adaptation")
# (as_of, campaign_start, campaign_end): before, spanning and after each date of the table;
# the last two run under both packs (fr-2016 and fr-2026), then under fr-2026 alone
WINDOWS = {
    "ends the day before 2020-07-26": ("2020-07-01", "2020-07-01", "2020-07-25"),
    "spans 2020-07-26": ("2020-07-20", "2020-07-20", "2020-07-26"),
    "ends the day before 2025-07-02": ("2025-06-01", "2025-06-02", "2025-07-01"),
    "spans 2025-07-02": ("2025-06-20", "2025-06-25", "2025-07-10"),
    "spans 2026-08-11 (both packs)": ("2026-08-01", "2026-08-03", "2026-08-20"),
    "after every date (fr-2026)": ("2026-11-28", "2026-12-01", "2026-12-31"),
}


def _contacts() -> list[dict[str, str]]:
    """A consumer, a business, a consumer with an invalid email and one without any:
    collected before every window, with activity that keeps them within retention."""
    common = {"collected_at": "2020-01-10"}
    return [
        contact("B2C", **common),
        contact(
            "B2B",
            **common,
            audience="b2b",
            company="Exemple SA",
            email="achats@exemple-sa.example",
            mobile="06 12 34 56 01",
            address_line4="1 rue du Commerce",
        ),
        contact(
            "INVALID",
            **common,
            email="marie.autre@",
            mobile="06 12 34 56 02",
            address_line4="2 rue du Commerce",
        ),
        contact(
            "NOEMAIL",
            **common,
            email="",
            mobile="06 12 34 56 03",
            address_line4="3 rue du Commerce",
        ),
    ]


def _expected_banned(offer: str, channel: str, contact_id: str, end: str) -> bool:
    start = BANNED_FROM.get((offer, channel))
    if start is None or contact_id == "B2B":
        return False
    if contact_id == "NOEMAIL" and channel == "email":  # missing_coordinate stands alone
        return False
    return start <= dt.date.fromisoformat(end)


@pytest.fixture
def registry(any_engine: Engine, tmp_path: Path) -> Scenario:
    sc = Scenario(any_engine, tmp_path, contacts=_contacts())
    # activity before every delivery date, so no window is out of retention
    sc.events = [
        {
            "contact_id": c["contact_id"],
            "event": "interaction",
            "channel": "email",
            "scope": "own",
            "at": day,
            "via": "web_form",
        }
        for c in sc.contacts
        for day in ("2020-06-01", "2024-01-15", "2026-07-15")
    ]
    sc.load()
    return sc


@pytest.mark.parametrize("window", list(WINDOWS))
def test_banned_offer_table(registry: Scenario, window: str) -> None:
    """Each offer x channel x audience x window: ``banned_offer`` exactly where the table
    of rules.md says, in its place among the reasons, and nothing else changes."""
    as_of, start, end = WINDOWS[window]
    rows = {}
    for offer in OFFERS:
        _, decided = registry.rent(as_of=as_of, start=start, end=end, offer=offer, out=offer)
        rows[offer] = {(r["contact_id"], r["channel"]): r["reasons"] for r in decided}
    assert len(rows["general"]) == 4 * len(ALL_CHANNELS)
    for offer in OFFERS:
        for (cid, channel), reasons in rows[offer].items():
            codes = reasons.split("|") if reasons else []
            expected = _expected_banned(offer, channel, cid, end)
            assert ("banned_offer" in codes) == expected, (offer, cid, channel, reasons)
            # the ban adds itself and takes nothing away (nor over_limit/duplicate here)
            without = "|".join(c for c in codes if c != "banned_offer")
            assert without == rows["general"][(cid, channel)], (offer, cid, channel)
            if expected:
                # reasons are written in the order of the table of rules.md
                assert codes[: codes.index("banned_offer")] in ([], ["invalid_coordinate"])


def test_unknown_offer_is_refused_by_name() -> None:
    body = (
        'partner = "P1"\nchannels = ["phone"]\npurpose = "Pompes à chaleur"\n'
        'offer = "solar"\ncampaign_start = 2026-12-01\ncampaign_end = 2026-12-31\n'
        "as_of = 2026-11-28\n"
    )
    with pytest.raises(InputError) as err:
        parse_order(body, where="order.toml")
    assert "unknown offer 'solar'" in str(err.value)
    assert "energy_renovation" in str(err.value) and err.value.where == "order.toml"
    assert parse_order(body.replace('"solar"', '"home_adaptation"')).offer == "home_adaptation"
    assert parse_order(body.replace('offer = "solar"\n', "")).offer == "general"


def test_manifest_counts_and_sources_of_banned_offer(registry: Scenario) -> None:
    import json

    registry.rent(offer="home_adaptation", out="home")
    manifest = json.loads((registry.tmp / "home" / "manifest.json").read_text("utf-8"))
    assert manifest["order"]["offer"] == "home_adaptation"
    bans = manifest["rules"]["banned_offer"]["bans"]
    assert sorted(bans) == ["automated_call", "email", "phone", "sms"]  # never postal
    assert bans["email"]["banned_from"] == "2025-07-02"
    assert "L223-8" in bans["email"]["source"] and "[S]" in bans["email"]["source"]
    counts = manifest["counts"]
    # B2C and INVALID on every channel but postal; NOEMAIL's phones (its email is missing)
    assert counts["email"]["excluded_by_reason"]["banned_offer"] == 2
    assert counts["sms"]["excluded_by_reason"]["banned_offer"] == 3
    assert "banned_offer" not in counts["postal"]["excluded_by_reason"]
