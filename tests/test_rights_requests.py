"""Rights requests: recorded, tracked to their deadline, answered by the services that
apply them everywhere else, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.config import Settings
from listguard.errors import InputError
from listguard.rights_answers import answer, refuse
from listguard.rights_requests import (
    check,
    confirm_key,
    confirm_link,
    due_on,
    forget_answered,
    list_requests,
    read_answer,
    read_confirm_link,
    read_request,
    record,
    start,
)
from listguard.timeutil import day_start, now_ts
from listguard.tokens import token_bytes
from tests.scenario import Scenario, contact


def _load(engine: Engine, tmp: Path) -> None:
    Scenario(
        engine,
        tmp,
        contacts=[
            contact("C1", email="c1@example.com", mobile="06 12 34 56 78"),
            contact("C2", email="c2@example.com", mobile="06 12 34 56 79"),
        ],
    ).load()


def test_the_deadline_is_the_same_day_next_month_or_its_last_day() -> None:
    assert due_on(dt.date(2027, 1, 15)) == dt.date(2027, 2, 15)
    assert due_on(dt.date(2027, 1, 31)) == dt.date(2027, 2, 28)
    assert due_on(dt.date(2028, 1, 31)) == dt.date(2028, 2, 29)  # a leap year
    assert due_on(dt.date(2027, 3, 31)) == dt.date(2027, 4, 30)
    assert due_on(dt.date(2027, 12, 31)) == dt.date(2028, 1, 31)
    assert due_on(dt.date(2027, 12, 5)) == dt.date(2028, 1, 5)


def test_a_request_says_what_is_wrong_and_where() -> None:
    cases = [
        (("delete",), {"email": "a@example.com"}, "kind"),
        (("access",), {}, "email"),
        (("access",), {"email": "a@example.com", "phone": "0612345678"}, "email"),
        (("objection",), {"email": "a@example.com", "channel": "fax"}, "channel"),
        (("rectification",), {"email": "a@example.com"}, "value"),
        (("rectification",), {"email": "a@example.com", "changes": {"salary": "1"}}, "field"),
        (("rectification",), {"email": "a@example.com", "changes": {"city": "x" * 201}}, "value"),
    ]
    for args, kwargs, where in cases:
        with pytest.raises(InputError) as raised:
            check(*args, **kwargs)  # type: ignore[arg-type]
        assert raised.value.where == where, (args, kwargs)
    with pytest.raises(InputError, match="not a valid email"):
        check("access", email="not-an-email")
    asked = check("objection", email=" C1@Example.com ")
    assert asked.email == "c1@example.com" and asked.channel == "all"
    assert check("access", email="a@example.com", channel="sms").channel is None


def test_a_confirmation_link_is_made_for_a_held_address_only_and_cannot_be_altered(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    asked = check("rectification", email="c1@example.com", changes={"city": "Lyon"})
    token = confirm_link(any_engine, asked)
    assert token is not None
    # sealed, not encoded: neither the address nor the change can be read off the link
    # (its text is random, so only the decoded bytes can be searched for them)
    sealed = token_bytes(token)
    assert b"c1@example.com" not in sealed and b"Lyon" not in sealed
    assert confirm_link(any_engine, check("access", email="nobody@example.com")) is None
    with any_engine.connect() as conn:
        assert read_confirm_link(conn, token) == asked
        altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        assert read_confirm_link(conn, altered) is None
        assert read_confirm_link(conn, "") is None
        assert read_confirm_link(conn, token, now=now_ts() + 8 * 86400) is None  # expired


def test_requests_are_listed_overdue_first_and_the_person_is_named_by_digest(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    today = dt.date.today()
    old = record(
        any_engine,
        check("access", email="c1@example.com"),
        via="letter",
        at=day_start(today - dt.timedelta(days=40)),
    )
    new = record(any_engine, check("erasure", phone="06 12 34 56 79"), via="api", reference="CRM-9")
    key = confirm_key("some-token")
    once = record(
        any_engine, check("proof", email="c2@example.com"), via="web_form", confirm_key=key
    )
    again = record(
        any_engine, check("proof", email="c2@example.com"), via="web_form", confirm_key=key
    )
    assert once == again  # a link followed twice records one request
    listed = list_requests(any_engine)
    assert listed[0].id == old and listed[0].overdue(today)
    assert {r.id for r in listed} == {old, new, once} and listed[0].email is None
    got = read_request(any_engine, new)
    assert got is not None and got.phone == "+33612345679" and got.reference == "CRM-9"
    assert got.due_on == due_on(today) and got.status == "received"
    with any_engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM rights_requests")).mappings().all()
        audited = conn.execute(
            text("SELECT subject, detail FROM audit_log WHERE action LIKE 'rights_request%'")
        ).all()
    dumped = json.dumps([dict(r) for r in stored], default=str) + repr(audited)
    for clear in ("c1@example.com", "c2@example.com", "+33612345679", "0612345679"):
        assert clear not in dumped  # only digests and sealed values
    assert len(audited) == 3 and all(len(str(s)) == 64 for s, _ in audited)
    with pytest.raises(InputError, match="unknown via"):
        record(any_engine, check("access", email="c1@example.com"), via="pigeon")


def test_an_access_request_is_answered_from_the_access_report(
    any_engine: Engine, tmp_path: Path
) -> None:
    _load(any_engine, tmp_path)
    made = record(any_engine, check("access", email="c1@example.com"), via="web_form")
    start(any_engine, made, "operator@example.com")
    token = answer(any_engine, Settings(), made, "operator@example.com")
    document = read_answer(any_engine, token)
    assert document is not None and document.name == "reponse-acces.txt"
    body = document.body.decode("utf-8")
    assert "Fiche C1" in body and "c1@example.com" in body and "C2" not in body
    done = read_request(any_engine, made)
    assert done is not None and done.status == "answered" and done.outcome["contacts"] == 1
    with pytest.raises(InputError, match="not open"):
        answer(any_engine, Settings(), made, "operator@example.com")
    assert read_answer(any_engine, token, now=now_ts() + 31 * 86400) is None  # expired
    assert read_answer(any_engine, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    # once the link has expired, the answer and the person's address are forgotten
    assert forget_answered(any_engine, now=now_ts() + 31 * 86400) == 1
    gone = read_request(any_engine, made)
    assert gone is not None and gone.email is None and gone.status == "answered"


def test_portability_gives_json_and_the_proof_a_pdf(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path)
    portable = record(engine, check("portability", phone="+33612345678"), via="api")
    document = read_answer(engine, answer(engine, Settings(), portable, "op"))
    assert document is not None and document.media_type == "application/json"
    given = json.loads(document.body)
    assert [c["contact_id"] for c in given["contacts"]] == ["C1"]
    assert given["contacts"][0]["data"]["email"] == "c1@example.com"
    proof = record(engine, check("proof", email="c1@example.com"), via="api")
    pdf = read_answer(engine, answer(engine, Settings(), proof, "op"))
    assert pdf is not None and pdf.body.startswith(b"%PDF")


def test_erasure_objection_and_rectification_are_applied_by_their_services(
    engine: Engine, tmp_path: Path
) -> None:
    _load(engine, tmp_path)
    fix = record(
        engine, check("rectification", email="c1@example.com", changes={"city": "Lyon"}), via="api"
    )
    letter = read_answer(engine, answer(engine, Settings(), fix, "op"))
    assert letter is not None and "city" in letter.body.decode()
    stop = record(engine, check("objection", email="c1@example.com", channel="sms"), via="api")
    answer(engine, Settings(), stop, "op")
    gone = record(engine, check("erasure", email="c2@example.com"), via="web_form")
    erased = read_answer(engine, answer(engine, Settings(), gone, "op"))
    assert erased is not None and "1 fiche(s)" in erased.body.decode()
    with engine.connect() as conn:
        city = conn.execute(text("SELECT city FROM contacts WHERE contact_id = 'C1'")).scalar()
        events = conn.execute(
            text("SELECT event, channel, scope, via FROM events ORDER BY id")
        ).all()
        left = conn.execute(text("SELECT contact_id FROM contacts")).scalars().all()
    assert city == "LYON" or city == "Lyon"
    assert ("opposition", "sms", "all", "api") in [tuple(e) for e in events]
    assert ("erasure", "all", "all", "web_form") in [tuple(e) for e in events]
    assert "rectification" in [e[0] for e in events] and left == ["C1"]


def test_a_refusal_gives_its_reason_and_the_persons_recourse(
    engine: Engine, tmp_path: Path
) -> None:
    _load(engine, tmp_path)
    made = record(engine, check("erasure", email="c1@example.com"), via="letter")
    with pytest.raises(InputError, match="reason"):
        refuse(engine, Settings(), made, "  ", "op")
    letter = read_answer(engine, refuse(engine, Settings(), made, "Contrat en cours.", "op"))
    assert letter is not None
    assert "Contrat en cours." in letter.body.decode() and "CNIL" in letter.body.decode()
    done = read_request(engine, made)
    assert done is not None and done.status == "refused" and done.reason == "Contrat en cours."
    with engine.connect() as conn:  # nothing erased
        assert conn.execute(text("SELECT COUNT(*) FROM contacts")).scalar() == 2
