"""The audit log: a head that truncation cannot move back unseen, no identifier in clear."""

from __future__ import annotations

import subprocess
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from listguard import audit
from listguard.audit import verify
from listguard.db.migrate import _config
from listguard.oppositions import record_opposition
from listguard.rights import access_report, erase, rectify
from tests.scenario import Scenario, contact, listguard, partner


def _log(engine: Engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action, subject, detail FROM audit_log")).all()
    return "\n".join(f"{r.action} {r.subject} {r.detail}" for r in rows)


def test_truncation_with_the_head_moved_back_fails_against_the_published_head(
    engine: Engine, tmp_path: Path
) -> None:
    for n in range(5):
        record_opposition(engine, channel="email", email=f"p{n}@example.com")
    published = verify(engine)
    assert published.ok and published.entries == 5 and published.head != audit.GENESIS
    # the last two entries removed and the head row moved back: the chain checks out...
    with engine.begin() as conn:
        kept = conn.execute(text("SELECT hash FROM audit_log WHERE id = 3")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE id > 3"))
        conn.execute(text("UPDATE audit_head SET last_id = 3, hash = :h"), {"h": kept})
    assert verify(engine).ok
    # ...but not against the head published before
    result = verify(engine, (published.entries, published.head))
    assert not result.ok and "fewer than the 5 published" in str(result.problem)
    assert verify(engine, (3, kept)).ok
    forged = verify(engine, (3, "0" * 64))
    assert not forged.ok and "entry 3 is not the one published" in str(forged.problem)


def test_audit_verify_prints_the_head_and_checks_a_published_one(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return listguard(tmp_path / "r.db", tmp_path, *args)

    assert cli("init").returncode == 0
    assert cli("oppose", "--email", "a@example.com", "--channel", "email").returncode == 0
    shown = cli("audit", "verify")
    assert shown.returncode == 0, shown.stderr
    head = shown.stdout.split("head: ")[1].strip()
    assert head.startswith("1:") and len(head) == 66
    assert cli("oppose", "--email", "b@example.com", "--channel", "email").returncode == 0
    assert cli("audit", "verify", "--published", head).returncode == 0
    later = cli("audit", "verify").stdout.split("head: ")[1].strip()
    engine_url = f"sqlite:///{tmp_path / 'r.db'}"
    from listguard.storage.engine import make_engine

    engine = make_engine(engine_url)
    with engine.begin() as conn:
        first = conn.execute(text("SELECT hash FROM audit_log WHERE id = 1")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
        conn.execute(text("UPDATE audit_head SET last_id = 1, hash = :h"), {"h": first})
    engine.dispose()
    broken = cli("audit", "verify", "--published", later)
    assert broken.returncode == 1 and "entries were removed" in broken.stderr
    assert "Traceback" not in broken.stderr
    bad = cli("audit", "verify", "--published", "12:nothex")
    assert bad.returncode == 1 and "not a published head" in bad.stderr


def test_the_audit_log_names_people_by_keyed_digest_only(
    any_engine: Engine, tmp_path: Path
) -> None:
    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[contact("C1", email="marie@example.com", mobile="06 12 34 56 78")],
        partners=[partner("P1")],
    )
    sc.load()
    record_opposition(any_engine, channel="email", email="Marie@Example.com")
    record_opposition(any_engine, channel="sms", phone="06 12 34 56 78")
    record_opposition(any_engine, channel="postal", contact_id="C1")
    access_report(any_engine, email="marie@example.com")
    rectify(any_engine, "C1", {"last_name": "Durand"})
    erase(any_engine, email="marie@example.com")
    log = _log(any_engine)
    for identifier in ("marie@example.com", "+33612345678", "C1"):
        assert identifier not in log
    assert "opposition_recorded" in log and "access_request" in log
    assert verify(any_engine).ok


def test_entries_written_in_clear_before_are_redacted_without_breaking_the_chain(
    any_engine: Engine,
) -> None:
    config = _config(any_engine)
    command.downgrade(config, "0017")
    with any_engine.begin() as conn:  # entries as they were written before 0018
        audit.append(conn, "opposition_recorded", "marie@example.com", {"channel": "email"})
        audit.append(conn, "access_request", "+33612345678", {"contacts": ["C1", "C2"]})
        audit.append(conn, "partner_added", "P1", {})
        audit.append(conn, "rectification", "C1", {"fields": ["last_name"]})
    published = verify(any_engine)
    assert published.ok
    command.upgrade(config, "head")
    log = _log(any_engine)
    for identifier in ("marie@example.com", "+33612345678", "C1", "C2"):
        assert identifier not in log
    assert "P1" in log  # a partner is no person: its entries stay as they were
    result = verify(any_engine, (published.entries, published.head))
    assert result.ok and result.entries == published.entries + 1  # the redaction entry
    # a redacted entry's content is not recomputed, but another one altered is still seen
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET subject = 'redacted:x' WHERE id = 3"))
    problem = str(verify(any_engine).problem)
    assert "the entries redacted before entry 5 are not those it records" in problem


def test_a_redacted_entry_altered_later_is_seen(any_engine: Engine) -> None:
    """A redacted entry's own hash no longer fits its content; the redaction entry,
    chained after it, fixes that content instead."""
    config = _config(any_engine)
    command.downgrade(config, "0017")
    with any_engine.begin() as conn:
        audit.append(conn, "opposition_recorded", "marie@example.com", {"channel": "email"})
        audit.append(conn, "opposition_recorded", "jean@example.com", {"channel": "sms"})
    command.upgrade(config, "head")
    assert verify(any_engine).ok
    with any_engine.begin() as conn:  # the channel of a redacted opposition rewritten
        conn.execute(text("""UPDATE audit_log SET detail = '{"channel":"postal"}' WHERE id = 2"""))
    problem = str(verify(any_engine).problem)
    assert "the entries redacted before entry 3 are not those it records" in problem
