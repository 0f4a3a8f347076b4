"""Migrations that change a table holding the owner's data keep every row as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from listguard.db import schema
from listguard.db.migrate import _config
from listguard.imports import import_file
from tests.scenario import contact, write_csv


def _contacts(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM contacts ORDER BY id"))]


def _history(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = "SELECT contact_id, email, version FROM contact_history ORDER BY 1, 3"
        return [tuple(r) for r in conn.execute(text(query))]


def _stamp(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT token FROM contacts_stamp")).scalar()


def _a_second(engine: Engine, contact_id: str) -> None:
    """Insert a contact whose contact_id is already recorded (IntegrityError expected)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (contact_id, audience, country, address_status, "
                "collected_at, import_id, recorded_at, version) "
                "SELECT :c, audience, country, address_status, collected_at, import_id, "
                "recorded_at, 2 FROM contacts LIMIT 1"
            ),
            {"c": contact_id},
        )


def test_the_migrations_make_the_schema_the_code_declares(any_engine: Engine) -> None:
    """The tables, columns, types, keys, unique constraints and indexes of
    ``db/schema.py`` are what the migrations build, on SQLite and on PostgreSQL (as far
    as Alembic compares them: not server defaults nor CHECK constraints): an index
    declared and never migrated (or the reverse) would make a registry differ by how
    it was made."""
    with any_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, schema.metadata) == []


def test_an_extended_request_gets_its_first_deadline_back_when_0024_is_undone(
    any_engine: Engine, tmp_path: Path
) -> None:
    """0024 both ways: an extended request's deadline is its first one again at 0023 (the
    only one a registry there reckons with), the schema is the declared one again after."""
    import datetime as dt

    from listguard.rights_extension import extend, told
    from listguard.rights_requests import check, record
    from listguard.timeutil import day_start
    from tests.scenario import Scenario

    Scenario(any_engine, tmp_path, contacts=[contact("C1", email="c1@example.com")]).load()
    at = day_start(dt.date(2026, 11, 30)) + 3600
    extended = record(any_engine, check("access", email="c1@example.com"), via="letter", at=at)
    plain = record(any_engine, check("proof", email="c1@example.com"), via="letter", at=at)
    extend(any_engine, extended, "three systems to read", "dpo", now=at)
    told(any_engine, extended, "dpo", "letter", now=at)
    due = text("SELECT id, due_on FROM rights_requests ORDER BY id")

    def deadlines() -> list[tuple[int, str]]:
        with any_engine.connect() as conn:
            return [(int(i), str(d)) for i, d in conn.execute(due)]

    assert deadlines() == [(extended, "2027-02-28"), (plain, "2026-12-30")]
    config = _config(any_engine)
    command.downgrade(config, "0022")
    assert deadlines() == [(extended, "2026-12-30"), (plain, "2026-12-30")]
    command.upgrade(config, "head")
    with any_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, schema.metadata) == []


def test_a_partners_messages_are_read_by_index(engine: Engine) -> None:
    """The query a partner's pull runs (``reads.partner_messages``, caught as it is
    sent), planned by SQLite: through the outbox's index by partner."""
    from sqlalchemy import event

    from listguard.reads import partner_messages

    sent: list[tuple[str, Any]] = []

    def catch(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM outbox WHERE partner_id" in statement:
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        assert partner_messages(engine, "P1") == []
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    assert len(sent) == 1
    statement, params = sent[0]
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    assert any("USING INDEX ix_outbox_partner" in str(row) for row in plan), plan


def test_contact_id_moves_from_a_constraint_to_an_index_and_back(
    any_engine: Engine, tmp_path: Path
) -> None:
    """0015 makes contacts again on SQLite: rows and row ids, the history view, the
    stamp's triggers and the uniqueness of contact_id all survive, both ways."""
    engine = any_engine
    import_file(engine, "contacts", write_csv(tmp_path / "a.csv", [contact("C1"), contact("C2")]))
    changed = [contact("C1", email="new@example.com"), contact("C3")]
    import_file(engine, "contacts", write_csv(tmp_path / "b.csv", changed))
    rows, history = _contacts(engine), _history(engine)
    assert len(rows) == 3 and ("C1", "new@example.com", 2) in history
    config = _config(engine)
    for target in ("0014", "head"):
        command.downgrade(config, target) if target != "head" else command.upgrade(config, target)
        assert _contacts(engine) == rows
        assert _history(engine) == history
        with pytest.raises(IntegrityError):
            _a_second(engine, "C2")
        if engine.dialect.name == "sqlite":
            before = _stamp(engine)
            with engine.begin() as conn:  # the triggers renew the stamp
                conn.execute(text("UPDATE contacts SET city = city WHERE contact_id = 'C3'"))
            assert _stamp(engine) != before
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = conn.execute(
                text("SELECT group_concat(sql, ';') FROM sqlite_master WHERE tbl_name = 'contacts'")
            ).scalar_one()
            assert "CREATE UNIQUE INDEX uq_contacts_contact_id" in sql
            assert "CONSTRAINT uq_contacts_contact_id" not in sql
            assert "(phone_e164) WHERE phone_e164 IS NOT NULL" in sql
            # a coordinate compared with a value or joined: the partial index serves
            for query, used in (
                ("SELECT id FROM contacts WHERE phone_e164 = '+33612345678'", "phone_e164=?"),
                (
                    "SELECT c.id, c.city FROM events e JOIN contacts c "
                    "ON c.email_norm = e.email_norm WHERE e.id = 1",
                    "email_norm=?",
                ),
            ):
                plan = str(conn.execute(text(f"EXPLAIN QUERY PLAN {query}")).all())
                assert f"INDEX ix_contacts_{used.split('=')[0]} ({used})" in plan, plan
        else:
            kinds = conn.execute(
                text("SELECT count(*) FROM pg_constraint WHERE conname = 'uq_contacts_contact_id'")
            ).scalar_one()
            assert kinds == 0


def test_postal_keys_with_ligatures_are_keyed_again_and_suppressions_follow(
    any_engine: Engine, tmp_path: Path
) -> None:
    """0016: a contact whose address or name holds Œ or Æ gets the keys an import gives
    now, and a suppression entry under its old address key gets a twin under the new
    one; nothing else changes."""
    engine = any_engine
    rows = [
        contact("C1", first_name="Lætitia", address_line4="1 rue du Sacré-Cœur"),
        contact("C2"),
    ]
    import_file(engine, "contacts", write_csv(tmp_path / "a.csv", rows))
    query = text("SELECT contact_id, address_key, recipient_key FROM contacts ORDER BY 1")
    with engine.connect() as conn:
        now = [tuple(r) for r in conn.execute(query)]
    assert "SACRE COEUR" in now[0][1] and "LAETITIA" in now[0][2]
    config = _config(engine)
    command.downgrade(config, "0015")
    old = now[0][1].replace("COEUR", "C UR")  # as revision 0015 keyed it
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE contacts SET address_key = :a, recipient_key = 'old' "
                "WHERE contact_id = 'C1'"
            ),
            {"a": old},
        )
        conn.execute(
            text(
                "INSERT INTO suppressions (list, kind, value, added_at) VALUES "
                "('robinson', 'address', :a, 1), ('robinson', 'address', 'ELSEWHERE', 1)"
            ),
            {"a": old},
        )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(query)] == now
        values = conn.execute(
            text("SELECT value FROM suppressions WHERE list = 'robinson' ORDER BY value")
        ).scalars()
        assert sorted(values) == sorted([old, now[0][1], "ELSEWHERE"])


def test_numbers_held_as_invalid_are_read_again_as_people_write_them(
    any_engine: Engine, tmp_path: Path
) -> None:
    """0022: a number that earlier code held as invalid (a label, an extension, 33
    without +) gets its E.164 and line type; a number that is none stays invalid."""
    engine = any_engine
    rows = [
        contact("C1", phone="Tel: 01 44 55 66 77 poste 12", mobile="33612345678"),
        contact("C2", phone="12", mobile="06 12 34 56 78 / 01 44 55 66 77"),
    ]
    import_file(engine, "contacts", write_csv(tmp_path / "a.csv", rows))
    query = text(
        "SELECT contact_id, phone, phone_e164, phone_type, mobile_e164, mobile_type "
        "FROM contacts ORDER BY 1"
    )
    with engine.connect() as conn:
        now = [tuple(r) for r in conn.execute(query)]
    assert now[0][2:] == ("+33144556677", "fixed", "+33612345678", "mobile")
    assert now[1][2:] == (None, "invalid", None, "invalid")
    config = _config(engine)
    command.downgrade(config, "0021")
    with engine.begin() as conn:  # as revision 0021's imports held them
        conn.execute(
            text(
                "UPDATE contacts SET phone_e164 = NULL, phone_type = 'invalid', "
                "mobile_e164 = NULL, mobile_type = 'invalid' WHERE contact_id = 'C1'"
            )
        )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(query)] == now


def test_free_pages_are_given_back_unless_another_process_writes(engine: Engine) -> None:
    """After a migration that made a table again, a SQLite file whose free pages are
    over a quarter of it is compacted (readers do not stop it: WAL); a registry
    another process is writing is left as it is."""
    import sqlite3

    from listguard.db.migrate import reclaim

    def free() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())

    assert not reclaim(engine)  # a registry just made: nothing to give back
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE lg_big (v TEXT)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
            "INSERT INTO lg_big SELECT hex(randomblob(100)) FROM n"
        )
        conn.exec_driver_sql("DROP TABLE lg_big")
    assert free() > 0
    path = engine.url.database
    assert path is not None
    writer = sqlite3.connect(path)
    writer.execute("BEGIN IMMEDIATE")  # a write transaction, held
    try:
        assert not reclaim(engine) and free() > 0
    finally:
        writer.rollback()
        writer.close()
    assert reclaim(engine) and free() == 0


def test_the_outbox_gets_a_message_per_delivery_and_keeps_its_rows(
    any_engine: Engine, tmp_path: Path
) -> None:
    """0017: the outbox's rows and items come back as they were (ids and references
    included), both ways; after it, an event can have a message per delivery, and still
    one only when recorded."""
    from listguard.oppositions import record_opposition
    from tests.scenario import Scenario

    engine = any_engine
    sc = Scenario(engine, tmp_path, contacts=[contact("C1", email="c1@example.com")])
    sc.load()
    sc.rent(channels=("email",), out="d1")
    assert record_opposition(engine, channel="email", contact_id="C1").messages == 1
    outbox = text("SELECT id, event_id, partner_id, status FROM outbox ORDER BY id")
    items = text("SELECT id, message_id, delivery_id, contact_ref FROM outbox_items ORDER BY id")

    def rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(outbox)], [tuple(r) for r in conn.execute(items)]

    before = rows()
    config = _config(engine)
    command.downgrade(config, "0016")
    assert rows() == before
    command.upgrade(config, "head")
    assert rows() == before
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        event_id, partner_id = before[0][0][1], before[0][0][2]
        insert = text(
            "INSERT INTO outbox (event_id, partner_id, delivery_id, status, attempts, "
            "created_at) VALUES (:e, :p, :d, 'pending', 0, 1)"
        )
        conn.execute(insert, {"e": event_id, "p": partner_id, "d": 7})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"e": event_id, "p": partner_id, "d": 0})
    with pytest.raises(RuntimeError, match="backdated deliveries"):
        command.downgrade(config, "0016")


def test_a_migration_failing_halfway_leaves_the_registry_as_it_was(engine: Engine) -> None:
    """SQLite: a migration's statements are one transaction, the DDL before its first
    change of rows included (0017 adds a column, then fails to hold the items)."""
    config = _config(engine)
    command.downgrade(config, "0016")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE lg_outbox_items_held (x INTEGER)"))
    with pytest.raises(Exception, match="lg_outbox_items_held"):
        command.upgrade(config, "head")
    with engine.connect() as conn:
        columns = [r[1] for r in conn.execute(text("PRAGMA table_info(outbox)"))]
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert "delivery_id" not in columns and version == "0016"
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE lg_outbox_items_held"))
    command.upgrade(config, "head")
