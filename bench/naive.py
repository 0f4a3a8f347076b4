"""The naive way, for comparison: pandas, ``phonenumbers`` row by row, a Python loop for the
rules, nothing persisted. It decides the same order as listguard's benchmark (the main
rules; no history, no proof, no ledger) and writes the partner's file.

    python -m bench.naive CONTACTS.csv EVENTS.csv OUT.csv
"""

from __future__ import annotations

import datetime as dt
import re
import sys

import pandas as pd
import phonenumbers

EMAIL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9.-]+\.[a-z]{2,}$")


def parse_date(value: str) -> dt.datetime | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt)
        except (ValueError, TypeError):
            continue
    return None


def phone(value: str) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value:
        return None, None
    try:
        num = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None, "invalid"
    if not phonenumbers.is_valid_number(num):
        return None, "invalid"
    kind = phonenumbers.number_type(num)
    return (
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164),
        "mobile" if kind == phonenumbers.PhoneNumberType.MOBILE else "other",
    )


class _Row:
    """Attribute access to a row of text cells (the naive way reads rows one by one)."""

    def __init__(self, cells: dict[str, str]) -> None:
        self.cells = cells

    def __getattr__(self, name: str) -> str:
        return self.cells[name]


def main(contacts_path: str, events_path: str, out_path: str) -> None:
    df = pd.read_csv(contacts_path, sep=";", dtype=str, keep_default_na=False)
    events = pd.read_csv(events_path, sep=";", dtype=str, keep_default_na=False)
    opposed = {str(x) for x in events.loc[events["event"] == "opposition", "contact_id"]}
    d = dt.datetime(2026, 11, 28)
    cutoff = dt.datetime(2023, 11, 28)
    seen_email: set[str] = set()
    seen_phone: set[str] = set()
    out: list[dict[str, str]] = []
    records: list[dict[str, str]] = df.to_dict(orient="records")  # type: ignore[assignment]
    for r in records:
        row = _Row(r)
        collected = parse_date(row.collected_at)
        if collected is None or collected > d or collected < cutoff:
            continue
        if row.contact_id in opposed:
            continue
        record: dict[str, str] = {"contact_id": row.contact_id}
        keep = False
        if row.partners_postal in ("informed", "consent") and row.address_line4:
            record.update(
                first_name=row.first_name,
                last_name=row.last_name,
                address=row.address_line4,
                postal_code=row.postal_code,
                city=row.city,
            )
            keep = True
        numbers = [phone(row.phone), phone(row.mobile)]
        if row.partners_phone == "consent":
            calls = [n for n, _ in numbers if n]
            record["phone"] = "|".join(calls)
            keep = keep or bool(calls)
        if row.partners_sms == "consent":
            sms = [n for n, t in numbers if n and t == "mobile" and n not in seen_phone]
            seen_phone.update(sms)
            record["sms"] = "|".join(sms)
            keep = keep or bool(sms)
        email = row.email.strip().lower()
        if row.partners_email == "consent" and EMAIL.match(email) and email not in seen_email:
            seen_email.add(email)
            record["email"] = email
            keep = True
        if keep:
            out.append(record)
    pd.DataFrame(out).to_csv(out_path, sep=";", index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
