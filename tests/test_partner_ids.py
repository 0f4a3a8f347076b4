"""Partner ids follow one pattern on every route; paths built from data stay in their
folder."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.db import schema
from listguard.errors import InputError
from listguard.imports import import_file
from listguard.io.formula import neutralise
from listguard.partner_ids import is_partner_id
from listguard.paths import confined
from tests.scenario import contact, partner, write_csv
from tests.test_web import _sign_in
from tests.web_server import Site, form_token

BAD_IDS = ["../../../escape", "..", "a..b", "a/b", "a\\b", ".hidden", "-x", "P 1", "P1\n", "é1"]
BAD_IDS += ["x" * 65, "", "partner:P1"]


@pytest.mark.parametrize("value", ["P1", "P0003", "edition-2026", "crm_x.fr", "A" * 64])
def test_ids_of_the_data_and_the_demo_are_partner_ids(value: str) -> None:
    assert is_partner_id(value)


@pytest.mark.parametrize("value", BAD_IDS)
def test_ids_that_could_name_another_path_are_not(value: str) -> None:
    assert not is_partner_id(value)


def test_the_partners_import_refuses_them(engine: Engine, tmp_path: Path) -> None:
    ids = ["../../../escape", "a/b", "..", "P..1", "-x", "P1"]
    rejects = tmp_path / "rejects.csv"
    report = import_file(
        engine,
        "partners",
        write_csv(tmp_path / "p.csv", [partner(i) for i in ids]),
        rejects_path=rejects,
    )
    assert (report.rows_new, report.rows_rejected) == (1, 5)
    with rejects.open(encoding="utf-8-sig") as f:
        bad = list(csv.DictReader(f, delimiter=";"))
    assert [(b["line"], b["column"], b["value"]) for b in bad] == [
        (str(n), "partner_id", neutralise(v)) for n, v in enumerate(ids[:-1], 2)
    ]  # the rejects file is a CSV for a spreadsheet: "-x" is written "'-x"
    assert "a partner id is 1 to 64 letters" in bad[0]["message"]


def test_events_and_the_api_refuse_such_a_partner_scope(site: Site) -> None:
    rejects = site.tmp / "ev.rejects.csv"
    events = [
        {"email": "c1@example.com", "event": "opposition", "channel": "all", "at": "2026-11-01"}
        | {"scope": scope}
        for scope in ("partner:../../x", "partner:a/b", "partner:P1")
    ]
    report = import_file(
        site.engine, "events", write_csv(site.tmp / "ev.csv", events), rejects_path=rejects
    )
    assert (report.rows_new, report.rows_rejected) == (1, 2)
    machine = {"Authorization": f"Bearer {site.machine}"}
    with site.client() as c:
        for scope in ("partner:../../x", "partner:..", "partner:P..1"):
            made = c.post(
                "/api/v1/oppositions",
                headers=machine,
                json={"channel": "all", "email": "c1@example.com", "scope": scope},
            )
            assert made.status_code in (400, 422), scope


def test_the_back_office_refuses_them(site: Site) -> None:
    with site.client() as c:
        _sign_in(c)
        csrf = form_token(c.get("/admin/partners").text, "csrf")
        page = c.post("/admin/partners", data={**partner("../../../escape"), "csrf": csrf})
        assert page.status_code == 422 and "un identifiant de partenaire a de 1 à 64" in page.text
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM partners")).scalar() == 2


def test_a_delivery_of_an_id_imported_before_stays_in_the_deliveries_folder(site: Site) -> None:
    """A partner id imported before the pattern was checked cannot take the back
    office's delivery out of its folder."""
    columns = [c.name for c in schema.partners.columns if c.name != "partner_id"]
    with site.engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO partners (partner_id, {', '.join(columns)}) "
                f"SELECT '../../../escape', {', '.join(columns)} FROM partners "
                "WHERE partner_id = 'P1'"
            )
        )
    order = (
        'partner = "../../../escape"\nchannels = ["email"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n"
    )
    with site.client() as c:
        _sign_in(c)
        csrf = form_token(c.get("/admin/rentals").text, "csrf")
        shown = c.post("/admin/rentals", data={"csrf": csrf, "order": order})
        digest = form_token(shown.text, "digest")
        form = {"csrf": csrf, "order": order, "digest": digest, "action": "deliver"}
        done = c.post("/admin/rentals", data=form)
    assert done.status_code == 422 and "cannot name a file or folder" in done.text
    assert not list(site.tmp.parent.rglob("escape-*"))
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 2


def test_the_file_drop_stays_in_its_folder(engine: Engine, tmp_path: Path) -> None:
    from listguard.oppositions import record_opposition
    from listguard.propagation.transports.file_drop import FileDropTransport
    from listguard.propagation.transports.routing import Transports
    from listguard.propagation.worker import run_once
    from tests.scenario import Scenario

    sc = Scenario(engine, tmp_path, contacts=[contact("C1")], partners=[partner("P1")])
    sc.load()
    sc.rent(partner="P1", channels=("email",))
    columns = [c.name for c in schema.partners.columns if c.name != "partner_id"]
    with engine.begin() as conn:  # an id imported before the pattern was checked
        conn.execute(
            text(
                f"INSERT INTO partners (partner_id, {', '.join(columns)}) "
                f"SELECT '../up', {', '.join(columns)} FROM partners WHERE partner_id = 'P1'"
            )
        )
        conn.execute(text("UPDATE deliveries SET partner_id = '../up'"))
    record_opposition(engine, channel="email", contact_id="C1")
    drop = tmp_path / "box" / "drop"
    report = run_once(engine, Transports(file_drop=FileDropTransport(drop)))
    assert (report.sent, report.retried) == (0, 1)
    assert report.errors == ["../up: refused: the partner id cannot name a folder"]
    assert not (tmp_path / "box" / "up").exists()


def test_confined_paths(tmp_path: Path) -> None:
    assert confined(tmp_path, "delivery-P1-20261206") == tmp_path / "delivery-P1-20261206"
    for name in ("..", "../x", "a/../../b", "/etc", "x\0y", ""):
        with pytest.raises(InputError):
            confined(tmp_path, name)
    (tmp_path / "link").symlink_to("/")
    with pytest.raises(InputError, match="outside"):
        confined(tmp_path, "link")
