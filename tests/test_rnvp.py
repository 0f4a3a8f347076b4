"""Postal addresses restructured to NF Z10-011: lines, capitals, abbreviations only when
needed, postal code and city checked and corrected against La Poste's base, a status
for every address, however bad the input."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listguard.normalise.rnvp import INPUT, LINE_MAX, STATUSES, restructure, shorten
from tests.test_cli import ok, user_error

DATA = Path(__file__).resolve().parent / "data"


def one(**address: Any) -> dict[str, Any]:
    frame = pl.DataFrame(
        {k: [v] for k, v in address.items()}, schema=dict.fromkeys(address, pl.String)
    )
    row: dict[str, Any] = restructure(frame).row(0, named=True)
    return row


def test_parts_go_to_their_lines_in_capitals_without_punctuation() -> None:
    row = one(
        civility="Madame",
        first_name="Marie",
        last_name="Exemple",
        address_line2="Bât. B, 3e étage",
        address_line4="12, rue de l'Église",
        postal_code="75002",
        city="Paris",
    )
    assert row["line1"] == "Madame Marie Exemple"
    assert (row["line2"], row["line3"]) == ("3e étage", "Bât. B")  # lines 2, 3 keep case
    assert row["line4"] == "12 RUE DE L EGLISE"
    assert row["line6"] == "75002 PARIS"
    assert (row["insee"], row["status"]) == ("75102", "valid")
    assert row["changes"] == "lines_moved"


def test_a_free_text_address_and_a_po_box() -> None:
    row = one(address="chez M. Martin | 5 r. Victor Hugo | BP 12 | 38000 Grenoble")
    assert (row["line2"], row["line4"], row["line5"]) == (
        "chez M. Martin",
        "5 RUE VICTOR HUGO",  # the street type written out
        "BP 12",
    )
    assert (row["line6"], row["status"]) == ("38000 GRENOBLE", "valid")
    company = one(
        company="ACME",
        first_name="Jean",
        last_name="Dupont",
        address_line4="BP 123",
        postal_code="69003",
        city="Lyon Cedex 03",
    )
    assert (company["line1"], company["line2"]) == ("ACME", "Jean Dupont")
    assert company["line5"] == "BP 123" and company["line6"] == "69003 LYON CEDEX 03"


def test_a_street_label_is_abbreviated_only_when_it_does_not_fit() -> None:
    short = one(address_line4="12 avenue du Général Leclerc", postal_code="75014", city="Paris")
    assert short["line4"] == "12 AVENUE DU GENERAL LECLERC" and short["changes"] is None
    long = one(
        address_line4="12 boulevard du Maréchal Jean-Marie de Lattre de Tassigny",
        postal_code="75016",
        city="Paris",
    )
    assert len(long["line4"]) <= LINE_MAX
    assert long["line4"].startswith("12 BD ") and "TASSIGNY" in long["line4"]
    assert (long["status"], long["changes"]) == ("corrected", "line4_abbreviated")
    assert shorten("RUE DE LA PAIX") == ("RUE DE LA PAIX", True)


@pytest.mark.parametrize(
    ("written", "line4"),
    [
        ("178 av. Jean Jaurès", "178 AVENUE JEAN JAURES"),
        ("3 bd Voltaire", "3 BOULEVARD VOLTAIRE"),
        ("12B r. de la Paix", "12B RUE DE LA PAIX"),
        ("12R de la Paix", "12 RUE DE LA PAIX"),
        ("12 bis imp. des Lilas", "12 BIS IMPASSE DES LILAS"),
        ("pl. du Marché", "PLACE DU MARCHE"),
    ],
)
def test_an_abbreviated_street_type_is_written_out_where_the_line_fits(
    written: str, line4: str
) -> None:
    row = one(address_line4=written, postal_code="75002", city="Paris")
    assert (row["line4"], row["status"], row["changes"]) == (line4, "valid", "street_type_expanded")


def test_an_abbreviation_that_would_not_fit_written_out_stays() -> None:
    row = one(
        address_line4="12 av du Maréchal de Lattre de Tassigny", postal_code="75016", city="Paris"
    )
    assert row["line4"].startswith("12 AV ") and len(row["line4"]) <= LINE_MAX
    assert "street_type_expanded" not in (row["changes"] or "")
    # a street whose name merely starts like an abbreviation is left alone
    assert one(address_line4="3 rue R. Schuman", postal_code="75002", city="Paris")["line4"] == (
        "3 RUE R SCHUMAN"
    )


def test_postal_code_and_city_are_corrected_where_the_evidence_is_clear() -> None:
    typo = one(address_line4="5 rue Victor Hugo", postal_code="38000", city="Grenble")
    assert (typo["city"], typo["status"], typo["changes"]) == (
        "GRENOBLE",
        "corrected",
        "city_corrected",
    )
    no_code = one(address_line4="1 place de la Mairie", city="Mont-Bonvillers")
    assert (no_code["postal_code"], no_code["changes"]) == ("54111", "postal_code_added")
    lost_zero = one(
        address_line4="1 rue de la Gare", postal_code="1400", city="Châtillon-sur-Chalaronne"
    )
    assert lost_zero["postal_code"] == "01400" and lost_zero["status"] == "valid"
    saint = one(address_line4="2 rue Haute", postal_code="01450", city="Saint-Alban")
    assert saint["line6"] == "01450 ST ALBAN" and saint["status"] == "valid"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ({}, "empty"),
        ({"address_line4": "  ", "city": ""}, "empty"),
        (
            {"address_line4": "3 rue Neuve", "postal_code": "00000", "city": "Nulle-Part"},
            "unknown_postal_code_and_city",
        ),
        ({"postal_code": "75002", "city": "Paris"}, "no_street_locality_or_po_box"),
    ],
)
def test_what_cannot_be_an_address_is_invalid_with_its_reason(
    address: dict[str, str], reason: str
) -> None:
    row = one(**{"address_line4": None, **address})
    assert (row["status"], row["reason"]) == ("invalid", reason)


def test_absurd_input_gets_a_status_and_never_a_line_too_long() -> None:
    frame = pl.DataFrame(
        {
            "address_line4": [
                "9" * 10_000,
                "Улица Ленина 5",
                "東京都千代田区",
                "12 rue " + "très " * 40,
                None,
            ],
            "postal_code": ["75002", "75002", "", "75002", "ABCDE"],
            "city": ["Paris", "Paris", "東京", "Paris", "?!"],
        }
    )
    out = restructure(frame)
    assert out.height == frame.height
    assert set(out["status"]) <= set(STATUSES)
    for line in ("line1", "line2", "line3", "line4", "line5", "line6"):
        assert (out[line].str.len_chars().fill_null(0) <= LINE_MAX).all()
    assert out["status"][3] == "doubtful" and out["reason"][3] == "line_too_long"
    assert out["status"][4] == "invalid"
    # a street in Cyrillic cannot be written on line 4: what is left is not trusted
    assert (out["line4"][1], out["status"][1], out["reason"][1]) == (
        "5",
        "doubtful",
        "not_latin_script",
    )


def test_another_script_anywhere_makes_the_address_doubtful_accents_do_not() -> None:
    street = {"address_line4": "12 rue de la Paix", "postal_code": "75002", "city": "Paris"}
    assert one(first_name="Zoë", last_name="Ñúñez", **street)["status"] == "valid"
    assert one(**{**street, "address_line4": "12 rue de l'Œuvre 🎉"})["status"] == "valid"
    for other in ({"first_name": "Иван"}, {"city": "Παρίσι"}, {"address_line3": "مبنى"}):
        row = one(**{**street, **other})
        assert (row["status"], row["reason"]) == ("doubtful", "not_latin_script"), other


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({c: st.one_of(st.none(), st.text(max_size=60)) for c in INPUT}),
        min_size=1,
        max_size=8,
    )
)
def test_any_input_gives_one_row_each_with_a_status(rows: list[dict[str, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(INPUT, pl.String))
    out = restructure(frame)
    assert out.height == frame.height
    assert set(out["status"]) <= set(STATUSES)
    for line in ("line1", "line2", "line3", "line4", "line5", "line6"):
        assert (out[line].str.len_chars().fill_null(0) <= LINE_MAX).all()


def test_real_addresses_of_a_commune_are_all_valid() -> None:
    """The Base Adresse Locale of Mont-Bonvillers (54084), every address of it."""
    bal = pl.read_csv(
        DATA / "bal_sample_mont-bonvillers_54084.csv", separator=";", infer_schema=False
    )
    frame = bal.select(
        pl.concat_str(
            [pl.col("numero"), pl.col("suffixe").fill_null(""), pl.col("voie_nom")], separator=" "
        ).alias("address_line4"),
        pl.lit("54111").alias("postal_code"),
        pl.col("commune_nom").alias("city"),
    )
    out = restructure(frame)
    assert out["status"].to_list() == ["valid"] * bal.height


def test_the_rnvp_command_maps_columns_and_writes_every_row(tmp_path: Path) -> None:
    source = tmp_path / "clients.csv"
    source.write_text(
        "Ref;Adresse;CP;Ville\nA1;12 rue de la Paix;75002;Paris\nA2;;;\n"
        "A3;5 r. Victor Hugo;38000;Grenble\n",
        encoding="utf-8",
    )
    ok(
        tmp_path,
        "rnvp",
        str(source),
        "--out",
        str(tmp_path / "out"),
        "--id",
        "Ref",
        "--map",
        "Adresse=address",
        "--map",
        "CP=postal_code",
        "--map",
        "Ville=city",
    )
    with (tmp_path / "out" / "addresses.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert [(r["ref"], r["status"]) for r in rows] == [
        ("A1", "valid"),
        ("A2", "invalid"),
        ("A3", "corrected"),
    ]
    bad = user_error(
        tmp_path, "rnvp", str(source), "--out", str(tmp_path / "x"), "--map", "Adresse=street"
    )
    assert "'street' is not a column" in bad
    useless = user_error(tmp_path, "rnvp", str(source), "--out", str(tmp_path / "x"))
    assert "no usable column" in useless
    assert not (tmp_path / "x" / "addresses.csv").exists()


def test_civility_from_the_first_name_and_departement_from_the_commune() -> None:
    from listguard.normalise.reference import enrich

    frame = pl.DataFrame(
        {
            "civility": [None, None, "Mr", None, None],
            "first_name": ["Hélène", "Jean-Pierre", "Marie", "Dominique", "Zzyzx"],
            "insee": ["75102", "2A004", None, "97411", None],
            "postal_code": ["75002", "20000", "38000", "97400", "20000"],
        }
    )
    out = enrich(frame).rows(named=True)
    assert [(r["civility"], r["civility_source"]) for r in out] == [
        ("MME", "first_name"),
        ("M", "first_name"),  # a compound name, by its first part when needed
        ("M", "given"),  # a given civility is kept, even against the first name
        (None, None),  # DOMINIQUE: too mixed to propose
        (None, None),  # unknown
    ]
    assert 0.5 < out[3]["civility_confidence"] < 0.9 and out[0]["civility_confidence"] > 0.9
    assert [r["departement"] for r in out] == ["75", "2A", "38", "974", None]
    assert out[1]["region_name"] == "Corse" and out[3]["region_name"] == "La Réunion"


# --- addresses written on one line, nothing before the postal code ------------------


@pytest.mark.parametrize(
    ("written", "lines_4_5_6", "status"),
    [
        (
            "145 impasse de la Fontaine 29440 trezilide",
            ("145 IMPASSE DE LA FONTAINE", None, "29440 TREZILIDE"),
            "valid",
        ),
        ("10 rue de la paix 75002 paris", ("10 RUE DE LA PAIX", None, "75002 PARIS"), "valid"),
        ("lieu dit le bourg 29690 berrien", (None, "LIEU DIT LE BOURG", "29690 BERRIEN"), "valid"),
        (
            "12 r st honore 75001 paris cedex 01",
            ("12 RUE ST HONORE", None, "75001 PARIS CEDEX 01"),
            "valid",
        ),
        # the PO box set apart; the street fits its line, so nothing is abbreviated
        (
            "BP 45 12 rue de la République 69002 LYON",
            ("12 RUE DE LA REPUBLIQUE", "BP 45", "69002 LYON"),
            "valid",
        ),
        ("12 rue Foch B.P. 45 69002 Lyon", ("12 RUE FOCH", "BP 45", "69002 LYON"), "valid"),
        # an arrondissement after the town is the commune La Poste names
        ("10 rue de la paix 75002 paris 2e", ("10 RUE DE LA PAIX", None, "75002 PARIS"), "valid"),
        # five digits that are not the postal code: a CS number, a street number
        (
            "CS 12345 10 rue de la paix 75002 paris",
            ("10 RUE DE LA PAIX", "CS 12345", "75002 PARIS"),
            "valid",
        ),
        (
            "12345 route de Paris 29440 trezilide",
            ("12345 ROUTE DE PARIS", None, "29440 TREZILIDE"),
            "valid",
        ),
        (
            "TSA 70011 69134 Dardilly Cedex",
            (None, "TSA 70011", "69134 DARDILLY CEDEX"),
            "valid",
        ),
        # the town misspelt, or missing: corrected as a separated one would be
        (
            "5 rue Victor Hugo 38000 Grenble",
            ("5 RUE VICTOR HUGO", None, "38000 GRENOBLE"),
            "corrected",
        ),
        ("12 rue de la paix 75002", ("12 RUE DE LA PAIX", None, "75002 PARIS"), "corrected"),
        ("10 rue de la paix 75 002 Paris", ("10 RUE DE LA PAIX", None, "75002 PARIS"), "valid"),
    ],
)
def test_an_address_on_one_line_is_cut_before_its_postal_code_and_town(
    written: str, lines_4_5_6: tuple[str | None, ...], status: str
) -> None:
    row = one(address=written)
    assert (row["line4"], row["line5"], row["line6"]) == lines_4_5_6
    assert row["status"] == status
    assert "line4_abbreviated" not in (row["changes"] or "")


def test_a_postal_code_followed_by_another_town_says_why() -> None:
    row = one(address="10 rue de la paix 75002 lyon")
    assert (row["line4"], row["line6"]) == ("10 RUE DE LA PAIX", "75002 LYON")
    assert (row["status"], row["reason"]) == ("doubtful", "city_not_at_postal_code")
    # a group after the town that is no postal code: nothing is made up from it
    after = one(address="3 rue de la Gare 29440 Trézilidé 12345")
    assert (after["status"], after["line6"]) == ("invalid", None)
    # the country after the town is left out
    for written in (
        "3 rue de la Gare 29440 Trézilidé, France",
        "3 rue de la Gare 29440 Trézilidé France",
    ):
        france = one(address=written)
        assert (france["line5"], france["line6"], france["status"]) == (
            None,
            "29440 TREZILIDE",
            "valid",
        )


def test_one_line_is_cut_only_where_the_evidence_is() -> None:
    # the postal code in its column: a group in the street that La Poste does not know
    # with the words after it stays in the street
    kept = one(address_line4="Résidence 12345 Les Lilas", postal_code="75002", city="Paris")
    assert (kept["line3"], kept["line6"]) == ("Résidence 12345 Les Lilas", "75002 PARIS")
    # the same postal code and town written twice: the line is still cut
    twice = one(address_line4="10 rue de la paix 75002 Paris", postal_code="75002", city="Paris")
    assert (twice["line4"], twice["line6"], twice["status"]) == (
        "10 RUE DE LA PAIX",
        "75002 PARIS",
        "valid",
    )


def test_real_addresses_on_one_line_come_out_as_separated_ones() -> None:
    """Every address of Mont-Bonvillers's Base Adresse Locale, written on one line."""
    bal = pl.read_csv(
        DATA / "bal_sample_mont-bonvillers_54084.csv", separator=";", infer_schema=False
    )
    street = pl.concat_str(
        [pl.col("numero"), pl.col("suffixe").fill_null(""), pl.col("voie_nom")], separator=" "
    )
    separated = restructure(
        bal.select(
            street.alias("address_line4"),
            pl.lit("54111").alias("postal_code"),
            pl.col("commune_nom").alias("city"),
        )
    )
    one_line = restructure(
        bal.select(
            pl.concat_str([street, pl.lit("54111"), pl.col("commune_nom")], separator=" ").alias(
                "address"
            )
        )
    )
    assert one_line["status"].to_list() == ["valid"] * bal.height
    for line in ("line4", "line5", "line6"):
        assert one_line[line].to_list() == separated[line].to_list()


def test_an_arrondissement_written_after_the_city_is_understood() -> None:
    for city in ("Paris 2e", "PARIS 2EME", "Paris 02", "paris 2ème arrondissement"):
        row = one(address_line4="10 rue de la Paix", postal_code="75002", city=city)
        assert (row["line6"], row["status"]) == ("75002 PARIS", "valid"), city
    assert one(address_line4="1 rue X", postal_code="69001", city="Lyon 1er")["status"] == "valid"


def test_a_street_number_alone_at_the_end_of_a_batch_is_kept() -> None:
    frame = pl.DataFrame(
        {"address_line4": ["1 rue de la Paix", "12"], "postal_code": ["75002"] * 2}
    )
    assert restructure(frame)["line4"].to_list() == ["1 RUE DE LA PAIX", "12"]


def test_the_street_type_abbreviated_first_is_the_one_after_the_number() -> None:
    # a title abbreviated is enough; PLACE is a word of the name here, not the street type
    assert shorten("12 RUE DE LA PLACE DU MARECHAL LECLERC NORD") == (
        "12 RUE DE LA PLACE DU MAL LECLERC NORD",
        True,
    )
    assert shorten("12 AVENUE DE LA REPUBLIQUE ET DE LA LIBERATION") == (
        "12 AV DE LA REP ET DE LA LIBERATION",  # the street type first, then general words
        True,
    )
