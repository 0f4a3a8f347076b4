"""The domain's values and rules, the same on every route: scopes and vias read once,
the retention period taken from the settings by the imports as by the forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.config import RuleSettings, Settings
from listguard.domain.retention import Retention
from listguard.domain.scopes import Scope, ViaOf, parse_scope, parse_via
from listguard.errors import InputError
from listguard.imports import import_file
from listguard.oppositions import record_opposition
from listguard.timeutil import now_ts, today
from tests.scenario import Scenario, contact, partner, write_csv


def _partners_told(engine: Engine, event_where: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT o.partner_id FROM outbox o JOIN events e ON e.id = o.event_id "
                f"WHERE {event_where} ORDER BY o.partner_id"
            )
        ).all()
    return [r[0] for r in rows]


def test_an_opposition_from_a_file_and_from_the_form_reach_the_same_partners(
    any_engine: Engine, tmp_path: Path
) -> None:
    """With a 2-year retention, a partner whose delivery is 30 months old is not told,
    whether the opposition came from the form or from a file of events."""
    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[
            contact("C1", email="c1@example.com"),
            contact("C2", email="c2@example.com", first_name="Jean", address_line4="3 rue Neuve"),
        ],
        partners=[partner("P1"), partner("P2")],
    )
    sc.load()
    sc.rent(partner="P1", channels=("email",), out="d1")
    sc.rent(partner="P2", channels=("postal",), out="d2")
    with any_engine.begin() as conn:  # P2's delivery was made 30 months ago
        conn.execute(
            text("UPDATE deliveries SET created_at = :t WHERE partner_id = 'P2'"),
            {"t": now_ts() - 30 * 30 * 86400},
        )
    settings = Settings(rules=RuleSettings(retention_years=2))
    record_opposition(any_engine, channel="all", contact_id="C1", retention=Retention.of(settings))
    row = {"contact_id": "C2", "event": "opposition", "channel": "all", "at": today().isoformat()}
    report = import_file(
        any_engine, "events", write_csv(tmp_path / "ev.csv", [row]), settings=settings
    )
    assert report.rows_new == 1
    by_form = _partners_told(any_engine, "e.contact_id = 'C1'")
    by_file = _partners_told(any_engine, "e.contact_id = 'C2'")
    assert by_form == by_file == ["P1"]
    # with the default three years, P2's delivery counts again
    row["contact_id"] = "C1"
    import_file(any_engine, "events", write_csv(tmp_path / "ev3.csv", [row]))
    assert _partners_told(any_engine, "e.contact_id = 'C1' AND e.via IS NULL") == ["P1", "P2"]


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("own", Scope("own")),
        ("partners", Scope("partners")),
        ("all", Scope("all")),
        ("partner:P-01.a", Scope("partner", "P-01.a")),
    ],
)
def test_a_scope_is_read_as_its_kind_and_partner(given: str, read: Scope) -> None:
    assert parse_scope(given) == read
    assert str(read) == given


@pytest.mark.parametrize("given", ["", "ALL", "partner:", "partner:a..b", "partner:-x", "mine"])
def test_a_scope_that_names_nothing_is_refused_with_what_a_scope_may_be(given: str) -> None:
    with pytest.raises(InputError, match="expected own, partners, all or partner:<id>"):
        parse_scope(given)


def test_a_via_is_one_of_the_ways_or_a_partner() -> None:
    assert parse_via("letter") == ViaOf("letter")
    assert parse_via("partner:P1") == ViaOf("partner", "P1")
    assert str(parse_via("partner:P1")) == "partner:P1"
    for bad in ("fax", "partner:..", "partner:"):
        with pytest.raises(InputError, match="unknown via"):
            parse_via(bad)


def test_the_outbox_forwards_what_the_domain_says_an_event_covers() -> None:
    """The outbox builds its statement with the domain's one definition, not a copy."""
    from listguard.domain import coverage
    from listguard.propagation import outbox

    assert vars(outbox)["delivered_items_sql"] is coverage.delivered_items_sql


def test_a_person_s_contacts_are_those_holding_any_of_their_identifiers(engine: Engine) -> None:
    from listguard.domain.coverage import PERSON_CONTACTS

    rows = [
        ("C1", "a@example.com", "+33612345678", None),
        ("C2", None, None, "+33612345678"),
        ("C3", "b@example.com", None, None),
    ]
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE t (contact_id, email_norm, phone_e164, mobile_e164)"))
        for row in rows:
            conn.execute(
                text("INSERT INTO t VALUES (:a, :b, :c, :d)"), dict(zip("abcd", row, strict=True))
            )
        sql = text(f"SELECT contact_id FROM t WHERE {PERSON_CONTACTS} ORDER BY 1")
        by_number = conn.execute(sql, {"c": None, "e": None, "p": "+33612345678"}).scalars()
        assert list(by_number) == ["C1", "C2"]
        by_email = conn.execute(sql, {"c": None, "e": "b@example.com", "p": None}).scalars()
        assert list(by_email) == ["C3"]
        by_id = conn.execute(sql, {"c": "C2", "e": None, "p": None}).scalars()
        assert list(by_id) == ["C2"]
