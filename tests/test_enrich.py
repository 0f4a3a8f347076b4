"""Enriching a partner's client file: each row matched against the base, the lawful
coordinates appended (and nothing else), the delivery recorded in the ledger so that
oppositions reach the partner, and bad input refused with a clear message."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from listguard.config import Settings
from listguard.demo.duplicates import HEADER, write_duplicates
from listguard.errors import InputError
from listguard.imports import import_file
from listguard.oppositions import record_opposition
from listguard.processing.enrich import enrich, make_order
from tests.scenario import partner, write_csv
from tests.test_cli import ok, user_error

AS_OF = dt.date(2026, 11, 28)
CHOICES = {
    "collected_at": "2026-01-10",
    "partners_postal": "informed",
    "partners_sms": "consent",
    "partners_email": "consent",
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f, delimiter=";"))


class Case:
    """A base of generated persons (the originals) and a client file of the same
    persons written differently (the duplicates), plus persons the base lacks."""

    def __init__(self, engine: Engine, tmp: Path) -> None:
        self.engine, self.tmp = engine, tmp
        rows = _read_generated(tmp / "gen.csv", 500)
        self.truth: dict[str, str] = rows.pop("truth")  # client ref -> contact_id
        base: list[dict[str, Any]] = [{**r, **CHOICES} for r in rows["base"]]
        by_id = {r["contact_id"]: r for r in base}
        refs = sorted(self.truth)
        # an opposition to email on one person; another holds a second record (same
        # person, clustered) that opposed; a third is twice in the base, not clustered
        self.opposed, self.clustered, self.twice = (self.truth[r] for r in refs[:3])
        base.append({**by_id[self.clustered], "contact_id": "X-clustered"})
        base.append({**by_id[self.twice], "contact_id": "X-twice"})
        import_file(engine, "partners", write_csv(tmp / "partners.csv", [partner()]))
        import_file(engine, "contacts", write_csv(tmp / "contacts.csv", base))
        self.base = {r["contact_id"]: r for r in base}
        # made the day before the order's as_of (an opposition after it would be ignored)
        before = int(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC).timestamp())
        for who in (self.opposed, "X-clustered"):
            record_opposition(engine, channel="email", scope="partners", contact_id=who, at=before)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                    "VALUES (:a, :a, 0), ('X-clustered', :a, 0)"
                ),
                {"a": self.clustered},
            )
        client = [
            {"Ref": f"R{i}", **{k: v for k, v in r.items() if k != "contact_id"}, "notes": f"n{i}"}
            for i, r in enumerate(rows["client"])
        ]
        for r in client:  # the partner's own layout
            r["Prenom"] = r.pop("first_name")
        self.client_rows = client
        self.client = write_csv(tmp / "client.csv", client)


def _read_generated(path: Path, persons: int) -> dict[str, Any]:
    """Originals for the base; their duplicates (a known error each) for the client,
    with 60 persons the base does not hold."""
    truth_pairs = write_duplicates(path, persons)
    rows = _read(path)
    originals = [r for r in rows if r["contact_id"].startswith("C")]
    duplicates = {r["contact_id"]: r for r in rows if r["contact_id"].startswith("D")}
    strangers_path = path.with_name("strangers.csv")
    write_duplicates(strangers_path, 60, seed=99, every=10**9)
    strangers = [
        {**r, "email": "x" + r["email"], "mobile": "07" + r["mobile"][2:]}
        for r in _read(strangers_path)
    ]
    # a person the base knows by name and address only, and a namesake of theirs in the
    # same town, on another street, whom the client knows by email and number
    known = {
        **{k: "" for k in originals[0]},
        "contact_id": "X-name-and-place",
        "first_name": "Gaëtan",
        "last_name": "Rocher",
        "address_line4": "4 rue du Moulin",
        "postal_code": "35000",
        "city": "Rennes",
    }
    originals.append(known)
    namesake = {
        **known,
        "address_line4": "2 impasse des Tilleuls",
        "email": "gaetan.rocher@example.net",
        "mobile": "0700000001",
    }
    client = [duplicates[d] for _c, d in sorted(truth_pairs)] + strangers + [namesake]
    truth = {f"R{i}": c for i, (c, _d) in enumerate(sorted(truth_pairs))}
    return {"base": originals, "client": client, "truth": truth}


def _run(case: Case, out: str = "out", **kw: Any) -> Any:
    order = make_order("P1", ["postal", "sms", "email"], "Offre test", as_of=AS_OF)
    return enrich(
        case.engine,
        case.client,
        case.tmp / out,
        Settings(),
        order,
        maps=["Prenom=first_name"],
        id_column="Ref",
        **kw,
    )


def test_a_client_file_gets_only_its_own_persons_lawful_coordinates(
    any_engine: Engine, tmp_path: Path
) -> None:
    engine = any_engine
    case = Case(engine, tmp_path)
    report = _run(case)
    out = tmp_path / "out"
    rows = _read(out / "enriched.csv")
    # every row of the client file, in its order, with its own columns kept
    assert [r["ref"] for r in rows] == [r["Ref"] for r in case.client_rows]
    assert [r["notes"] for r in rows] == [r["notes"] for r in case.client_rows]
    given = {r["ref"]: r for r in rows if r["appended_contact_ref"]}
    # never another person's coordinates
    wrong = [
        ref
        for ref, r in given.items()
        if r["appended_email"] and r["appended_email"] != case.base[case.truth[ref]]["email"]
    ]
    assert not wrong
    # strangers get nothing, nor the namesake living in the same town (the last row)
    assert all(ref in case.truth for ref in given)
    assert rows[-1]["appended_contact_ref"] == "" and rows[-1]["ref"] not in case.truth
    true_refs = set(case.truth)
    assert len(given) >= 0.85 * len(true_refs)
    for ref, r in given.items():
        assert r["appended_source"]
        assert any(r[f"appended_{c}"] for c in ("sms", "email", "postal_code"))
        assert r["appended_sms"][-9:] in ("", case.base[case.truth[ref]]["mobile"][-9:])
        # an address only where it is valid (most generated towns do not match their code)
        assert r["appended_postal_code"] in ("", case.base[case.truth[ref]]["postal_code"])
        # and then also as the standard's six lines, line 6 starting with the postal code
        six = [r[f"appended_line{i}"] for i in range(1, 7)]
        if r["appended_postal_code"]:
            assert six[0] and six[5].startswith(r["appended_postal_code"]), six
            assert all(len(line) <= 38 for line in six) and six[3] == six[3].upper()
        else:
            assert six == [""] * 6
        assert 0.9 <= float(r["appended_match_probability"]) <= 1
    ref_of = {c: ref for ref, c in case.truth.items()}
    # an opposition to email on the person itself, or on another record of the person
    for who in (case.opposed, case.clustered):
        r = given[ref_of[who]]
        assert r["appended_email"] == "" and r["appended_sms"], who
    # a person the base holds twice (not known as one person) is ambiguous: nothing
    twice = next(r for r in rows if r["ref"] == ref_of[case.twice])
    assert twice["appended_contact_ref"] == "" and twice["appended_match_probability"] == ""
    matches = {r["ref"]: r for r in _read(out / "matches.csv")}
    assert matches[ref_of[case.twice]]["status"] == "ambiguous"
    assert matches[ref_of[case.twice]]["persons"] == "2"
    assert matches[ref_of[case.clustered]]["status"] == "matched"
    # the report and the manifest agree with the files
    m = report.match
    assert m.rows == len(rows) == m.matched + m.ambiguous + m.unmatched
    assert m.enriched == len(given)
    assert m.matched == sum(r["status"] == "matched" for r in matches.values())
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "enrichment"
    assert 0 < manifest["match"]["rows_enriched_by_channel"]["postal"] < len(given)
    assert manifest["match"]["enriched"] == len(given)
    assert manifest["match"]["rows_enriched_by_channel"]["email"] == sum(
        bool(r["appended_email"]) for r in given.values()
    )
    assert set(manifest["files"]) == {"enriched.csv", "matches.csv", "notice.txt", "decisions.csv"}
    # recorded in the ledger like a rental: one row per appended coordinate
    with engine.connect() as conn:
        kind, delivered = conn.execute(
            text("SELECT kind, contacts_delivered FROM deliveries WHERE id = :d"),
            {"d": report.delivery.delivery_id},
        ).one()
        ledger = conn.execute(
            text("SELECT contact_ref, channel, coordinate FROM ledger WHERE delivery_id = :d"),
            {"d": report.delivery.delivery_id},
        ).all()
    assert kind == "enrichment" and delivered == len(
        {r["appended_contact_ref"] for r in given.values()}
    )
    appended = sum(
        bool(r["appended_email"]) + bool(r["appended_sms"]) + bool(r["appended_postal_code"])
        for r in given.values()
    )
    assert len(ledger) == appended
    # so an opposition of an enriched person reaches the partner
    ref, r = next((k, v) for k, v in given.items() if v["appended_email"])
    done = record_opposition(engine, channel="email", email=r["appended_email"])
    assert done.messages == 1


def test_each_enrichment_is_a_delivery_of_its_own(engine: Engine, tmp_path: Path) -> None:
    case = Case(engine, tmp_path)
    first, second = _run(case, "a"), _run(case, "b")
    assert second.delivery.delivery_id == first.delivery.delivery_id + 1
    a, b = (_read(tmp_path / name / "enriched.csv") for name in ("a", "b"))
    refs = [
        (x["appended_contact_ref"], y["appended_contact_ref"]) for x, y in zip(a, b, strict=True)
    ]
    assert any(x for x, _ in refs)
    assert all(x.startswith("D1-") and y.startswith("D2-") for x, y in refs if x)
    with pytest.raises(InputError, match="not empty"):
        _run(case, "b")
    with pytest.raises(InputError, match="threshold"):
        _run(case, "c", threshold=1.5)


def test_bad_input_is_refused_and_nothing_is_recorded(engine: Engine, tmp_path: Path) -> None:
    case = Case(engine, tmp_path)
    order = make_order("P1", ["email"], "Offre", as_of=AS_OF)

    def attempt(path: Path, **kw: Any) -> None:
        enrich(engine, path, tmp_path / "never", Settings(), order, **kw)

    clash = write_csv(
        tmp_path / "clash.csv", [{"contact_id": "1", "email": "a@b.fr", "appended_email": ""}]
    )
    with pytest.raises(InputError, match="appended_email"):
        attempt(clash)
    empty = tmp_path / "empty.csv"
    empty.write_text(";".join(HEADER) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="no rows"):
        attempt(empty)
    broken = tmp_path / "broken.csv"
    broken.write_text(
        'contact_id;first_name;last_name;email\n1;Marie;Durand;m@d.fr\n2;Jean;"Dupont;x\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="line 3"):
        attempt(broken)
    with pytest.raises(InputError, match="unknown partner"):
        enrich(
            engine,
            case.client,
            tmp_path / "never",
            Settings(),
            make_order("P9", ["email"], "Offre", as_of=AS_OF),
            maps=["Prenom=first_name"],
        )
    assert not (tmp_path / "never").exists()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one() == 0


def test_the_command_line(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    write_csv(tmp_path / "partners.csv", [partner()])
    ok(tmp_path, "import", "partners", "partners.csv")
    base = [
        {
            "contact_id": "C1",
            "first_name": "Marie",
            "last_name": "Durand",
            "birth_date": "1980-02-03",
            "email": "marie.durand@example.fr",
            "mobile": "0612345678",
            **CHOICES,
        },
        {
            "contact_id": "C2",
            "first_name": "Jean",
            "last_name": "Petit",
            "birth_date": "1975-06-07",
            "email": "jean.petit@example.fr",
            "mobile": "0698765432",
            **CHOICES,
        },
    ]
    write_csv(tmp_path / "contacts.csv", base)
    ok(tmp_path, "import", "contacts", "contacts.csv")
    write_csv(
        tmp_path / "client.csv",
        [
            {
                "id": "A",
                "nom": "DURAND",
                "prenom": "marie",
                "naissance": "1980-02-03",
                "email": "marie.durand@example.fr",
            },
            {
                "id": "B",
                "nom": "Inconnu",
                "prenom": "Paul",
                "naissance": "1990-01-01",
                "email": "paul@example.fr",
            },
        ],
    )
    maps = ["--map", "nom=last_name", "--map", "prenom=first_name", "--map", "naissance=birth_date"]
    said = ok(
        tmp_path,
        "enrich",
        "client.csv",
        "--partner",
        "P1",
        "--out",
        "out",
        "--channel",
        "sms",
        "--purpose",
        "Offre",
        "--id",
        "id",
        "--as-of",
        "2026-11-28",
        "--threshold",
        "0.5",  # two contacts teach the model little
        *maps,
    )
    assert "2 row(s): 1 matched (50.0%)" in said and "sms 1" in said
    rows = _read(tmp_path / "out" / "enriched.csv")
    assert [r["appended_sms"] for r in rows] == ["+33612345678", ""]
    assert "appended_email" not in rows[0]  # only the channels asked for
    err = user_error(tmp_path, "enrich", "client.csv", "--partner", "P1", "--out", "o2")
    assert "--channel" in err
    (tmp_path / "order.toml").write_text(
        'partner = "P2"\nchannels = ["sms"]\npurpose = "x"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\n",
        encoding="utf-8",
    )
    err = user_error(
        tmp_path, "enrich", "client.csv", "--partner", "P1", "--out", "o2", "--order", "order.toml"
    )
    assert "P2" in err
    assert not (tmp_path / "o2").exists()


def test_an_enrichment_order_says_its_offer() -> None:
    """An enrichment gives coordinates for prospecting too: its offer is checked as a
    rental order's, and banned_offer applies to it."""
    order = make_order("P1", ["sms"], "Isolation", as_of=AS_OF, offer="energy_renovation")
    assert order.offer == "energy_renovation" and 'offer = "energy_renovation"' in order.text
    assert make_order("P1", ["sms"], "Offre", as_of=AS_OF).offer == "general"
    with pytest.raises(InputError, match="unknown offer 'solar'"):
        make_order("P1", ["sms"], "Offre", as_of=AS_OF, offer="solar")
