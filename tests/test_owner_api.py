"""The owner API through a real server on loopback: a CRM explains a decision as
``listguard check`` does, previews an order, delivers it under the preview's hash
(and only then), reads the deliveries and their files back; keys without the scope,
partners' keys and unknown keys are refused; every action is in the audit log."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from listguard.accounts import create_api_key
from listguard.config import DeliverySettings
from listguard.errors import InputError
from listguard.renting.check_order import CheckOptions
from listguard.renting.order_hash import OrderChanged, canonical, order_hash, same_order
from listguard.renting.turn import LOCK_FILE, Busy, rental_turn
from listguard.rules.check import explain
from listguard.web.app import create_app
from tests.scenario import Scenario, contact, partner
from tests.web_server import Site, served_site, serving, web_settings

ORDER_TOML = """# the CRM's order
partner = "P1"
channels = ["email", "sms"]
purpose = "Offre d'abonnement"
campaign_start = 2026-12-01
campaign_end = 2026-12-31
as_of = 2026-11-28
"""
AS_OF = dt.date(2026, 11, 28)
ORDER_JSON = {
    "channels": ["email", "sms"],
    "partner": "P1",
    "purpose": "Offre d'abonnement",
    "campaign_start": "2026-12-01",
    "campaign_end": "2026-12-31",
    "as_of": "2026-11-28",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _audit(site: Site, action: str) -> list[tuple[str | None, dict[str, object]]]:
    with site.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT subject, detail FROM audit_log WHERE action = :a ORDER BY id"),
            {"a": action},
        ).all()
    return [(r.subject, json.loads(r.detail)) for r in rows]


def _deliveries(site: Site) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())


def test_the_order_hash_is_the_orders_content_not_its_spelling() -> None:
    h = order_hash(ORDER_TOML, AS_OF)
    assert len(h) == 64 and int(h, 16) >= 0
    respelled = (
        'as_of = "2026-11-28"  # a date written as a string\n'
        "campaign_end   = 2026-12-31\ncampaign_start = 2026-12-01\n"
        "purpose = \"Offre d'abonnement\"\nchannels = [ 'email', 'sms' ]\npartner = 'P1'\n"
    )
    assert order_hash(respelled, AS_OF) == h
    assert canonical(ORDER_TOML).startswith('{"as_of":"2026-11-28","campaign_end"')
    assert order_hash(ORDER_TOML.replace('"sms"', '"postal"'), AS_OF) != h
    assert order_hash(ORDER_TOML.replace("2026-12-31", "2027-01-31"), AS_OF) != h
    assert order_hash(ORDER_TOML + "limit = 10\n", AS_OF) != h
    # the day decided as of is part of it: an order naming none, previewed on one day,
    # is not the order decided the next
    assert order_hash(ORDER_TOML, AS_OF + dt.timedelta(days=1)) != h
    assert same_order(ORDER_TOML, AS_OF, f"  {h.upper()} ") == h
    with pytest.raises(OrderChanged, match="not the order previewed"):
        same_order(ORDER_TOML, AS_OF, "0" * 64)
    with pytest.raises(InputError, match="not a valid TOML"):
        order_hash("partner = ", AS_OF)


def test_a_key_needs_the_scope_and_a_partners_key_never_passes(site: Site) -> None:
    forms, _ = create_api_key(site.engine, role="machine", scopes=("oppositions:write",))
    # a partner's key holding deliveries:read: its own deliveries only, never the owner's
    assert (
        "deliveries:read" in create_api_key(site.engine, role="partner", partner_id="P1")[1].scopes
    )
    calls = [
        ("post", "/api/v1/owner/decisions/explain", {"contact_id": "C1", "channel": "email"}),
        ("post", "/api/v1/owner/rentals/preview", {"order_toml": ORDER_TOML}),
        (
            "post",
            "/api/v1/owner/rentals/deliver",
            {"order_toml": ORDER_TOML, "order_hash": "0" * 64},
        ),
        ("get", "/api/v1/owner/deliveries", None),
        ("get", "/api/v1/owner/deliveries/1", None),
        ("get", "/api/v1/owner/deliveries/1/decisions.csv", None),
    ]
    with site.client() as c:
        for method, path, body in calls:
            for key, status in ((forms, 403), (site.p1, 403), ("lg_nope_nope", 401), ("", 401)):
                headers = bearer(key) if key else {}
                answer = c.request(method, path, json=body, headers=headers)
                assert answer.status_code == status, (path, key, answer.text)
                assert "detail" in answer.json()
        # the partner's own route serves its own files only: never the owner's decisions
        own = c.get("/api/v1/partner/deliveries/1/decisions.parquet", headers=bearer(site.p1))
        assert own.status_code == 422
    assert _deliveries(site) == 2  # nothing delivered by a refused key


def test_explain_is_check_as_data(site: Site) -> None:
    with site.client() as c:
        answer = c.post(
            "/api/v1/owner/decisions/explain",
            json={"contact_id": "C2", "channel": "sms", "partner": "P1", "as_of": "2026-11-28"},
            headers=bearer(site.machine),
        )
        assert answer.status_code == 200, answer.text
        got = answer.json()
        past = c.post(
            "/api/v1/owner/decisions/explain",
            json={"contact_id": "C1", "channel": "email", "delivery": 1},
            headers=bearer(site.machine),
        ).json()
        unknown = c.post(
            "/api/v1/owner/decisions/explain",
            json={"contact_id": "NOBODY", "channel": "email", "partner": "P1"},
            headers=bearer(site.machine),
        )
    options = CheckOptions(partner="P1", channel="sms", as_of=dt.date(2026, 11, 28))
    assert got["text"] == explain(site.engine, web_settings(site.tmp), "C2", options)
    assert (got["contact_id"], got["partner"], got["channel"]) == ("C2", "P1", "sms")
    # C2 has no mobile: one row, no number, excluded with its reason and source
    (row,) = got["coordinates"]
    assert row["coordinate"] is None and row["eligible"] is False
    assert row["reasons"] and all(r["code"] and r["source"] for r in row["reasons"])
    assert all(f"    {r['code']}: {r['rule']}" in got["text"] for r in row["reasons"])
    # a past delivery's row, under its order as recorded
    assert past["delivery"] == 1 and past["coordinates"][0]["coordinate"] == "c1@example.com"
    assert past["coordinates"][0]["eligible"] is True
    assert past["text"] == explain(
        site.engine, web_settings(site.tmp), "C1", CheckOptions(channel="email", delivery=1)
    )
    assert unknown.status_code == 400 and "unknown contact 'NOBODY'" in unknown.json()["detail"]
    # audited by the key, the person named by keyed digest only
    entries = _audit(site, "decision_explained")
    assert len(entries) == 2
    subject, detail = entries[0]
    assert subject and len(subject) == 64 and "C2" not in subject
    assert str(detail["by"]).startswith("key:") and detail["channel"] == "sms"


@pytest.fixture
def any_site(any_engine: Engine, tmp_path: Path) -> Iterator[Site]:
    """The served site on SQLite, then on PostgreSQL."""
    with served_site(any_engine, tmp_path) as served:
        yield served


def test_preview_then_deliver_only_what_was_previewed(any_site: Site) -> None:
    site = any_site
    key = bearer(site.machine)
    with site.client() as c:
        as_toml = c.post(
            "/api/v1/owner/rentals/preview", json={"order_toml": ORDER_TOML}, headers=key
        )
        as_json = c.post("/api/v1/owner/rentals/preview", json={"order": ORDER_JSON}, headers=key)
        assert as_toml.status_code == as_json.status_code == 200, as_toml.text
        preview = as_toml.json()
        assert preview == as_json.json()  # the same order, the same hash and counts
        assert preview["order_hash"] == order_hash(ORDER_TOML, AS_OF)
        assert preview["channels"]["email"] == {
            "coordinates": 2,
            "eligible": 2,
            "excluded_by_reason": {},
        }
        assert preview["channels"]["sms"]["excluded_by_reason"]  # C2 has no mobile
        assert _deliveries(site) == 2  # a preview records nothing
        # another order under the preview's hash: refused, nothing delivered
        other = {**ORDER_JSON, "channels": ["email"]}
        refused = c.post(
            "/api/v1/owner/rentals/deliver",
            json={"order": other, "order_hash": preview["order_hash"]},
            headers=key,
        )
        assert refused.status_code == 409 and "not the order previewed" in refused.text
        assert _deliveries(site) == 2
        both = c.post(
            "/api/v1/owner/rentals/deliver",
            json={"order": ORDER_JSON, "order_toml": ORDER_TOML, "order_hash": "0" * 64},
            headers=key,
        )
        assert both.status_code == 400 and "exactly one of" in both.text
        done = c.post(
            "/api/v1/owner/rentals/deliver",
            json={"order": ORDER_JSON, "order_hash": preview["order_hash"]},
            headers=key,
        )
        assert done.status_code == 201, done.text
        delivered = done.json()
        delivery_id = delivered["delivery_id"]
        assert delivery_id == 3 and _deliveries(site) == 3
        assert delivered["contacts_delivered"] == preview["contacts"]
        assert delivered["channels"] == preview["channels"]
        assert {"contacts.csv", "notice.txt", "manifest.json"} <= set(delivered["files"])
        # read back: listed, its counts and manifest, its files
        listed = c.get("/api/v1/owner/deliveries?limit=2", headers=key).json()
        assert [d["delivery_id"] for d in listed] == [3, 2]
        assert (
            c.get("/api/v1/owner/deliveries?partner=P2", headers=key).json()[0]["partner"] == "P2"
        )
        one = c.get(f"/api/v1/owner/deliveries/{delivery_id}", headers=key).json()
        assert one["order_hash"] == preview["order_hash"] and one["counts"] == preview["channels"]
        assert one["manifest"]["contacts_delivered"] == delivered["contacts_delivered"]
        decisions = c.get(f"/api/v1/owner/deliveries/{delivery_id}/decisions.csv", headers=key)
        assert decisions.status_code == 200 and "C2" in decisions.text
        assert decisions.headers["content-type"].startswith("text/csv")
        assert c.get("/api/v1/owner/deliveries/99/notice.txt", headers=key).status_code == 404
        for name in ("..%2Fregistry.db", "registry.db", "%2E%2E", "%2Fetc%2Fpasswd"):
            assert c.get(
                f"/api/v1/owner/deliveries/{delivery_id}/{name}", headers=key
            ).status_code in (404, 422)
        # the folder is in [web] deliveries_dir, named from the partner
        folder = Path(site.tmp / "deliveries")
        (made,) = [p for p in folder.iterdir() if p.is_dir()]
        assert made.name.startswith("delivery-P1-")
        (made / "decisions.csv").unlink()
        gone = c.get(f"/api/v1/owner/deliveries/{delivery_id}/decisions.csv", headers=key)
        assert gone.status_code == 410
    # every action audited under the key
    prefix = site.machine.split("_")[1]
    assert [d["by"] for _, d in _audit(site, "rental_previewed")] == [f"key:{prefix}"] * 2
    ((partner, detail),) = _audit(site, "rental_delivered")
    assert partner == "P1" and detail["delivery"] == delivery_id
    assert detail["order_hash"] == preview["order_hash"]
    assert [d["file"] for _, d in _audit(site, "delivery_file_read")] == ["decisions.csv"]


def test_one_rental_at_a_time(site: Site) -> None:
    key = bearer(site.machine)
    preview = order_hash(ORDER_TOML, AS_OF)
    with rental_turn(site.tmp / "deliveries"), site.client() as c:
        # another rental holds the turn (here the test; in life another request or worker)
        busy = c.post(
            "/api/v1/owner/rentals/deliver",
            json={"order_toml": ORDER_TOML, "order_hash": preview},
            headers=key,
        )
        assert busy.status_code == 423 and "try again" in busy.json()["detail"]
        assert (
            c.post(
                "/api/v1/owner/rentals/preview", json={"order_toml": ORDER_TOML}, headers=key
            ).status_code
            == 423
        )
        with pytest.raises(Busy), rental_turn(site.tmp / "deliveries"):
            pass
    assert (site.tmp / "deliveries" / LOCK_FILE).is_file()
    assert _deliveries(site) == 2
    with site.client() as c:  # the turn released: delivered
        done = c.post(
            "/api/v1/owner/rentals/deliver",
            json={"order_toml": ORDER_TOML, "order_hash": preview},
            headers=key,
        )
        assert done.status_code == 201, done.text


def test_bad_orders_are_told_what_and_where(site: Site) -> None:
    key = bearer(site.machine)
    with site.client() as c:
        for body, status, said in (
            ({"order_toml": "partner = "}, 400, "not a valid TOML"),
            ({"order_toml": ORDER_TOML.replace("P1", "NOPE")}, 400, "unknown partner 'NOPE'"),
            ({"order": {**ORDER_JSON, "campaign_end": "2026-11-01"}}, 400, "before it starts"),
            ({"order": {**ORDER_JSON, "segment": {"audience": "b2b"}}}, 200, '"contacts":0'),
            ({"order_toml": ORDER_TOML + "limit = 99999999999999999999\n"}, 200, '"contacts":2'),
            ({}, 400, "exactly one of"),
        ):
            answer = c.post("/api/v1/owner/rentals/preview", json=body, headers=key)
            assert answer.status_code == status and said in answer.text, (body, answer.text)
        strange = c.post(
            "/api/v1/owner/rentals/preview",
            json={"order": {**ORDER_JSON, "purpose": 'Offre "spéciale"\\ \u007f\n'}},
            headers=key,
        )
        assert strange.status_code == 200
        assert strange.json()["order_hash"] == order_hash(
            ORDER_TOML.replace("Offre d'abonnement", 'Offre \\"spéciale\\"\\\\ \\u007F\\n'),
            AS_OF,
        )


def test_the_owner_reads_decisions_parquet(engine: Engine, tmp_path: Path) -> None:
    """A registry delivering decisions.parquet: the owner's key downloads it whole."""
    Scenario(engine, tmp_path, contacts=[contact("C1")], partners=[partner("P1")]).load()
    settings = replace(
        web_settings(tmp_path), delivery=DeliverySettings(decisions_format="parquet")
    )
    key, _ = create_api_key(engine, role="machine", scopes=("rentals:deliver", "deliveries:read"))
    with (
        serving(create_app(engine, settings)) as url,
        httpx.Client(base_url=url, timeout=60, headers=bearer(key)) as c,
    ):
        done = c.post(
            "/api/v1/owner/rentals/deliver",
            json={"order_toml": ORDER_TOML, "order_hash": order_hash(ORDER_TOML, AS_OF)},
        )
        assert done.status_code == 201, done.text
        assert "decisions.parquet" in done.json()["files"]
        got = c.get(f"/api/v1/owner/deliveries/{done.json()['delivery_id']}/decisions.parquet")
        assert got.status_code == 200
        assert got.headers["content-type"] == "application/vnd.apache.parquet"
        table = pq.read_table(io.BytesIO(got.content))
        assert table.num_rows >= 2 and "contact_id" in table.column_names


def test_the_key_commands_help_names_every_scope_of_the_owners_systems(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from listguard.accounts import SCOPES
    from listguard.cli.main import run

    with pytest.raises(SystemExit):
        run(["api-key", "create", "--help"])
    said = capsys.readouterr().out
    assert [s for s in SCOPES["machine"] if s not in said] == []
