"""A realistic, synthetic French base (vectorised: the demo builds 100,000 contacts in seconds).

Names come from Faker's fr_FR pools, communes from La Poste's postal code base;
choices, channels, messy formats, duplicates, oppositions, B2B contacts,
overseas and foreign numbers and a few bad rows are mixed in realistic shares.
Emails use reserved domains only (``example.com``, ``.test``). Phone numbers
are synthetic and may coincide with real ones: the demo never contacts anyone.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from listguard.normalise.postal import laposte_codes

CHOICES = {
    # channel: (states, probabilities) for the partners scope
    "postal": (["informed", "objection", "consent", ""], [0.70, 0.12, 0.08, 0.10]),
    "phone": (["informed", "objection", "consent", ""], [0.52, 0.15, 0.23, 0.10]),
    "automated_call": (["consent", ""], [0.12, 0.88]),
    "sms": (["consent", "objection", ""], [0.38, 0.12, 0.50]),
    "email": (["consent", "objection", ""], [0.46, 0.12, 0.42]),
}
OWN = {
    "postal": (["informed", "objection", ""], [0.85, 0.10, 0.05]),
    "phone": (["informed", "objection", "consent", ""], [0.60, 0.15, 0.15, 0.10]),
    "automated_call": (["consent", ""], [0.2, 0.8]),
    "sms": (["consent", "objection", ""], [0.5, 0.1, 0.4]),
    "email": (["consent", "objection", ""], [0.6, 0.1, 0.3]),
}
STREET_TYPES = np.array(
    [
        "rue",
        "rue",
        "rue",
        "avenue",
        "boulevard",
        "chemin",
        "place",
        "allée",
        "impasse",
        "route",
        "Rue",
        "AVENUE",
        "bd",
        "av.",
        "square",
        "quai",
        "cours",
    ]
)
STREET_NAMES = np.array(
    [
        "Victor Hugo",
        "Jean Jaurès",
        "de la République",
        "Pasteur",
        "du Général de Gaulle",
        "des Lilas",
        "du Moulin",
        "de la Gare",
        "de l'Église",
        "des Écoles",
        "Gambetta",
        "du Château",
        "de Verdun",
        "Voltaire",
        "de la Paix",
        "des Acacias",
        "Émile Zola",
        "du Stade",
        "de Paris",
        "Nationale",
        "des Tilleuls",
        "du Marché",
        "Carnot",
        "de la Fontaine",
        "Saint-Martin",
        "des Vignes",
        "du Port",
        "Jean Moulin",
        "Anatole France",
        "de la Liberté",
        "Aristide Briand",
        "du 8 Mai 1945",
        "Foch",
    ]
)
COMPLEMENTS = np.array(
    [
        "",
        "",
        "",
        "",
        "",
        "",
        "Bât. B",
        "Apt 12",
        "Résidence Les Pins",
        "Escalier 3",
        "chez M. Martin",
        "3e étage",
    ]
)
EMAIL_DOMAINS = np.array(
    [
        "example.com",
        "example.com",
        "example.net",
        "example.org",
        "mail.test",
        "fai.test",
        "courriel.test",
        "Example.COM",
    ]
)
PARTNERS = [
    # id, name, category, sector, listed_from, listed_until
    ("P0001", "Le Journal Exemple", "presse", "press", "2019-01-01", ""),
    ("P0002", "Magazine Maison Exemple", "presse", "press", "2020-03-01", ""),
    ("P0003", "Caves Exemple", "vins et gastronomie", "commercial", "2019-01-01", ""),
    ("P0004", "Épicerie Fine Exemple", "vins et gastronomie", "commercial", "2025-06-01", ""),
    ("P0005", "Assurances Exemple", "assurance", "commercial", "2021-01-01", "2026-03-31"),
    ("P0006", "Voyages Exemple", "voyages", "commercial", "2022-05-01", ""),
    ("P0007", "Fondation Exemple", "associations caritatives", "non_profit", "2019-01-01", ""),
    ("P0008", "Institut de Sondage Exemple", "études et sondages", "polling", "2023-01-01", ""),
    ("P0009", "Meubles Exemple", "ameublement", "commercial", "2026-10-01", ""),
    ("P0010", "Énergie Exemple", "énergie", "commercial", "2024-09-01", ""),
    ("P0011", "Banque Exemple", "banque", "commercial", "2020-01-01", ""),
    ("P0012", "Librairie Exemple", "culture", "commercial", "2021-09-01", ""),
]


def _choice(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> np.ndarray:
    return rng.choice(np.array(values, dtype=object), size=n, p=p)


def _digits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10**k, size=n).astype(str), k)


def _format_numbers(rng: np.random.Generator, national: np.ndarray) -> np.ndarray:
    """The ways people write a 10-digit national number."""
    n = len(national)
    s = pl.Series(national.astype(str))
    spaced = s.str.replace_all(r"(\d{2})", "$1 ").str.strip_chars()
    dotted = s.str.replace_all(r"(\d{2})", "$1.").str.strip_chars_end(".")
    intl = (
        "+33 "
        + s.str.slice(1, 1)
        + " "
        + s.str.slice(2).str.replace_all(r"(\d{2})", "$1 ").str.strip_chars()
    )
    intl0 = "+33 (0)" + s.str.slice(1)
    double0 = "0033" + s.str.slice(1)
    lost_zero = s.str.slice(1)
    forms = np.stack([s, spaced, dotted, intl, intl0, double0, lost_zero]).astype(object)
    pick = rng.choice(7, size=n, p=[0.30, 0.35, 0.10, 0.10, 0.03, 0.04, 0.08])
    out = forms[pick, np.arange(n)]
    # overseas numbers keep their national form (+33 would be wrong for them)
    overseas = s.str.contains(r"^0(?:69[0-6]|639|262|596)").to_numpy()
    out[overseas] = spaced.to_numpy()[overseas]
    return out


def _phones(rng: np.random.Generator, n: int, mobile: bool) -> np.ndarray:
    if mobile:
        prefix = _choice(
            rng,
            ["06", "07", "0692", "0696", "0690", "0694", "0639"],
            [0.62, 0.33, 0.015, 0.01, 0.01, 0.005, 0.01],
            n,
        )
    else:
        prefix = _choice(
            rng,
            ["01", "02", "03", "04", "05", "09", "0262", "0596"],
            [0.22, 0.2, 0.15, 0.17, 0.14, 0.1, 0.01, 0.01],
            n,
        )
    tail_len = 10 - np.char.str_len(prefix.astype(str))
    tails = np.where(tail_len == 8, _digits(rng, n, 8), _digits(rng, n, 6))
    if mobile:  # 07 numbers start 07 3x..9x; overseas mobiles need a valid block
        tails = np.where(
            prefix == "07",
            np.char.add(rng.integers(3, 10, n).astype(str), _digits(rng, n, 7)),
            tails,
        )
        tails = np.where(
            np.isin(prefix, ["0692", "0690", "0696", "0694"]),
            np.char.add("0", _digits(rng, n, 5)),
            tails,
        )
        tails = np.where(prefix == "0639", np.char.add("00", _digits(rng, n, 4)), tails)
    else:
        tails = np.where(prefix == "0262", np.char.add("2", _digits(rng, n, 5)), tails)
        tails = np.where(prefix == "0596", np.char.add("6", _digits(rng, n, 5)), tails)
    national = np.char.add(prefix.astype(str), tails)
    return _format_numbers(rng, national)


def _dates(rng: np.random.Generator, n: int, start: dt.date, end: dt.date) -> np.ndarray:
    days = rng.integers(0, (end - start).days + 1, size=n)
    secs = rng.integers(8 * 3600, 22 * 3600, size=n)
    base = np.datetime64(start.isoformat()) + days.astype("timedelta64[D]")
    stamp = base.astype("datetime64[s]") + secs.astype("timedelta64[s]")
    iso_day = np.datetime_as_string(base, unit="D")
    iso_time = np.datetime_as_string(stamp, unit="s")
    fr = pl.Series(iso_day).str.replace(r"^(\d{4})-(\d{2})-(\d{2})$", "$3/$2/$1").to_numpy()
    pick = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return np.where(pick == 0, iso_day, np.where(pick == 1, fr, iso_time))


def _write(frame: pl.DataFrame, path: Path, separator: str = ";") -> Path:
    """Write with empty cells left empty (not as quoted empty strings)."""
    frame.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
        for c in frame.columns
        if frame.schema[c] == pl.String
    ).write_csv(path, separator=separator)
    return path


def generate(out: Path, n: int, seed: int, first_id: int = 1) -> dict[str, Path]:
    """Write partners, contacts, events and suppression files for ``n`` contacts into ``out``
    (their ids numbered from ``first_id``). It holds every column of every contact in memory
    at once (ten million take more than 20 GiB): ``generate_large`` writes larger files."""
    from faker.providers.company.fr_FR import Provider as Company
    from faker.providers.person.fr_FR import Provider as Person

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    files = {}

    partners = pl.DataFrame(
        PARTNERS,
        schema=["partner_id", "name", "category", "sector", "listed_from", "listed_until"],
        orient="row",
    ).with_columns(
        (
            pl.lit("https://")
            + pl.col("partner_id").str.to_lowercase()
            + ".example.com/confidentialite"
        ).alias("privacy_policy_url"),
        (pl.col("name") + " SAS").alias("legal_name"),
    )
    files["partners"] = _write(partners, out / "partners.csv", ",")

    male = rng.random(n) < 0.48
    first = np.where(
        male,
        rng.choice(np.array(Person.first_names_male, dtype=object), n),
        rng.choice(np.array(Person.first_names_female, dtype=object), n),
    )
    last = rng.choice(np.array(Person.last_names, dtype=object), n)
    civ_m = _choice(rng, ["M", "Monsieur", "M.", "Mr", ""], [0.5, 0.2, 0.15, 0.05, 0.1], n)
    civ_f = _choice(rng, ["MME", "Madame", "Mme", "Mlle", ""], [0.5, 0.2, 0.15, 0.05, 0.1], n)
    civility = np.where(male, civ_m, civ_f)
    codes = laposte_codes()
    # weight communes towards large ones: Paris, Lyon, Marseille arrondissements appear often
    idx = rng.integers(0, codes.height, size=n)
    postal_code = codes["postal_code"].to_numpy()[idx]
    city = codes["city"].to_numpy()[idx]
    number = rng.integers(1, 200, size=n).astype(str)
    bis = _choice(rng, ["", " bis", " ter", "B"], [0.93, 0.04, 0.01, 0.02], n)
    street = np.char.add(
        np.char.add(
            np.char.add(np.char.add(number, bis.astype(str)), " "), rng.choice(STREET_TYPES, n)
        ),
        np.char.add(" ", rng.choice(STREET_NAMES, n)),
    )
    line2 = rng.choice(COMPLEMENTS, n)
    b2b = rng.random(n) < 0.05
    company = np.where(b2b, rng.choice(np.array(Company.company_suffixes, dtype=object), n), "")
    company = np.where(
        b2b, np.char.add(np.char.add(last.astype(str), " "), company.astype(str)), ""
    )
    has_phone = rng.random(n) < 0.45
    has_mobile = rng.random(n) < 0.78
    phone = np.where(has_phone, _phones(rng, n, mobile=False), "")
    mobile = np.where(has_mobile, _phones(rng, n, mobile=True), "")
    weird = rng.random(n)
    mobile = np.where(weird < 0.015, np.char.add("06 12 ", _digits(rng, n, 2)), mobile)  # too short
    mobile = np.where(
        (weird >= 0.015) & (weird < 0.025),
        _choice(
            rng, ["+32 470 12 34 56", "+41 79 123 45 67", "+44 7700 900123"], [0.4, 0.3, 0.3], n
        ),
        mobile,
    )
    full = pl.Series(np.char.add(np.char.add(first.astype(str), "."), last.astype(str)))
    local = (
        full.str.to_lowercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all(r"[^a-z.]", "")
    ).to_numpy()
    suffix = np.where(rng.random(n) < 0.4, rng.integers(1, 99, n).astype(str), "")
    email = np.char.add(
        np.char.add(np.char.add(local.astype(str), suffix), "@"), rng.choice(EMAIL_DOMAINS, n)
    )
    has_email = rng.random(n) < 0.86
    email = np.where(has_email, email, "")
    bad_email = rng.random(n) < 0.015
    email = np.where(bad_email, np.char.replace(email.astype(str), "@", " @ "), email)
    collected = _dates(rng, n, dt.date(2023, 3, 1), dt.date(2026, 11, 20))
    ids = np.char.add("C", np.char.zfill(np.arange(first_id, first_id + n).astype(str), 7))
    data: dict[str, object] = {
        "contact_id": ids,
        "civility": civility,
        "first_name": first,
        "last_name": last,
        "company": company,
        "audience": np.where(b2b, "b2b", ""),
        "address_line2": line2,
        "address_line4": street,
        "postal_code": postal_code,
        "city": city,
        "country": np.where(rng.random(n) < 0.5, "FR", ""),
        "phone": phone,
        "mobile": mobile,
        "email": email,
        "collected_at": collected,
        "collection_source": _choice(
            rng,
            ["jeu-concours-2024", "abonnement-web", "boutique-paris", "salon-2025", "appli"],
            [0.25, 0.35, 0.15, 0.1, 0.15],
            n,
        ),
        "notice_version": _choice(rng, ["v3-2021", "v4-2024", "v5-2026"], [0.3, 0.5, 0.2], n),
    }
    for ch, (values, p) in CHOICES.items():
        data[f"partners_{ch}"] = _choice(rng, values, p, n)
        ov, op = OWN[ch]
        data[f"own_{ch}"] = _choice(rng, ov, op, n)
    contacts = pl.DataFrame({k: pl.Series(np.asarray(v).astype(str)) for k, v in data.items()})
    # the same person written twice: a second record with the same email and mobile
    dup_n = max(1, n // 40)
    dups = contacts.sample(dup_n, seed=seed).with_columns(
        (pl.lit("D") + pl.col("contact_id").str.slice(1)).alias("contact_id"),
        pl.col("first_name").str.to_uppercase(),
        pl.col("email").str.to_uppercase(),
    )
    contacts = pl.concat([contacts, dups])
    # a few rows that cannot be recorded faithfully
    bad_n = max(4, n // 500)
    bad = (
        contacts.head(bad_n)
        .with_columns(
            pl.Series("partners_email", (["oui", "", "", ""] * bad_n)[:bad_n]),
            pl.Series(
                "collected_at", (["", "31/02/2024", "2026-13-01", "2025-05-05"] * bad_n)[:bad_n]
            ),
            pl.Series("contact_id", ([f"X{first_id + i}" for i in range(bad_n)])),
        )
        .with_columns(
            pl.when(pl.int_range(pl.len()) % 4 == 3)
            .then(pl.lit(""))
            .otherwise(pl.col("contact_id"))
            .alias("contact_id")
        )
    )
    contacts = pl.concat([contacts, bad]).sample(fraction=1.0, shuffle=True, seed=seed)
    files["contacts"] = _write(contacts, out / "contacts.csv")

    ev_n = n // 4
    who = rng.integers(0, n, size=ev_n)
    kind = _choice(
        rng,
        ["opposition", "consent", "informed_partner_list", "interaction"],
        [0.12, 0.18, 0.3, 0.4],
        ev_n,
    )
    channel = np.where(
        kind == "opposition",
        _choice(rng, ["all", "email", "sms", "phone", "postal"], [0.4, 0.25, 0.15, 0.1, 0.1], ev_n),
        np.where(
            kind == "consent", _choice(rng, ["phone", "sms", "email"], [0.5, 0.25, 0.25], ev_n), ""
        ),
    )
    scope = np.where(
        kind == "opposition",
        _choice(rng, ["partners", "all", "partner:P0003", "own"], [0.5, 0.35, 0.1, 0.05], ev_n),
        np.where(kind == "consent", "partners", ""),
    )
    at = _dates(rng, ev_n, dt.date(2024, 1, 1), dt.date(2026, 11, 25))
    name_by = rng.random(ev_n)
    ev = pl.DataFrame(
        {
            "contact_id": np.where((kind == "opposition") & (name_by < 0.3), "", ids[who]),
            "email": np.where((kind == "opposition") & (name_by < 0.2), email[who], ""),
            "phone": np.where(
                (kind == "opposition") & (name_by >= 0.2) & (name_by < 0.3), mobile[who], ""
            ),
            "event": kind,
            "channel": channel,
            "scope": scope,
            "at": at,
            "via": np.where(
                kind == "opposition",
                _choice(
                    rng,
                    ["web_form", "email_link", "sms_stop", "letter", "phone"],
                    [0.3, 0.35, 0.15, 0.1, 0.1],
                    ev_n,
                ),
                np.where(kind == "consent", "web_form", ""),
            ),
        }
    ).filter(~((pl.col("contact_id") == "") & (pl.col("email") == "") & (pl.col("phone") == "")))
    files["events"] = _write(ev, out / "events.csv")

    s_n = max(10, n // 100)
    pick = rng.integers(0, n, size=s_n)
    lists = _choice(
        rng,
        ["deceased", "undeliverable", "robinson", "partner:P0003"],
        [0.25, 0.35, 0.25, 0.15],
        s_n,
    )
    supp = pl.DataFrame(
        {
            "list": lists,
            "email": np.where(np.isin(lists, ["undeliverable", "partner:P0003"]), email[pick], ""),
            "phone": np.where(lists == "robinson", mobile[pick], ""),
            "address_line4": np.where(lists == "deceased", street[pick], ""),
            "postal_code": np.where(lists == "deceased", postal_code[pick], ""),
            "city": np.where(lists == "deceased", city[pick], ""),
            "added_at": "2026-01-15",
        }
    ).filter((pl.col("email") != "") | (pl.col("phone") != "") | (pl.col("address_line4") != ""))
    supp = supp.filter(
        ~(pl.col("email").str.contains(" ") | pl.col("phone").str.starts_with("06 12 "))
    )
    files["suppression"] = _write(supp, out / "suppression.csv")
    return files


def generate_large(
    out: Path, n: int, seed: int, chunk: int = 1_000_000, progress: bool = False
) -> dict[str, Path]:
    """``generate``'s files for ``n`` contacts, made ``chunk`` contacts at a time (each
    with a seed of its own, ids following on) and appended, so that memory stays that
    of one chunk. One chunk gives exactly ``generate``'s files."""
    import shutil

    if n <= chunk:
        return generate(out, n, seed)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for k, start in enumerate(range(0, n, chunk)):
        part = out / f".chunk-{k}"
        made = generate(part, min(chunk, n - start), seed + k, first_id=start + 1)
        for kind, path in made.items():
            target = out / path.name
            if k == 0:
                path.replace(target)
                files[kind] = target
            elif kind != "partners":
                with path.open("rb") as src, target.open("ab") as dst:
                    src.readline()  # the header, written once
                    shutil.copyfileobj(src, dst, 1 << 20)
        shutil.rmtree(part)
        if progress:
            print(f"generated {min(start + chunk, n):,} contacts", flush=True)
    return files
