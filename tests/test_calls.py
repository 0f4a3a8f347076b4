"""Call rules on the partner side (décret n° 2022-1313, D223-9): may this number be
called at this instant, with every reason it may not. A table over every territory,
hour boundary, weekend, holiday (national and each territory's own), Paris's and
Miquelon's clock changes, the 30-day limit and the 60 days after a refusal."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.calls.calendar import easter, holidays, territory_of
from listguard.calls.check import REASONS, check
from listguard.storage.engine import make_engine
from listguard.timeutil import day_end
from tests.scenario import Scenario, contact, listguard
from tests.web_server import Site

FR = "+33612345678"
FR_FIXED = "+33142000000"
RE = "+262692123456"
RE_FIXED = "+262262123456"
YT = "+262639012345"
YT_FIXED = "+262269601234"
YT_AS_33 = "+33269601234"  # a Mayotte landline as the normaliser gives its national form
GP = "+590690123456"
MQ = "+596696123456"
MQ_AS_33 = "+33596601234"  # a Martinique landline, likewise
GF = "+594694123456"
PM = "+508551234"
UK = "+447911123456"
LIMIT = "+33611111111"  # called 4 times in November
REFUSED = "+33622222222"  # refused a call on 5 October
ENDED = "+33633333333"  # its delivery may be used until 6 December
OPPOSED = "+33644444444"  # an opposition received
NOT_DELIVERED = "+33655555555"
OPPOSED_ONLY = "+33666666666"  # opposed, never delivered

OUT, WE, HOL = "outside_hours", "weekend", "public_holiday"
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # metropolitan France, every boundary of the two periods (December: +01:00)
    (FR, "2026-12-07T09:59:00+01:00", (OUT,)),
    (FR, "2026-12-07T10:00:00+01:00", ()),
    (FR, "2026-12-07T12:59:00+01:00", ()),
    (FR, "2026-12-07T12:59:59+01:00", ()),
    (FR, "2026-12-07T13:00:00+01:00", (OUT,)),
    (FR, "2026-12-07T13:59:00+01:00", (OUT,)),
    (FR, "2026-12-07T14:00:00+01:00", ()),
    (FR, "2026-12-07T19:59:00+01:00", ()),
    (FR, "2026-12-07T20:00:00+01:00", (OUT,)),
    (FR, "2026-12-07T09:00:00Z", ()),  # 10:00 in Paris
    (FR, "2026-12-07T08:59:00Z", (OUT,)),
    (FR_FIXED, "2026-12-08T10:00:00+01:00", ()),
    (FR, "2026-12-12T11:00:00+01:00", (WE,)),
    (FR, "2026-12-13T21:00:00+01:00", (WE, OUT)),
    # the eleven national holidays (and the two days only Alsace-Moselle has)
    (FR, "2026-01-01T11:00:00+01:00", (HOL,)),
    (FR, "2026-04-06T11:00:00+02:00", (HOL,)),  # Easter Monday
    (FR, "2026-05-01T11:00:00+02:00", (HOL,)),
    (FR, "2026-05-08T11:00:00+02:00", (HOL,)),
    (FR, "2026-05-14T11:00:00+02:00", (HOL,)),  # Ascension
    (FR, "2026-05-25T11:00:00+02:00", (HOL,)),  # Whit Monday
    (FR, "2026-07-14T11:00:00+02:00", (HOL,)),
    (FR, "2026-08-15T11:00:00+02:00", (WE, HOL)),  # a Saturday
    (FR, "2026-11-11T11:00:00+01:00", (HOL,)),
    (FR, "2026-12-25T11:00:00+01:00", (HOL,)),
    (FR, "2026-12-25T21:00:00+01:00", (HOL, OUT)),
    (FR, "2027-03-29T11:00:00+02:00", (HOL,)),  # Easter Monday 2027
    (FR, "2027-05-06T11:00:00+02:00", (HOL,)),  # Ascension 2027
    (FR, "2026-04-03T11:00:00+02:00", ()),  # Good Friday
    (FR, "2025-12-26T11:00:00+01:00", ()),  # St Stephen's day
    (FR, "2026-05-27T11:00:00+02:00", ()),  # Guadeloupe's day, not Paris's
    # Paris's clock changes: the same UTC hour is another local hour
    (FR, "2026-03-27T09:00:00Z", ()),  # Friday, +01:00: 10:00
    (FR, "2026-03-27T18:59:00Z", ()),  # 19:59
    (FR, "2026-03-29T08:30:00Z", (WE,)),  # the Sunday of the change
    (FR, "2026-03-30T07:59:00Z", (OUT,)),  # Monday, +02:00: 09:59
    (FR, "2026-03-30T08:00:00Z", ()),  # 10:00
    (FR, "2026-03-30T18:00:00Z", (OUT,)),  # 20:00
    (FR, "2026-10-23T18:00:00Z", (OUT,)),  # Friday, +02:00: 20:00
    (FR, "2026-10-26T18:00:00Z", ()),  # Monday, +01:00: 19:00
    (FR, "2026-10-26T08:59:00Z", (OUT,)),  # 09:59
    # La Réunion (+04:00)
    (RE, "2026-12-07T09:59:00+04:00", (OUT,)),
    (RE, "2026-12-07T10:00:00+04:00", ()),
    (RE, "2026-12-07T10:00:00+01:00", (OUT,)),  # 13:00 there
    (RE, "2026-12-07T13:59:00+04:00", (OUT,)),
    (RE, "2026-12-07T19:59:00+04:00", ()),
    (RE, "2026-12-07T20:00:00+04:00", (OUT,)),
    (RE, "2026-12-07T06:30:00Z", ()),  # 10:30 there, 07:30 in Paris
    (RE, "2027-12-20T11:00:00+04:00", (HOL,)),  # abolition of slavery
    (FR, "2027-12-20T11:00:00+01:00", ()),
    (RE_FIXED, "2026-05-27T11:00:00+04:00", ()),
    (RE, "2026-05-14T11:00:00+04:00", (HOL,)),  # Ascension there too
    # Mayotte (+03:00)
    (YT, "2026-04-27T10:00:00+03:00", (HOL,)),  # abolition of slavery
    (YT_FIXED, "2026-04-27T15:00:00+03:00", (HOL,)),
    (YT, "2026-04-28T10:00:00+03:00", ()),
    (YT, "2026-12-07T10:00:00+04:00", (OUT,)),  # 09:00 there
    (YT, "2026-12-07T19:59:00+03:00", ()),
    (YT, "2026-12-07T20:00:00+03:00", (OUT,)),
    (YT_AS_33, "2026-12-07T18:30:00+01:00", (OUT,)),  # 20:30 there, 18:30 in Paris
    (YT_AS_33, "2026-12-07T12:30:00+01:00", ()),  # 14:30 there
    (RE, "2026-04-27T10:00:00+04:00", ()),  # Mayotte's day, not Réunion's
    # Guadeloupe (-04:00; its numbers are also Saint-Martin's and Saint-Barthélemy's)
    (GP, "2026-05-27T10:00:00-04:00", (HOL,)),  # abolition of slavery
    (GP, "2026-05-28T10:00:00-04:00", (HOL,)),  # Saint-Martin's
    (GP, "2026-10-09T10:00:00-04:00", (HOL,)),  # Saint-Barthélemy's
    (GP, "2026-07-21T10:00:00-04:00", (HOL,)),  # Victor Schœlcher
    (GP, "2026-05-22T10:00:00-04:00", ()),  # Martinique's day
    (GP, "2026-12-07T14:00:00-04:00", ()),
    (GP, "2026-12-07T13:00:00-04:00", (OUT,)),
    (GP, "2026-12-07T23:30:00Z", ()),  # 19:30 there, 00:30 in Paris
    (GP, "2026-12-08T00:00:00Z", (OUT,)),  # Monday 20:00 there
    (GP, "2026-12-12T01:00:00Z", (OUT,)),  # Friday 21:00 there, Saturday in Paris
    # Martinique (-04:00)
    (MQ, "2026-05-22T12:00:00-04:00", (HOL,)),  # abolition of slavery
    (MQ, "2026-05-27T12:00:00-04:00", ()),
    (MQ, "2026-07-21T12:00:00-04:00", (HOL,)),
    (MQ, "2026-12-07T12:59:00-04:00", ()),
    (MQ_AS_33, "2026-12-07T19:30:00+01:00", ()),  # 14:30 there
    (MQ_AS_33, "2026-12-07T11:00:00+01:00", (OUT,)),  # 06:00 there
    # Guyane (-03:00)
    (GF, "2026-06-10T10:00:00-03:00", (HOL,)),  # abolition of slavery
    (GF, "2026-06-11T10:00:00-03:00", ()),
    (GF, "2026-12-07T12:59:00-03:00", ()),
    (GF, "2026-12-07T13:00:00-03:00", (OUT,)),
    (GF, "2026-12-07T22:59:00Z", ()),  # 19:59 there
    (GF, "2026-12-07T23:00:00Z", (OUT,)),  # 20:00 there
    (GF, "2026-12-25T10:00:00-03:00", (HOL,)),
    # Saint-Pierre-et-Miquelon (-03:00, -02:00 from March to November)
    (PM, "2026-12-07T10:00:00-03:00", ()),
    (PM, "2026-12-07T09:59:00-03:00", (OUT,)),
    (PM, "2026-07-15T12:00:00Z", ()),  # 10:00 there in summer
    (PM, "2026-07-15T11:59:00Z", (OUT,)),  # 09:59
    (PM, "2026-03-06T12:59:00Z", (OUT,)),  # before the change: 09:59
    (PM, "2026-03-09T12:59:00Z", ()),  # after it: 10:59
    (PM, "2026-07-14T14:00:00-02:00", (HOL,)),
    (PM, "2026-05-27T12:00:00-02:00", ()),
    # a number of no territory listguard knows
    (UK, "2026-12-07T10:00:00Z", ("unknown_territory",)),
    # what the registry holds: deliveries, oppositions, the call log
    (NOT_DELIVERED, "2026-12-07T10:00:00+01:00", ("not_delivered",)),
    (OPPOSED, "2026-12-07T10:00:00+01:00", ("opposition",)),
    (OPPOSED_ONLY, "2026-12-12T21:00:00+01:00", ("not_delivered", "opposition", WE, OUT)),
    (ENDED, "2026-12-04T19:00:00+01:00", ()),
    (ENDED, "2026-12-07T10:00:00+01:00", ("no_longer_eligible",)),
    (LIMIT, "2026-12-02T10:00:00+01:00", ()),  # 2 November 10:00 is 30 days before
    (LIMIT, "2026-12-02T09:59:59+01:00", (OUT, "call_limit")),
    (LIMIT, "2026-12-01T11:00:00+01:00", ("call_limit",)),
    (LIMIT, "2026-11-20T11:00:00+01:00", ()),  # 3 calls by then
    (LIMIT, "2026-12-31T11:00:00+01:00", ()),  # 1 call in the 30 days
    (REFUSED, "2026-12-03T10:00:00+01:00", ("refused_recently",)),
    (REFUSED, "2026-12-04T10:00:00+01:00", ()),  # 60 days after, and an hour
]
ATTEMPTS = [
    (LIMIT, "2026-11-02T10:00:00+01:00", "attempt"),
    (LIMIT, "2026-11-10T10:00:00+01:00", "answered"),
    (LIMIT, "2026-11-20T10:00:00+01:00", "attempt"),
    (LIMIT, "2026-12-01T10:00:00+01:00", "attempt"),
    (REFUSED, "2026-10-05T10:00:00+02:00", "refused"),
]


def _ts(value: str) -> int:
    return int(dt.datetime.fromisoformat(value).timestamp())


@pytest.fixture
def calls_registry(any_engine: Engine) -> Engine:
    delivered = {n for n, _, _ in CASES} - {NOT_DELIVERED, OPPOSED_ONLY}
    with any_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO call_numbers (number, source, delivery, received_at, usable_until) "
                "VALUES (:n, 'editions', 'd1', 0, :u)"
            ),
            [
                {"n": n, "u": day_end(dt.date(2026, 12, 6)) if n == ENDED else None}
                for n in sorted(delivered)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO suppressions (list, kind, value, added_at) "
                "VALUES ('opposition:editions', 'phone', :n, 0)"
            ),
            [{"n": OPPOSED}, {"n": OPPOSED_ONLY}],
        )
        conn.execute(
            text(
                "INSERT INTO call_attempts (number, at, outcome, recorded_at, via) "
                "VALUES (:n, :a, :o, 0, 'file')"
            ),
            [{"n": n, "a": _ts(at), "o": o} for n, at, o in ATTEMPTS],
        )
    return any_engine


def test_the_table_covers_every_territory_and_reason() -> None:
    assert len(CASES) >= 60
    places = {territory_of(n).code for n, _, _ in CASES if territory_of(n)}  # type: ignore[union-attr]
    assert places == {"FR", "RE", "YT", "GP", "MQ", "GF", "PM"}
    assert {r for _, _, reasons in CASES for r in reasons} == set(REASONS)


def test_may_this_number_be_called_now(calls_registry: Engine) -> None:
    wrong = []
    with calls_registry.connect() as conn:
        for number, at, expected in CASES:
            answer = check(conn, number, dt.datetime.fromisoformat(at))
            got = tuple(code for code, _ in answer.reasons)
            if got != expected:
                wrong.append(f"{number} at {at}: {got}, expected {expected}")
            assert answer.allowed == (not expected)
    assert not wrong, "\n".join(wrong)


def test_the_reasons_say_where_and_when(calls_registry: Engine) -> None:
    with calls_registry.connect() as conn:
        holiday = check(conn, MQ, dt.datetime.fromisoformat("2026-05-22T12:00:00-04:00"))
        late = check(conn, YT_AS_33, dt.datetime.fromisoformat("2026-12-07T18:30:00+01:00"))
        limit = check(conn, LIMIT, dt.datetime.fromisoformat("2026-12-01T11:00:00+01:00"))
    assert "2026-05-22 is a public holiday in Martinique" in holiday.reasons[0][1]
    assert late.territory is not None and late.territory.zone.key == "Indian/Mayotte"
    assert "it is 20:30 there" in late.reasons[0][1]
    assert limit.calls == 4 and "4 calls or attempts in the last 30 days" in limit.reasons[0][1]


@pytest.mark.parametrize("year", range(2024, 2031))
def test_holidays_follow_easter_each_year(year: int) -> None:
    known_easter = {
        2024: (3, 31),
        2025: (4, 20),
        2026: (4, 5),
        2027: (3, 28),
        2028: (4, 16),
        2029: (4, 1),
        2030: (4, 21),
    }
    sunday = dt.date(year, *known_easter[year])
    assert easter(year) == sunday
    days = holidays("FR", year)
    assert len(days) == 11
    for offset in (1, 39, 50):
        assert sunday + dt.timedelta(days=offset) in days
    assert len(holidays("GP", year)) == 15 and len(holidays("PM", year)) == 11


# -- the command line ------------------------------------------------------------------


def _cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return listguard(tmp / "reg.db", tmp, *args)


def _attempts(tmp: Path) -> int:
    engine = make_engine(f"sqlite:///{tmp / 'reg.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM call_attempts")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def partner_dir(tmp_path: Path) -> Path:
    assert _cli(tmp_path, "init").returncode == 0
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "contacts.csv").write_text(
        "\ufeffcontact_ref;phone;automated_call;source\n"
        "R1;+33612345678|+262692123456;;ed\n"
        "R2;;+33799999999;ed\n",
        encoding="utf-8",
    )
    done = _cli(tmp_path, "calls", "receive", "d1", "--source", "editions", "--until", "2026-12-31")
    assert done.returncode == 0, done.stderr
    assert "3 numbers" in done.stdout
    return tmp_path


def test_calls_check_answers_with_its_exit_status(partner_dir: Path) -> None:
    yes = _cli(partner_dir, "calls", "check", "06 12 34 56 78", "--at", "2026-12-07T10:00:00+01:00")
    assert yes.returncode == 0, yes.stderr
    assert "may be called" in yes.stdout
    no = _cli(
        partner_dir, "calls", "check", "0692123456", "--at", "2026-12-07T19:00:00+01:00",
        "--format", "json",
    )  # fmt: skip
    assert no.returncode == 3, no.stderr
    answer = json.loads(no.stdout)
    assert answer["time_zone"] == "Indian/Reunion" and answer["local_time"].startswith(
        "2026-12-07T22:00"
    )
    assert [r["code"] for r in answer["reasons"]] == ["outside_hours"]
    ended = _cli(partner_dir, "calls", "check", "0799999999", "--at", "2027-01-04T10:00:00+01:00")
    assert ended.returncode == 3 and "no_longer_eligible" in ended.stdout


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("2026-12-07T10:00:00", "has no time zone"),
        ("2026-12-07 10:00", "has no time zone"),
        ("2026-02-30T10:00:00+01:00", "is not a date and time"),
        ("tomorrow", "is not a date and time"),
        ("0001-01-01T00:00:00+01:00", "between 2000 and 2100"),
        ("9999-12-31T23:00:00-05:00", "between 2000 and 2100"),
    ],
)
def test_calls_check_refuses_an_instant_without_its_zone(
    partner_dir: Path, at: str, says: str
) -> None:
    done = _cli(partner_dir, "calls", "check", "0612345678", "--at", at)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "--at" in done.stderr and says in done.stderr and at in done.stderr


def test_a_call_log_with_impossible_dates_records_nothing(partner_dir: Path) -> None:
    log = partner_dir / "log.csv"
    log.write_text(
        "number,at,outcome\n"
        "0612345678,2026-12-01T10:00:00+01:00,\n"
        "0612345678,2026-02-30T10:00:00+01:00,attempt\n"
        "0612345678,2026-03-29T02:30:00,attempt\n"  # Paris's clocks skipped 02:30
        "nope,2026-12-01T10:00:00Z,attempt\n"
        "0612345678,2126-12-02T10:00:00Z,answered\n"
        "0612345678,0026-12-02T10:00:00Z,answered\n"
        "0612345678,2026-12-02T10:00:00Z,maybe\n",
        encoding="utf-8",
    )
    done = _cli(partner_dir, "calls", "log", "log.csv")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "nothing was recorded" in done.stderr
    for line in (
        "line 3: column at: '2026-02-30T10:00:00+01:00'",
        "line 4: column at: '2026-03-29T02:30:00'",
        "line 5: column number: 'nope'",
        "line 6: column at: '2126-12-02T10:00:00Z' is in the future",
        "line 7: column at: '0026-12-02T10:00:00Z' is before 2000",
        "line 8: column outcome: 'maybe'",
    ):
        assert line in done.stderr
    assert "line 2" not in done.stderr
    assert _attempts(partner_dir) == 0


def test_the_call_log_counts_towards_the_limit_once(partner_dir: Path) -> None:
    log = partner_dir / "log.csv"
    log.write_text(
        "number;at;outcome\n"
        "06 12 34 56 78;2026-11-30T10:00:00+01:00;attempt\n"
        "+33612345678;2026-12-01 10:00;answered\n"  # Paris time, as in every file
        "0612345678;02/12/2026 11:00;attempt\n"
        "0612345678;2026-12-03T09:00:00Z;attempt\n",
        encoding="utf-8",
    )
    first = _cli(partner_dir, "calls", "log", "log.csv")
    assert first.returncode == 0, first.stderr
    assert "4 calls or attempts recorded" in first.stdout
    again = _cli(partner_dir, "calls", "log", "log.csv")
    assert "0 calls or attempts recorded" in again.stdout
    assert _attempts(partner_dir) == 4
    done = _cli(partner_dir, "calls", "check", "0612345678", "--at", "2026-12-04T10:00:00+01:00")
    assert done.returncode == 3 and "call_limit" in done.stdout
    later = _cli(partner_dir, "calls", "check", "0612345678", "--at", "2026-12-30T10:00:00+01:00")
    assert later.returncode == 0, later.stdout


# -- the API ---------------------------------------------------------------------------


def test_the_api_checks_and_records_calls(site: Site) -> None:
    with site.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO call_numbers (number, source, delivery, received_at) "
                "VALUES (:n, 'editions', 'd1', 0)"
            ),
            {"n": GF},
        )
    machine = {"Authorization": f"Bearer {site.machine}"}
    partner_key = {"Authorization": f"Bearer {site.p1}"}
    at = "2026-12-07T12:00:00-03:00"
    with site.client() as http:
        asked = http.get(
            "/api/v1/calls/check", params={"number": "0694123456", "at": at}, headers=machine
        )
        assert asked.status_code == 200, asked.text
        assert asked.json()["allowed"] is True and asked.json()["time_zone"] == "America/Cayenne"
        # a "+" left unencoded in the query string arrives as a space
        raw = http.get(
            "/api/v1/calls/check?number=%2B594694123456&at=2026-12-07T16:00:00+01:00",
            headers=machine,
        )
        assert raw.status_code == 200, raw.text
        assert raw.json()["at"] == "2026-12-07T16:00:00+01:00" and raw.json()["allowed"] is True
        for day in (1, 2, 3, 4):
            made = http.post(
                "/api/v1/calls/attempts",
                json={"number": "+594 694 12 34 56", "at": f"2026-12-0{day}T11:00:00-03:00"},
                headers=machine,
            )
            assert made.status_code == 201 and made.json()["recorded"] is True, made.text
        repeat = http.post(
            "/api/v1/calls/attempts",
            json={"number": GF, "at": "2026-12-01T14:00:00Z"},  # the same instant
            headers=machine,
        )
        assert repeat.json()["recorded"] is False
        limited = http.get("/api/v1/calls/check", params={"number": GF, "at": at}, headers=machine)
        body = limited.json()
        assert body["allowed"] is False and body["calls_in_window"] == 4
        assert [r["code"] for r in body["reasons"]] == ["call_limit"]
        naive = http.get(
            "/api/v1/calls/check",
            params={"number": GF, "at": "2026-12-07T12:00:00"},
            headers=machine,
        )
        assert naive.status_code == 400 and "no time zone" in naive.json()["detail"]
        future = http.post(
            "/api/v1/calls/attempts",
            json={"number": GF, "at": "2126-12-01T11:00:00-03:00"},
            headers=machine,
        )
        assert future.status_code == 400
        bad = http.post(
            "/api/v1/calls/attempts", json={"number": "nope", "at": at}, headers=machine
        )
        assert bad.status_code == 400
        assert (
            http.get("/api/v1/calls/check", params={"number": GF}, headers=partner_key).status_code
            == 403
        )
        assert http.get("/api/v1/calls/check", params={"number": GF}).status_code == 401
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM call_attempts")).scalar_one() == 4


# -- the delivery ----------------------------------------------------------------------


def test_a_delivery_for_calls_states_the_rules_and_is_received(
    engine: Engine, tmp_path: Path
) -> None:
    from listguard.calls.log import receive

    sc = Scenario(engine, tmp_path, contacts=[contact("C1"), contact("C2", mobile="0692 12 34 56")])
    sc.load()
    sc.rent(channels=("phone", "email"), out="calls")
    sc.rent(channels=("email",), out="mail")
    folder = tmp_path / "calls"
    notice = (folder / "notice.txt").read_text(encoding="utf-8")
    assert "de 10 h à 13 h et de 14 h à 20 h, à l'heure de la personne" in notice
    assert "La Réunion 20 décembre" in notice and "y compris pour la presse" in notice
    assert "au plus 4 appels ou tentatives d'appel en 30 jours" in notice
    rules = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["call_rules"]
    assert rules["hours"] == ["10:00-13:00", "14:00-20:00"] and rules["max_calls"] == 4
    assert rules["territories"]["YT"]["time_zone"] == "Indian/Mayotte"
    assert rules["territories"]["RE"]["own_holidays"] == ["12-20 abolition de l'esclavage"]
    manifest = json.loads((tmp_path / "mail" / "manifest.json").read_text(encoding="utf-8"))
    assert "call_rules" not in manifest
    # the partner records what it received, and may call within the hours
    got = receive(engine, folder, "editions", dt.date(2026, 12, 31))
    assert got.numbers == 2
    with engine.connect() as conn:
        monday = dt.datetime.fromisoformat("2026-12-07T10:00:00+01:00")
        assert check(conn, "+33612345678", monday).allowed
        assert [c for c, _ in check(conn, "+262692123456", monday).reasons] == ["outside_hours"]


def test_an_erasure_from_the_owner_stops_the_calls(engine: Engine) -> None:
    from listguard.inbound import add_source, receive
    from listguard.propagation.signing import sign
    from listguard.timeutil import now_ts

    add_source(engine, "editions", "k" * 32)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO call_numbers (number, source, delivery, received_at) "
                "VALUES (:n, 'editions', 'd1', 0)"
            ),
            [{"n": FR}, {"n": RE}],
        )
        conn.execute(
            text(
                "INSERT INTO call_attempts (number, at, outcome, recorded_at, via) "
                "VALUES (:n, 1, 'attempt', 0, 'file')"
            ),
            [{"n": FR}, {"n": RE}],
        )
    body = json.dumps(
        {
            "message_id": "lg-9-erase",
            "type": "erasure",
            "contacts": [{"contact_ref": "D1-1", "channel": "phone", "coordinate": FR}],
        }
    ).encode()
    now = now_ts()
    receive(engine, "editions", body, sign("k" * 32, body, now), now)
    monday = dt.datetime.fromisoformat("2026-12-07T11:00:00+01:00")
    with engine.connect() as conn:
        assert [c for c, _ in check(conn, FR, monday).reasons] == ["not_delivered"]
        assert check(conn, RE, dt.datetime.fromisoformat("2026-12-07T11:00:00+04:00")).allowed
        left = conn.execute(text("SELECT number FROM call_attempts")).scalars().all()
    assert left == [RE]  # nothing of the erased person's calls stays
