"""The quality report of a file: what it counts, and the page it writes."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from listguard.processing.profile import profile_file, suggest_domain
from tests.test_cli import ok, user_error

HEADER = (
    "contact_id;civility;first_name;last_name;email;mobile;phone;address_line4;postal_code;"
    "city;birth_date\n"
)
SAMPLE = (
    HEADER
    + """1;Mme;Marie;Dupont;marie@gmial.com;06 12 34 56 78;;12 rue de la Paix;75002;Paris;1980-05-12
2;M.;Jean;Martin;jean@yopmail.com;0699;01 44 55 66 77;3 avenue Foch;69006;Lyon;31/02/1975
3;;Paul;Petit;paul@orange.fr;;;;;;
4;Madame;Marie;Dupont;marie@gmial.com;06 12 34 56 78;;12 rue de la Paix;75002;Paris;1980-05-12
"""
)


def test_the_report_counts_completeness_validity_domains_addresses_and_duplicates(
    tmp_path: Path,
) -> None:
    source = tmp_path / "file.csv"
    source.write_text(SAMPLE, encoding="utf-8")
    report = profile_file(source, tmp_path / "out")
    assert report["rows"] == 4
    fields = report["fields"]
    assert fields["email"]["filled_share"] == 1.0
    assert (fields["mobile"]["filled"], fields["mobile"]["valid"]) == (3, 2)  # 0699 is no number
    assert fields["birth_date"]["valid"] == 2  # 31 February does not exist
    assert "valid" not in fields["first_name"]  # nothing to check a first name against
    assert report["phone_line_types"] == {
        "phone": {"fixed": 1},
        "mobile": {"mobile": 2, "invalid": 1},
    }
    domains = {d["domain"]: d for d in report["email_domains"]["top"]}
    assert domains["gmial.com"]["suggestion"] == "gmail.com"
    assert not domains["gmial.com"]["disposable"]  # a typo of a real provider
    assert domains["yopmail.com"]["disposable"] and domains["yopmail.com"]["suggestion"] is None
    assert domains["orange.fr"] == {
        "domain": "orange.fr",
        "emails": 1,
        "disposable": False,
        "suggestion": None,
    }
    assert report["addresses"]["statuses"] == {"valid": 3, "invalid": 1}
    assert report["exact_duplicates"]["rows_sharing"] == {"email": 2, "phone": 2, "name_address": 2}
    page = (tmp_path / "out" / "profile.html").read_text(encoding="utf-8")
    assert "<script" not in page and "vouliez-vous dire gmail.com" in page
    assert json.loads((tmp_path / "out" / "profile.json").read_text(encoding="utf-8")) == report


def test_domain_suggestions_are_one_keystroke_from_a_known_provider() -> None:
    assert suggest_domain("hotmial.fr") == "hotmail.fr"
    assert suggest_domain("gmail.co") == "gmail.com"
    assert suggest_domain("orange.fr") is None
    assert suggest_domain("yopmail.com") is None  # two letters from hotmail.com: a real domain
    assert suggest_domain("exemple.fr") is None


def test_the_profile_command(tmp_path: Path) -> None:
    source = tmp_path / "clients.csv"
    source.write_text("Ref;Courriel\n1;a@gmial.com\n2;b@orange.fr\n", encoding="utf-8")
    out = ok(
        tmp_path, "profile", str(source), "--out", str(tmp_path / "p"), "--map", "Courriel=email"
    )
    assert "email: 100.0% filled, 100.0% valid" in out
    assert (tmp_path / "p" / "profile.html").exists()
    assert "no usable column" in user_error(
        tmp_path, "profile", str(source), "--out", str(tmp_path / "q")
    )
    assert not (tmp_path / "q").exists()


def test_the_registry_itself_is_profiled_in_batches(engine: Engine, tmp_path: Path) -> None:
    from sqlalchemy import text

    from listguard import audit
    from listguard.processing.profile import profile_base
    from tests.scenario import Scenario, contact, partner

    Scenario(
        engine,
        tmp_path,
        contacts=[
            contact("C1", email="c1@gmial.com"),
            contact("C2", email="c2@example.com", mobile="0699"),
            contact("C3", email="c3@example.com", civility=""),
        ],
        partners=[partner("P1")],
    ).load()
    report = profile_base(engine, tmp_path / "base", batch_rows=2)  # two batches
    assert report["rows"] == 3
    assert report["fields"]["mobile"]["valid"] == 2
    assert report["fields"]["civility"]["filled"] == 2
    assert report["email_domains"]["mistyped"][0]["domain"] == "gmial.com"
    assert report["persons_held_several_times"]["computed_on"] is None
    assert "Jamais recherchées" in (tmp_path / "base" / "profile.html").read_text("utf-8")
    with engine.begin() as conn:  # found to be one person by dedupe --base, then C3 changed
        conn.execute(
            text(
                "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                "VALUES ('C1', 'C1', 1), ('C2', 'C1', 1)"
            )
        )
        conn.execute(text("UPDATE contacts SET recorded_at = 0 WHERE contact_id <> 'C3'"))
        audit.append(conn, "clusters_computed", None, {"clusters": 1}, 1)
    held = profile_base(engine, tmp_path / "again")["persons_held_several_times"]
    assert (held["computed_on"], held["clusters"], held["contacts"]) == ("1970-01-01", 1, 2)
    assert held["contacts_not_compared"] == 1
    assert "pas encore comparés" in (tmp_path / "again" / "profile.html").read_text("utf-8")
    both = user_error(tmp_path, "profile", "clients.csv", "--base", "--out", str(tmp_path / "x"))
    assert "not both" in both
