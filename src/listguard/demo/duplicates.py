"""A French contact file with known duplicates, one kind of error each, for measuring
deduplication (tests and ``bench.dedupe_quality``)."""

from __future__ import annotations

import csv
import random
import unicodedata
from pathlib import Path

HEADER = (
    "contact_id",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "mobile",
    "address_line4",
    "postal_code",
    "city",
)
# the kinds of duplicates: what differs between the two rows of one person
ERRORS = ("accents", "typo", "swapped", "moved", "abbreviated", "exact")


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _typo(text: str, rng: random.Random) -> str:
    """Two neighbouring letters swapped (the commonest typing error)."""
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def write_duplicates(
    path: Path, persons: int, seed: int = 7, every: int = 5
) -> dict[tuple[str, str], str]:
    """Write ``persons`` persons to ``path`` (``;``, UTF-8), one in ``every`` with a
    second row of one kind of error (``ERRORS`` in turn): accents and case dropped,
    two letters of the last name swapped (and no email), first and last names
    swapped, moved house (same mobile and email), street type abbreviated (and no
    mobile), or an exact copy. Returns {(original id, duplicate id): kind}."""
    from faker import Faker

    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    truth: dict[tuple[str, str], str] = {}
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, HEADER, delimiter=";")
        writer.writeheader()
        for n in range(persons):
            first, last = fake.first_name(), fake.last_name()
            user = f"{_plain(first)}.{_plain(last)}{n}".lower().replace(" ", "")
            row = {
                "contact_id": f"C{n:07d}",
                "first_name": first,
                "last_name": last,
                "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
                "email": f"{user}@exemple.fr",
                "mobile": f"06{rng.randrange(10**8):08d}",
                "address_line4": f"{rng.randint(1, 120)} rue {fake.last_name()}",
                "postal_code": fake.postcode(),
                "city": fake.city(),
            }
            writer.writerow(row)
            if n % every:
                continue
            kind = ERRORS[(n // every) % len(ERRORS)]
            dup = {**row, "contact_id": f"D{n:07d}"}
            if kind == "accents":
                dup.update(first_name=_plain(first).upper(), last_name=_plain(last).upper())
            elif kind == "typo":
                dup.update(last_name=_typo(last, rng), email="")
            elif kind == "swapped":
                dup.update(first_name=last, last_name=first)
            elif kind == "moved":
                dup.update(
                    address_line4=f"{rng.randint(1, 99)} avenue {fake.last_name()}",
                    postal_code=fake.postcode(),
                    city=fake.city(),
                )
            elif kind == "abbreviated":
                dup.update(address_line4=row["address_line4"].replace("rue", "r."), mobile="")
            writer.writerow(dup)
            truth[(row["contact_id"], dup["contact_id"])] = kind
    return truth


__all__ = ["ERRORS", "HEADER", "write_duplicates"]
