"""The domain's rules, the same on every route: the retention period taken from the
settings by the imports as by the forms."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from listguard.config import RuleSettings, Settings
from listguard.domain.retention import Retention
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
    retention = Retention.of(Settings(rules=RuleSettings(retention_years=2)))
    record_opposition(any_engine, channel="all", contact_id="C1", retention_years=retention.years)
    row = {"contact_id": "C2", "event": "opposition", "channel": "all", "at": today().isoformat()}
    report = import_file(
        any_engine, "events", write_csv(tmp_path / "ev.csv", [row]), retention=retention
    )
    assert report.rows_new == 1
    by_form = _partners_told(any_engine, "e.contact_id = 'C1'")
    by_file = _partners_told(any_engine, "e.contact_id = 'C2'")
    assert by_form == by_file == ["P1"]
    # with the default three years, P2's delivery counts again
    row["contact_id"] = "C1"
    import_file(any_engine, "events", write_csv(tmp_path / "ev3.csv", [row]))
    assert _partners_told(any_engine, "e.contact_id = 'C1' AND e.via IS NULL") == ["P1", "P2"]
