"""A rights request's deadline extended by two months (art. 12(3)): decided once, with a
reason, while the first month runs; the deadline moves only once the person is told,
in time."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.config import Owner, Settings
from listguard.errors import InputError
from listguard.rights_answers import answer
from listguard.rights_extension import (
    can_extend,
    extend,
    extended_due,
    extension_mail,
    extension_sms,
    told,
)
from listguard.rights_requests import check, read_request, record
from listguard.timeutil import day_start
from tests.test_rights_requests import _load

SETTINGS = Settings(owner=Owner(name="Éditions Exemple"))


def _received(
    engine: Engine, day: dt.date, kind: str = "access", email: str = "c1@example.com"
) -> int:
    return record(engine, check(kind, email=email), via="letter", at=day_start(day) + 3600)


def test_an_extended_deadline_is_two_months_after_the_first_one(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    for received, first, until in (
        (dt.date(2026, 12, 15), "2027-01-15", dt.date(2027, 3, 15)),  # across the year
        (dt.date(2026, 11, 30), "2026-12-30", dt.date(2027, 2, 28)),
        (dt.date(2027, 11, 30), "2027-12-30", dt.date(2028, 2, 29)),  # a leap year
        # never later than three months after receipt (30 April): 28 February + 2 months
        (dt.date(2027, 1, 31), "2027-02-28", dt.date(2027, 4, 28)),
    ):
        made = read_request(any_engine, _received(any_engine, received))
        assert made is not None and made.due_on.isoformat() == first
        assert extended_due(made) == until


def test_the_deadline_moves_once_the_person_is_told_and_both_steps_are_audited(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    received = dt.date(2026, 11, 30)
    made = _received(any_engine, received)
    at = day_start(received) + 86400
    with pytest.raises(InputError) as missing:
        extend(any_engine, made, "  ", "dpo@example.com", now=at)
    assert missing.value.where == "reason"
    with pytest.raises(InputError, match="at most 500"):
        extend(any_engine, made, "x" * 501, "dpo@example.com", now=at)
    with pytest.raises(InputError, match="no extension waiting"):
        told(any_engine, made, "dpo@example.com", "letter", now=at)
    why = "Votre demande porte sur quinze ans d'historique, réparti sur trois systèmes."
    decided = extend(any_engine, made, why, "dpo@example.com", now=at)
    # decided, not told: the first deadline stands
    assert decided.extension_reason == why and decided.extended_at == at
    assert decided.due_on == dt.date(2026, 12, 30) and decided.extension_told_at is None
    with pytest.raises(InputError, match="extended already"):
        extend(any_engine, made, "again", "dpo@example.com", now=at)
    done = told(any_engine, made, "dpo@example.com", "mail", now=at + 60)
    assert done.due_on == dt.date(2027, 2, 28) and done.extension_told_at == at + 60
    assert not done.overdue(dt.date(2027, 1, 15)) and done.overdue(dt.date(2027, 3, 1))
    with pytest.raises(InputError, match="no extension waiting"):
        told(any_engine, made, "dpo@example.com", "mail", now=at + 120)
    with any_engine.connect() as conn:
        logged = conn.execute(
            text(
                "SELECT action, detail FROM audit_log "
                "WHERE action LIKE 'rights_request_exten%' ORDER BY id"
            )
        ).all()
    assert [(a, json.loads(d)) for a, d in logged] == [
        (
            "rights_request_extended",
            {"request": made, "kind": "access", "until": "2027-02-28", "by": "dpo@example.com"},
        ),
        (
            "rights_request_extension_told",
            {
                "request": made,
                "due_on": "2027-02-28",
                "was_due_on": "2026-12-30",
                "how": "mail",
                "by": "dpo@example.com",
            },
        ),
    ]


def test_past_its_first_month_closed_or_an_objection_a_request_is_not_extended(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    received = dt.date(2026, 10, 31)
    on_due_day = day_start(dt.date(2026, 11, 30)) + 23 * 3600
    late = _received(any_engine, received)
    with pytest.raises(InputError, match="was due on 2026-11-30"):
        extend(any_engine, late, "too late", "dpo@example.com", now=on_due_day + 3600)
    # decided on the due day, told the day after: too late, the first deadline stays
    untold = _received(any_engine, received, email="c2@example.com")
    extend(any_engine, untold, "in time", "dpo", now=on_due_day)
    with pytest.raises(InputError, match="was due on 2026-11-30"):
        told(any_engine, untold, "dpo", "letter", now=on_due_day + 3600)
    got = read_request(any_engine, untold)
    assert got is not None and got.due_on == dt.date(2026, 11, 30)
    assert got.overdue(dt.date(2026, 12, 1))
    objection = record(any_engine, check("objection", email="c1@example.com"), via="letter")
    got = read_request(any_engine, objection)
    assert got is not None and not can_extend(got, got.due_on)
    with pytest.raises(InputError, match="applied at once"):
        extend(any_engine, objection, "busy", "dpo@example.com")
    answered = record(any_engine, check("access", email="c1@example.com"), via="letter")
    answer(any_engine, SETTINGS, answered, "dpo@example.com")
    with pytest.raises(InputError, match="is not open"):
        extend(any_engine, answered, "after the answer", "dpo@example.com")
    with pytest.raises(InputError, match="is not open"):
        extend(any_engine, 999, "unknown", "dpo@example.com")


def test_the_person_is_told_the_new_deadline_the_reason_and_the_recourse(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    received = dt.date(2026, 12, 7)
    made = _received(any_engine, received, kind="portability")
    done = extend(any_engine, made, "Trois systèmes à interroger.", "dpo", now=day_start(received))
    mail = extension_mail(SETTINGS, "c1@example.com", done)
    body = mail.get_content()
    assert mail["To"] == "c1@example.com" and "prolongé" in mail["Subject"]
    assert "07/12/2026" in body and "07/03/2027" in body
    assert "Trois systèmes à interroger." in body and "article 12" in body and "CNIL" in body
    sms = extension_sms(SETTINGS, done)
    assert "07/03/2027" in sms and "Trois systèmes" in sms and "CNIL" in sms
