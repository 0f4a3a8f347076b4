"""What the back office and the API read from the registry, shared: one query each."""

from __future__ import annotations

import datetime as dt

from listguard import reads
from listguard.oppositions import record_opposition
from listguard.timeutil import day_start, now_ts
from tests.web_server import Site


def test_deliveries_of_one_partner_or_all_and_the_partners_states(site: Site) -> None:
    newest = reads.deliveries(site.engine)
    assert [(d.id, d.partner_id) for d in newest] == [(2, "P2"), (1, "P1")]
    assert newest[0].name and newest[0].kind == "rental" and newest[0].channels == "postal"
    oldest = reads.deliveries(site.engine, newest_first=False, limit=1)
    assert [d.id for d in oldest] == [1]
    assert [d.id for d in reads.deliveries(site.engine, partner_id="P1")] == [1]
    assert reads.deliveries(site.engine, partner_id="P1", delivery_id=2) == []  # P2's
    assert [d.id for d in reads.deliveries(site.engine, delivery_id=2)] == [2]
    before_p2 = day_start(dt.date(2026, 2, 1))
    states = {p["partner_id"]: p["state"] for p in reads.partners(site.engine, before_p2)}
    assert states == {"P1": "listed", "P2": "future"}
    now = {p["partner_id"]: p["state"] for p in reads.partners(site.engine, now_ts())}
    assert now == {"P1": "listed", "P2": "listed"}
    assert reads.delivery_of("D12-3") == 12 and reads.delivery_of("X12-3") == 0


def test_the_messages_queued_for_a_partner_and_what_it_reported(site: Site) -> None:
    record_opposition(site.engine, channel="all", contact_id="C1")  # P1 (email, sms), P2
    (mine,) = reads.partner_messages(site.engine, "P1")
    assert mine.status == "pending" and mine.key
    assert {x["channel"] for x in mine.content["contacts"]} == {"email", "sms"}
    assert reads.partner_messages(site.engine, "P3") == []
    ref = mine.content["contacts"][0]["contact_ref"]
    assert reads.contact_of_ref(site.engine, "P1", ref) == "C1"
    assert reads.contact_of_ref(site.engine, "P2", ref) is None  # not P2's reference
    (event,) = reads.opposition_events(site.engine)
    assert (event["event"], event["messages"], event["acknowledged"]) == ("opposition", 2, 0)
    assert reads.queued_for(site.engine, event["id"], "P1") == (2, 1)
