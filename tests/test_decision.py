"""The decision as the rules engine returns it: its steps timed one by one, its counts,
rows and eligible rows read through its methods, its plan's values all bound."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import Engine, text

from listguard.config import EngineSettings, RuleSettings, Settings
from listguard.renting.check_order import CheckOptions
from listguard.renting.order import parse_order
from listguard.rules.check import explanation
from listguard.rules.decision import timing_lines
from listguard.rules.engine import READING, decide
from listguard.rules.pipeline import pipeline
from listguard.rules.plan import make_plan
from listguard.storage.open import open_storage
from tests.scenario import Scenario, contact, listguard, partner

ORDER = """partner = "P1"
channels = ["email", "phone", "postal"]
purpose = "Offre test"
campaign_start = 2026-12-01
campaign_end = 2026-12-31
as_of = 2026-11-28
"""


def _scenario(engine: Engine, tmp: Path) -> Scenario:
    # C2 shares C1's email (``duplicate``); the partner's category was listed twice
    sc = Scenario(
        engine,
        tmp,
        contacts=[
            contact("C1"),
            contact("C2", mobile="06 98 76 54 32", collected_at="2026-01-05"),
            contact("C3", email="", partners_phone="objection"),
        ],
        partners=[
            partner("P1", listed_from="2021-01-01"),
            partner("P0", listed_from="2019-01-01", listed_until="2020-06-01"),
        ],
    )
    sc.load()
    return sc


def test_a_rental_reports_each_step_of_its_decision_timed(
    any_engine: Engine, tmp_path: Path
) -> None:
    report, rows = _scenario(any_engine, tmp_path).rent(limit=1)
    names = [name for name, _seconds in report.timings]
    assert names == [
        READING,
        "events",
        "persons",
        "choices",
        "bloctel",
        "numbers",
        "reasons",
        "duplicates found",
        "duplicates marked",
        "over the limit",
    ]
    assert all(seconds >= 0 for _name, seconds in report.timings)
    assert sum(seconds for _name, seconds in report.timings) > 0
    assert rows  # the decision the steps made is the one written
    lines = timing_lines(report.timings)
    assert len(lines) == len(names) + 1
    assert lines[1].split()[0] == "events" and lines[-1].startswith("deciding, in all")
    assert all(line.endswith(" s") for line in lines)


def test_the_decision_is_read_through_its_methods(engine: Engine, tmp_path: Path) -> None:
    _scenario(engine, tmp_path)
    order = parse_order(ORDER)
    with engine.connect() as conn:
        plan = make_plan(conn, order, RuleSettings())
        with decide(open_storage(engine), conn, plan, EngineSettings()) as decision:
            assert [n for n, _s in decision.timings] == [
                READING,
                *(n for n, _sql in pipeline(plan, clustered=False)),
            ]
            counts = decision.counts()
            assert counts.rows == {"email": 3, "phone": 3, "postal": 3}
            # the three share an address (and C1 and C2 an email): it is delivered once
            assert counts.eligible == {"email": 1, "phone": 2, "postal": 1}
            assert counts.excluded["email"] == {"duplicate": 1, "missing_coordinate": 1}
            assert counts.excluded["phone"] == {"no_consent": 1}  # phone is opt-in
            assert counts.excluded["postal"] == {"duplicate": 2}
            assert decision.contacts_eligible() == 2
            eligible = decision.eligible().read_all()
            assert eligible.num_rows == 4
            assert sorted(set(eligible["contact_id"].to_pylist())) == ["C1", "C2"]
            assert sorted(set(eligible["channel"].to_pylist())) == ["email", "phone", "postal"]
            assert decision.rows_of("C2", "email") == [("marie.exemple@example.com", "duplicate")]
            assert decision.rows_of("C1", "email") == [("marie.exemple@example.com", None)]
            assert decision.rows_of("C9", "email") == []
            assert decision.events_seen() == 0
        with pytest.raises(duckdb.ConnectionException):  # closed on leaving the block
            decision.counts()


@pytest.mark.parametrize("clustered", [False, True])
def test_a_decision_holds_only_the_tables_still_to_be_read(
    engine: Engine, tmp_path: Path, clustered: bool
) -> None:
    """What the steps were the last to read is dropped as they go (at ten million
    contacts, memory DuckDB would otherwise spill to disk); the rows go once their
    file is written, after which reading them fails instead of finding nothing."""
    _scenario(engine, tmp_path)
    if clustered:  # ``dedupe --base`` found C1 and C2 to be one person
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                    "VALUES ('C1', 'C1', 0), ('C2', 'C1', 0)"
                )
            )
    order = parse_order(ORDER.replace('"postal"]', '"postal", "sms"]'))
    with engine.connect() as conn:
        plan = make_plan(conn, order, RuleSettings())
        with decide(open_storage(engine), conn, plan, EngineSettings()) as decision:
            names = [n for n, _s in decision.timings]
            assert ("choices of persons" in names) is clustered
            tables = {row[0] for row in decision._db.sql("SHOW TABLES").fetchall()}
            assert tables == {"contacts", "events_seen", "lg_decision", "lg_keep", "lg_person"} | (
                {"lg_keep_person"} if clustered else set()
            )
            decision.write_decisions(tmp_path, ";", "csv")
            decision.forget_rows()
            with pytest.raises(duckdb.CatalogException):
                decision.counts()
            assert decision.events_seen() == 0  # what a delivery reads afterwards stays


def test_check_reports_the_steps_of_its_decision(engine: Engine, tmp_path: Path) -> None:
    _scenario(engine, tmp_path)
    options = CheckOptions(partner="P1", channel="email", as_of=dt.date(2026, 11, 28))
    explained = explanation(engine, Settings(), "C2", options)
    assert "duplicate" in explained.text
    assert explained.timings[0][0] == READING
    assert "reasons" in [name for name, _seconds in explained.timings]


@pytest.mark.parametrize("clustered", [False, True])
def test_every_value_the_pipeline_names_is_bound(
    engine: Engine, tmp_path: Path, clustered: bool
) -> None:
    """Each ``$name`` of each step is one of the plan's values as DuckDB receives them:
    the category's listing periods and the consent's maximum age included."""
    _scenario(engine, tmp_path)
    order = parse_order(ORDER.replace('"postal"]', '"postal", "sms"]') + "limit = 5\n")
    with engine.connect() as conn:
        plan = make_plan(conn, order, RuleSettings(phone_consent_max_age_days=1095))
    bound = plan.params.bound()
    assert plan.params.consent_cutoff("phone") is not None
    assert plan.params.consent_cutoff("email") is None
    assert {"cat_from0", "cat_until0", "cat_from1", "consent_cutoff_phone"} <= set(bound)
    named = {
        name
        for _step, sql in pipeline(plan, clustered)
        for name in re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", sql)
    }
    assert named - set(bound) == set()
    assert {"dend", "partner", "limit", "cat_from1", "consent_cutoff_phone"} <= named


def test_verbose_prints_each_step_of_the_decision_on_standard_error(
    engine: Engine, tmp_path: Path
) -> None:
    _scenario(engine, tmp_path)
    registry = Path(str(engine.url.database))
    (tmp_path / "order.toml").write_text(ORDER, encoding="utf-8")
    quiet = listguard(registry, tmp_path, "rent", "order.toml", "--out", "d1")
    assert quiet.returncode == 0, quiet.stderr
    assert "deciding, in all" not in quiet.stderr
    rent = listguard(registry, tmp_path, "rent", "order.toml", "--out", "d2", "--verbose")
    assert rent.returncode == 0, rent.stderr
    steps = [line.split()[0] for line in rent.stderr.splitlines() if line.endswith(" s")]
    assert steps[1:4] == ["events", "persons", "choices"] and "reasons" in steps
    assert "deciding, in all" in rent.stderr and "deciding" not in rent.stdout
    check = listguard(
        registry, tmp_path, "check", "C2", "--channel", "email", "--partner", "P1", "--verbose"
    )
    assert check.returncode == 0, check.stderr
    assert "duplicate" in check.stdout and "deciding, in all" in check.stderr


def test_each_decision_spills_into_a_folder_of_its_own_removed_when_closed(
    engine: Engine, tmp_path: Path
) -> None:
    """What DuckDB spills is personal data, and two decisions spilling into one folder
    could overwrite each other's files: each has its own, gone once it is closed."""
    _scenario(engine, tmp_path)
    with engine.connect() as conn:
        plan = make_plan(conn, parse_order(ORDER), RuleSettings())
        storage, machine = open_storage(engine), EngineSettings(memory_mb=64)
        decisions = [decide(storage, conn, plan, machine) for _ in range(2)]
        folders = [
            Path(d._db.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
            for d in decisions
        ]
        assert folders[0] != folders[1] and all(f.is_dir() for f in folders)
        for d in decisions:
            d.close()
    assert not any(f.exists() for f in folders)
