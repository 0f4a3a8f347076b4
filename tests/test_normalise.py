"""Normalisation of phone numbers, emails, civilities, postal codes and dates."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listguard.io.dates import parse_instants
from listguard.normalise.civility import normalise_civilities
from listguard.normalise.email import normalise_email
from listguard.normalise.phone import normalise_phone, normalise_phones


@pytest.mark.parametrize(
    ("raw", "e164", "line_type"),
    [
        ("06 12 34 56 78", "+33612345678", "mobile"),
        ("06.12.34.56.78", "+33612345678", "mobile"),
        ("06\u00a012\u202f34-56/78", "+33612345678", "mobile"),  # no-break spaces
        ("(06) 12 34 56 78", "+33612345678", "mobile"),
        ("+33 06 12 34 56 78", "+33612345678", "mobile"),  # a trunk zero after +33
        ("06 12 34 56 78 +", None, "invalid"),
        ("06_12_34_56_78", None, "invalid"),
        ("+33 6 12 34 56 78", "+33612345678", "mobile"),
        ("+33 (0)6 12 34 56 78", "+33612345678", "mobile"),
        ("0033612345678", "+33612345678", "mobile"),
        ("612345678", "+33612345678", "mobile"),  # leading zero lost by a spreadsheet
        ("07 51 23 45 67", "+33751234567", "mobile"),
        ("01 44 55 66 77", "+33144556677", "fixed"),
        ("09 51 23 45 67", "+33951234567", "non_geographic"),
        ("08 00 12 34 56", "+33800123456", "special"),
        ("0692 12 34 56", "+262692123456", "mobile"),  # Réunion, written the French way
        ("0639 01 23 45", "+262639012345", "mobile"),  # Mayotte
        ("0690 12 34 56", "+590690123456", "mobile"),  # Guadeloupe
        ("0694 12 34 56", "+594694123456", "mobile"),  # Guyane
        ("0696 12 34 56", "+596696123456", "mobile"),  # Martinique
        ("0262 21 12 34", "+262262211234", "fixed"),
        ("+262 692 12 34 56", "+262692123456", "mobile"),
        ("+44 20 7946 0958", "+442079460958", "fixed"),
        ("+32 470 12 34 56", "+32470123456", "mobile"),
        ("06 12 34", None, "invalid"),
        ("06 12 34 56 7A", None, "invalid"),
        ("+33 5 99 99 99 99 99", None, "invalid"),
        # as people write them in real files: a label, an extension, a lost "+"
        ("Tel: 04 13 75 05 71", "+33413750571", "fixed"),
        ("Tél. 06 12 34 56 78", "+33612345678", "mobile"),
        ("Tel portable : 06 12 34 56 78", "+33612345678", "mobile"),
        ("mobile: 0612345678", "+33612345678", "mobile"),
        ("N° 06 12 34 56 78", "+33612345678", "mobile"),
        ("tel:+33612345678", "+33612345678", "mobile"),
        ("33784302685", "+33784302685", "mobile"),
        ("33 6 12 34 56 78", "+33612345678", "mobile"),
        ("33692123456", "+262692123456", "mobile"),
        ("(+33) 6 12 34 56 78", "+33612345678", "mobile"),
        ("06 12 34 56 78 poste 12", "+33612345678", "mobile"),
        ("06 12 34 56 78 Poste 1234", "+33612345678", "mobile"),
        ("06 12 34 56 78 ext. 12", "+33612345678", "mobile"),
        ("06 12 34 56 78 #12", "+33612345678", "mobile"),
        ("Tel: 01 44 55 66 77 x12", "+33144556677", "fixed"),
        ("+33 6 12 34 56 78 (poste 12)", "+33612345678", "mobile"),
        ("T: 06 12 34 56 78", "+33612345678", "mobile"),
        ("Tel/Fax: 01 44 55 66 77", "+33144556677", "fixed"),
        ("330612345678", "+33612345678", "mobile"),
        ("Toto 06 12 34 56 78", None, "invalid"),
        # garbage stays refused
        ("O6 12 34 56 78", None, "invalid"),
        ("06 12 34 56 78 (domicile)", None, "invalid"),
        ("Fax: 01 44 55 66 77", None, "invalid"),
        ("Tel:", None, "invalid"),
        ("poste 12", None, "invalid"),
        ("3361234567", None, "invalid"),
        ("336123456789", None, "invalid"),
        ("0612345678 / 0144556677", None, "invalid"),
        ("06 12 34 56 78 ou 01 44 55 66 77", None, "invalid"),
        ("0612345678;0144556677", None, "invalid"),
        ("06 12 34 56 78 poste 0144556677", None, "invalid"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_phone(raw: str | None, e164: str | None, line_type: str | None) -> None:
    assert normalise_phone(raw) == (e164, line_type)


def test_phone_vector_keeps_order_with_foreign_numbers() -> None:
    values = ["+44 20 7946 0958", "06 12 34 56 78", "+32 470 12 34 56", "", "+44 20 7946 0958"]
    got = normalise_phones(pl.Series(values))["e164"].to_list()
    assert got == ["+442079460958", "+33612345678", "+32470123456", None, "+442079460958"]


def test_a_few_numbers_are_classified_as_many_are() -> None:
    """A handful of numbers (a web form's) are matched one by one, many at once: the same
    answers on the generator's numbers, written every way it writes them, and on bad ones."""
    import numpy as np

    from listguard.demo.generate import _phones
    from listguard.normalise import phone

    rng = np.random.default_rng(11)
    numbers = [*_phones(rng, 1500, mobile=True), *_phones(rng, 1500, mobile=False)]
    numbers += ["+33 6 92 12 34 56", "+590 690 12 34 56", "00 44 20 7946 0958", "06 12 34 5"]
    numbers += ["", "  ", "+508 41 23 45", "0800 12 34 56", "0899 12 34 56"]
    # written as people write them: labels, extensions, a lost "+", and garbage
    messy = ["Tel: {}", "Tél. {} poste 12", "{} #3", "mobile: {}", "{} ou {}", "O{}"]
    numbers += [m.format(n, n) for n in numbers[:600] for m in messy]
    numbers += ["33" + n.replace(" ", "")[1:] for n in numbers[:300] if n.startswith("0")]
    many = normalise_phones(pl.Series(numbers))
    assert len(numbers) > phone._FEW
    few = pl.concat(
        [normalise_phones(pl.Series(numbers[i : i + 7])) for i in range(0, len(numbers), 7)]
    )
    assert few.equals(many)
    assert set(many["line_type"].drop_nulls()) >= {"mobile", "fixed", "invalid"}
    assert many["e164"].is_not_null().sum() > len(numbers) / 2
    # a column with no number at all answers at once, in the same shape
    none = normalise_phones(pl.Series(["", None, " "]))
    assert none.schema == many.schema and none.null_count().row(0) == (3, 3)


def test_two_numbers_in_one_cell_are_told_apart_from_other_bad_values() -> None:
    from listguard.normalise.phone import refused_as_several

    values = pl.Series(
        [
            "06 12 34 56 78 / 01 44 55 66 77",
            "0612345678 0144556677",
            "Tel: 06 12 34 56 78 et +33 1 44 55 66 77",
            "06 12 34 56 7A",
            "06 12 34 56 78",
            "",
            None,
            "06 12 34",
        ]
    )
    e164 = normalise_phones(values)["e164"]
    assert e164.to_list()[4] == "+33612345678"
    assert refused_as_several(values, e164).to_list() == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


_french_national = st.from_regex(r"0[1-79][0-9]{8}", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(_french_national)
def test_phone_agrees_with_phonenumbers_on_metropolitan_numbers(number: str) -> None:
    """Where libphonenumber knows the number as French (+33), we give the same answer."""
    ref = phonenumbers.parse(number, "FR")
    e164, line_type = normalise_phone(number)
    if phonenumbers.is_valid_number(ref):
        assert e164 == phonenumbers.format_number(ref, phonenumbers.PhoneNumberFormat.E164)
        kind = phonenumbers.number_type(ref)
        if kind == phonenumbers.PhoneNumberType.MOBILE:
            assert line_type == "mobile"
        elif kind == phonenumbers.PhoneNumberType.FIXED_LINE:
            assert line_type == "fixed"
    else:
        # the only numbers we accept that libphonenumber refuses as +33 are overseas ones
        # written in national form, which belong to +262/+590/+594/+596
        assert e164 is None or not e164.startswith("+33")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jean.Dupont@Example.COM ", ("jean.dupont@example.com", True)),
        ("x@ÉCOLE.example", ("x@école.example", True)),
        ("marie@", (None, False)),
        ("marie @ example.com", (None, False)),
        ("a..b@example.com", (None, False)),
        ("", (None, None)),
    ],
)
def test_email(raw: str, expected: tuple[str | None, bool | None]) -> None:
    assert normalise_email(raw) == expected


def test_civility() -> None:
    got = normalise_civilities(pl.Series(["Monsieur", "mme", "Mlle", "M.", "Mr", "Dr", None]))
    assert got.to_list() == ["M", "MME", "MME", "M", "M", None, None]


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026-03-14", "2026-03-14T00:00:00+01:00"),
        ("14/03/2026", "2026-03-14T00:00:00+01:00"),
        ("2026-07-14 09:30", "2026-07-14T09:30:00+02:00"),
        ("2026-03-14T09:30:00+01:00", "2026-03-14T09:30:00+01:00"),
        ("2026-03-14T08:30:00Z", "2026-03-14T09:30:00+01:00"),
        ("2026-07-14T09:30:00", "2026-07-14T09:30:00+02:00"),
        (" 14/03/2026 ", "2026-03-14T00:00:00+01:00"),
        ("2026-10-25T02:30:00", "2026-10-25T02:30:00+02:00"),  # twice that night: the first
        ("2026-03-29T02:30:00", None),  # skipped by the clocks
        ("2026-02-30", None),
        ("31/02/2024", None),
        ("2026-13-01", None),
        ("2026-03-14T24:00:00", None),
        ("hier", None),
    ],
)
def test_dates(raw: str, iso: str | None) -> None:
    """Each value as one expression reads it, and as a column of an import reads it (the
    usual shapes directly, the others rewritten first)."""
    from listguard.io.dates import parse_instants_of
    from listguard.timeutil import to_iso

    ts = pl.DataFrame({"d": [raw]}).select(parse_instants(pl.col("d")))["d"][0]
    assert (to_iso(ts) if ts is not None else None) == iso
    assert parse_instants_of(pl.Series([raw, "2026-01-01"])).to_list()[0] == ts


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.from_regex(
            r"\A ?(?:[0-3]\d/[01]\d/20[0-3]\d|20[0-3]\d-[01]\d-[0-3]\d(?:[T ][0-2]\d:[0-6]\d"
            r"(?::[0-6]\d(?:\.\d{1,3})?)?(?:Z|[+-]0\d:?[03]0)?)?) ?\Z"
        ),
        max_size=20,
    )
)
def test_a_column_of_dates_is_read_as_each_value_is(values: list[str]) -> None:
    from listguard.io.dates import parse_instants_of

    series = pl.Series(values, dtype=pl.String)
    one_by_one = series.to_frame("d").select(parse_instants(pl.col("d")))["d"]
    assert parse_instants_of(series).to_list() == one_by_one.to_list()


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("12 rue de l'Église", None, "75001", "Paris"), "12 RUE DE L EGLISE 75001 PARIS"),
        ((" 3, Allée  des Pins ", "", "69002", "LYON"), "3 ALLEE DES PINS 69002 LYON"),
        (("Route de Sai\u0301nt-E\u0301tienne", None, None, "Gap"), "ROUTE DE SAINT ETIENNE GAP"),
        (("ÀÇÈÑÔÜŸ ǅ", None, None, None), "ACENOUY DZ"),
        (("Œuvre ß", None, None, None), "OEUVRE SS"),  # no decomposition: written out
        (("1 rue du Sacré-Cœur", None, "75018", "Paris"), "1 RUE DU SACRE COEUR 75018 PARIS"),
        (("1 RUE DU SACRE COEUR", None, "75018", "PARIS"), "1 RUE DU SACRE COEUR 75018 PARIS"),
        (("Allée Lætitia", None, None, None), "ALLEE LAETITIA"),
        ((None, None, None, None), ""),
        (("--", "", " ", None), ""),
        (("2 RUE DU PORT", None, "29200", "BREST"), "2 RUE DU PORT 29200 BREST"),
    ],
)
def test_postal_keys(parts: tuple[str | None, ...], key: str) -> None:
    from listguard.imports.contacts import ADDRESS_KEY, key_of

    frame = pl.DataFrame([dict(zip(ADDRESS_KEY, parts, strict=True))], schema=ADDRESS_KEY)
    assert key_of(frame, ADDRESS_KEY).to_list() == [key]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            *[
                st.none()
                | st.text(alphabet=st.sampled_from(list("ab AZ09,.-'éÉœŒçß\u0301\u00a0ǅĿﬁ")))
                for _ in range(2)
            ]
        ),
        max_size=20,
    )
)
def test_a_postal_key_is_the_text_in_capitals_without_accents_nor_punctuation(
    rows: list[tuple[str | None, str | None]],
) -> None:
    """The shortcuts of ``key_of`` (values already keys, a table of Latin letters) give
    what the plain definition gives: ``text_key`` of the columns joined."""
    from listguard.imports.contacts import key_of
    from listguard.normalise.text import text_key

    frame = pl.DataFrame(rows, schema=["a", "b"], orient="row")
    joined = pl.concat_str([pl.col(c).fill_null("") for c in ("a", "b")], separator=" ")
    plain = frame.select(text_key(joined)).to_series()
    assert key_of(frame, ("a", "b")).to_list() == plain.to_list()


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from(list("abcXYZ019.-_+@ \t!'é\u00fcİß\u0130\u2003\x1c")),
            max_size=30,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_one_email_is_normalised_as_a_batch_would_be(values: list[str]) -> None:
    """The single-address path (web forms, the API) agrees with the batch path."""
    from listguard.normalise.email import normalise_emails

    batch = normalise_emails(pl.Series(values, dtype=pl.String)).rows()
    assert [normalise_email(v) for v in values] == batch


@given(
    st.lists(st.sampled_from(["consent", " Consent ", "INFORMED", "", "  ", "objection", "oui"]))
)
def test_choice_codes_are_trimmed_and_lower_cased_written_any_way(values: list[str]) -> None:
    """The usual spellings pass as they are and only the others are transformed: the
    result is the same as transforming every value."""
    from listguard.normalise.text import trimmed_lower

    series = pl.Series([*values, None], dtype=pl.String)
    got = trimmed_lower(series, ("consent", "objection", "informed"))
    assert got.to_list() == [v.strip().lower() for v in values] + [""]
