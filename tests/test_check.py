"""``listguard check`` agrees with ``rent`` row for row (rules.md, "Settled points").

A registry holds one contact per case of the reason table (``test_cli_reasons``);
an order whose campaign window spans 2026-08-11 (both rule packs) is rented on every
channel, then ``check`` explains every (contact, channel) with the same options as
the order (and a sample of them with ``--delivery``); each must give the decision
and reasons of each row of ``decisions.csv``, coordinate by coordinate."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from listguard.cli.main import run
from tests.scenario import ALL_CHANNELS, contact, partner, write_csv
from tests.test_cli_reasons import MERGEABLE, _personal

AS_OF, START, END = "2026-08-01", "2026-08-03", "2026-08-20"  # spans 2026-08-11


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        run(list(args))
    out = capsys.readouterr()
    code = done.value.code
    return (0 if code is None else int(code)), out.out, out.err


def explained(text: str) -> list[tuple[str, str]]:
    """(coordinate, reasons) of each row ``check`` printed, in its order."""
    rows: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("- "):
            coordinate, decision = line[2:].rsplit(": ", 1)
            rows.append(("" if coordinate == "(none)" else coordinate, []))
            assert decision in ("eligible", "excluded"), line
        elif line.startswith("    ") and not line.startswith("      "):
            rows[-1][1].append(line.strip().split(":", 1)[0])
    return [(c, "|".join(r)) for c, r in rows]


def _registry(tmp: Path, capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    day = dt.date.fromisoformat(AS_OF)
    contacts, events, supp = [], [], []
    screenings: dict[str, list[dict[str, Any]]] = {}
    for i, case in enumerate(MERGEABLE):
        row, ev, sp, screened = _personal(i, case, day)
        contacts.append(row)
        events += ev
        supp += sp
        for date, number, result in screened:
            if len(number) == 10 and date <= "2026-08-10":
                rows = screenings.setdefault(date, [])
                rows.append({"Telephone": number, "Identifiant": len(rows) + 1, "Resultat": result})
    # a business, and two contacts sharing an email (``duplicate``)
    contacts.append(contact("B2B", audience="b2b", company="Ex SA", email="b@ex.example"))
    contacts.append(contact("DUP1", email="same@ex.example", mobile="0611111111"))
    contacts.append(contact("DUP2", email="same@ex.example", mobile="0622222222"))
    assert cli(capsys, *db, "init")[0] == 0
    for kind, rows in (("partners", [partner()]), ("contacts", contacts), ("events", events)):
        path = write_csv(tmp / f"{kind}.csv", rows)
        assert cli(capsys, *db, "import", kind, str(path))[0] == 0
    assert cli(capsys, *db, "import", "suppression", str(write_csv(tmp / "s.csv", supp)))[0] == 0
    for date, rows in screenings.items():
        path = write_csv(tmp / f"bloctel-{date}.csv", rows)
        assert cli(capsys, *db, "bloctel", "import", str(path), "--screened-at", date)[0] == 0


def test_check_agrees_with_rent_row_for_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    offer = "energy_renovation"  # banned on some channels from before the window, not postal
    db = ["--db", f"sqlite:///{tmp_path / 'reg.db'}"]
    _registry(tmp_path, capsys, db)
    order = tmp_path / "order.toml"
    order.write_text(
        f'partner = "P1"\nchannels = {list(ALL_CHANNELS)!r}\npurpose = "Offre test"\n'.replace(
            "'", '"'
        )
        + f'offer = "{offer}"\ncampaign_start = {START}\ncampaign_end = {END}\nas_of = {AS_OF}\n',
        encoding="utf-8",
    )
    assert cli(capsys, *db, "rent", str(order), "--out", str(tmp_path / "out"))[0] == 0
    rented: dict[tuple[str, str], list[tuple[str, str]]] = {}
    with (tmp_path / "out" / "decisions.csv").open(encoding="utf-8-sig") as f:
        for r in csv.DictReader(f, delimiter=";"):
            assert (r["decision"] == "eligible") == (r["reasons"] == "")
            # a value a spreadsheet would read as a formula may be written with a quote
            rented.setdefault((r["contact_id"], r["channel"]), []).append(
                (r["coordinate"].removeprefix("'"), r["reasons"])
            )
    reasons = {code for rows in rented.values() for _, rs in rows for code in rs.split("|")}
    # the registry is varied enough to say something
    assert {"banned_offer", "no_consent", "opposed", "duplicate", "bloctel_unscreened"} <= reasons
    window = ["--as-of", AS_OF, "--campaign-start", START, "--campaign-end", END]
    for n, ((cid, channel), rows) in enumerate(rented.items()):
        code, out, err = cli(
            capsys, *db, "check", cid, "--partner", "P1", "--channel", channel, *window,
            "--offer", offer,
        )  # fmt: skip
        assert code == 0, err
        assert explained(out) == rows, (cid, channel, out)
        if n % 4 and not cid.startswith("DUP"):
            continue  # a past delivery's row, from its recorded order: a sample suffices
        code, out, err = cli(capsys, *db, "check", cid, "--channel", channel, "--delivery", "1")
        assert code == 0, err
        assert explained(out) == rows, (cid, channel, out)


def _small(tmp: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    db = ["--db", f"sqlite:///{tmp / 'reg.db'}"]
    assert cli(capsys, *db, "init")[0] == 0
    people = [
        contact("C1"),
        contact("C2", email="c2@ex.example", mobile="0611111111", address_line4="2 rue Haute"),
    ]
    for kind, rows in (("partners", [partner()]), ("contacts", people)):
        assert cli(capsys, *db, "import", kind, str(write_csv(tmp / f"{kind}.csv", rows)))[0] == 0
    return db


ORDER = (
    'partner = "P1"\nchannels = ["postal", "email"]\npurpose = "Isolation"\n'
    'offer = "energy_renovation"\ncampaign_start = 2026-12-01\ncampaign_end = 2026-12-31\n'
    "as_of = 2026-11-28\nlimit = 1\n"
)


def test_check_explains_a_past_delivery_under_its_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--delivery``: the order as recorded (offer, window, limit over the whole base)."""
    db = _small(tmp_path, capsys)
    (tmp_path / "order.toml").write_text(ORDER, encoding="utf-8")
    assert (
        cli(capsys, *db, "rent", str(tmp_path / "order.toml"), "--out", str(tmp_path / "out"))[0]
        == 0
    )
    code, out, err = cli(capsys, *db, "check", "C1", "--channel", "email", "--delivery", "1")
    assert code == 0, err
    assert "offer energy_renovation" in out and "campaign 2026-12-01 to 2026-12-31" in out
    # C2 was collected as recently: the smaller contact_id is taken first (over_limit: C2)
    code, out, err = cli(capsys, *db, "check", "C2", "--channel", "postal", "--delivery", "1")
    assert code == 0, err
    assert explained(out) == [("2 rue Haute, 75002 Paris", "over_limit")], out
    code, out, err = cli(
        capsys, *db, "check", "C1", "--channel", "email", "--as-of", "2026-11-28",
        "--campaign-start", "2026-12-01", "--campaign-end", "2026-12-31", "--partner", "P1",
        "--offer", "energy_renovation",
    )  # fmt: skip
    assert code == 0, err
    assert explained(out) == [("marie.exemple@example.com", "banned_offer")]
    assert "L223-8, loi n° 2025-594" in out and "banned from 2025-07-02" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--partner", "P1", "--offer", "solar"], "--offer: unknown offer 'solar'"),
        (
            ["--partner", "P1", "--campaign-start", "2026-12-31", "--campaign-end", "2026-12-01"],
            "the campaign ends (2026-12-01) before it starts (2026-12-31)",
        ),
        (["--partner", "P1", "--campaign-start", "2026-12-01"], "--campaign-end"),
        (["--partner", "P1", "--call-purpose", "charity"], "unknown call purpose 'charity'"),
        (["--delivery", "7"], "unknown delivery 7"),
        (["--delivery", "1", "--offer", "general"], "leave out --offer"),
        (["--delivery", "1", "--partner", "P2"], "delivery 1 went to P1, not P2"),
        (["--delivery", "1", "--channel", "sms"], "unknown channel 'sms'"),
        ([], "--partner"),
    ],
)
def test_check_refuses_wrong_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = _small(tmp_path, capsys)
    (tmp_path / "order.toml").write_text(ORDER, encoding="utf-8")
    assert (
        cli(capsys, *db, "rent", str(tmp_path / "order.toml"), "--out", str(tmp_path / "out"))[0]
        == 0
    )
    if "--channel" not in args:
        args = [*args, "--channel", "email"]
    code, out, err = cli(capsys, *db, "check", "C1", *args)
    assert code == 1 and message in err, (out, err)
    assert "Traceback" not in err


def test_rent_refuses_an_unknown_offer_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _small(tmp_path, capsys)
    (tmp_path / "order.toml").write_text(
        ORDER.replace("energy_renovation", "solar"), encoding="utf-8"
    )
    code, _, err = cli(
        capsys, *db, "rent", str(tmp_path / "order.toml"), "--out", str(tmp_path / "out")
    )
    assert code == 1 and "unknown offer 'solar'" in err and "order.toml" in err
    assert not (tmp_path / "out").exists()
    code, _, err = cli(capsys, *db, "check", "C1", "--channel", "email", "--delivery", "1")
    assert code == 1 and "unknown delivery 1" in err
