"""A rights request's deadline extended by two months (art. 12(3)): once, with a reason,
while the first month runs, and the person told."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.config import Owner, Settings
from listguard.errors import InputError
from listguard.rights_answers import answer
from listguard.rights_extension import extend, extension_mail, extension_sms
from listguard.rights_requests import check, due_on, read_request, record
from listguard.timeutil import day_start
from tests.test_rights_requests import _load


def test_an_extended_deadline_is_three_months_after_receipt_by_the_same_rule() -> None:
    assert due_on(dt.date(2026, 12, 15), 3) == dt.date(2027, 3, 15)  # across the year
    assert due_on(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert due_on(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)  # a leap year
    assert due_on(dt.date(2027, 10, 31), 3) == dt.date(2028, 1, 31)


def test_a_request_is_extended_once_with_its_reason_and_audited(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    received = dt.date(2026, 11, 30)
    at = day_start(received) + 3600
    made = record(any_engine, check("access", email="c1@example.com"), via="letter", at=at)
    with pytest.raises(InputError) as missing:
        extend(any_engine, made, "  ", "dpo@example.com", now=at)
    assert missing.value.where == "reason"
    with pytest.raises(InputError, match="at most 2000"):
        extend(any_engine, made, "x" * 2001, "dpo@example.com", now=at)
    why = "Votre demande porte sur quinze ans d'historique, réparti sur trois systèmes."
    done = extend(any_engine, made, why, "dpo@example.com", now=at + 86400)
    assert done.due_on == dt.date(2027, 2, 28) and done.extension_reason == why
    assert done.extended_at == at + 86400 and done.status == "received"
    assert not done.overdue(dt.date(2027, 1, 15))  # past the first month, within the three
    assert done.overdue(dt.date(2027, 3, 1))
    with pytest.raises(InputError, match="extended already, until 2027-02-28"):
        extend(any_engine, made, "again", "dpo@example.com", now=at + 2 * 86400)
    with any_engine.connect() as conn:
        logged = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'rights_request_extended'")
        ).scalar_one()
    assert json.loads(logged) == {
        "request": made,
        "kind": "access",
        "due_on": "2027-02-28",
        "was_due_on": "2026-12-30",
        "by": "dpo@example.com",
    }


def test_a_request_past_its_first_month_or_closed_is_not_extended(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    received = dt.date(2026, 10, 31)
    at = day_start(received)
    late = record(any_engine, check("access", email="c1@example.com"), via="letter", at=at)
    on_due_day = day_start(dt.date(2026, 11, 30)) + 23 * 3600
    with pytest.raises(InputError, match="was due on 2026-11-30"):
        extend(any_engine, late, "too late", "dpo@example.com", now=on_due_day + 3600)
    still = record(any_engine, check("access", email="c2@example.com"), via="letter", at=at)
    assert extend(any_engine, still, "in time", "dpo", now=on_due_day).due_on == dt.date(
        2027, 1, 31
    )
    settings = Settings(owner=Owner(name="Éditions Exemple"))
    answered = record(any_engine, check("access", email="c1@example.com"), via="letter")
    answer(any_engine, settings, answered, "dpo@example.com")
    with pytest.raises(InputError, match="is not open"):
        extend(any_engine, answered, "after the answer", "dpo@example.com")
    with pytest.raises(InputError, match="is not open"):
        extend(any_engine, 999, "unknown", "dpo@example.com")
    got = read_request(any_engine, late)
    assert got is not None and got.extended_at is None and got.due_on == dt.date(2026, 11, 30)


def test_the_person_is_told_the_new_deadline_and_the_reason(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    at = day_start(dt.date(2026, 12, 7))
    made = record(any_engine, check("portability", email="c1@example.com"), via="api", at=at)
    done = extend(any_engine, made, "Trois systèmes à interroger.", "dpo", now=at)
    settings = Settings(owner=Owner(name="Éditions Exemple"))
    mail = extension_mail(settings, "c1@example.com", done)
    body = mail.get_content()
    assert mail["To"] == "c1@example.com" and "prolongé" in mail["Subject"]
    assert "07/12/2026" in body and "07/03/2027" in body
    assert "Trois systèmes à interroger." in body and "article 12" in body
    assert "07/03/2027" in extension_sms(settings, done)
