"""``listguard profile``: the quality of a contact file, as JSON and as an HTML report.

Per field: how many rows fill it and, where a field can be checked, how many hold a
valid value (email syntax, a real phone number, an existing postal code, a date, a
recognised civility). Phone numbers by line type; email domains, with the mistyped
ones (a suggestion: ``gmial.com`` is probably ``gmail.com``) and the disposable ones
flagged; addresses by NF Z10-011 status and reason; rows sharing an email, a number,
or a name and address (exact duplicates; ``listguard dedupe`` finds the others).

The file is read in batches; only counts and one 8-byte hash per row and key are
kept, so memory stays bounded.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from listguard.normalise.rnvp import INPUT
from listguard.processing.files import open_mapped, parse_maps, registry_contacts

# the address fields as restructuring reads them, then the other coordinates
READ = (*(c for c in INPUT if c != "address"), "phone", "mobile", "email", "birth_date")
# where a mistyped domain is most likely one of these
POPULAR_DOMAINS = (
    "gmail.com",
    "hotmail.fr",
    "hotmail.com",
    "yahoo.fr",
    "yahoo.com",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "sfr.fr",
    "neuf.fr",
    "laposte.net",
    "outlook.fr",
    "outlook.com",
    "live.fr",
    "icloud.com",
    "bbox.fr",
    "aol.com",
    "msn.com",
    "gmx.fr",
)


@cache
def _disposable() -> frozenset[str]:
    data = resources.files("listguard.data").joinpath("disposable_domains.txt")
    return frozenset(data.read_text(encoding="utf-8").split())


@cache
def _typos() -> dict[str, str]:
    data = resources.files("listguard.data").joinpath("email_typos.csv")
    lines = data.read_text(encoding="utf-8").splitlines()[1:]
    return dict(line.split(",", 1) for line in lines if "," in line)


def suggest_domain(domain: str) -> str | None:
    """The domain probably meant, for a mistyped one (None if it looks right): the
    list of known French typos, else a popular domain one keystroke away (a letter
    missing, added, changed, or two neighbours swapped)."""
    from rapidfuzz.distance import OSA

    if domain in POPULAR_DOMAINS:
        return None
    if domain in _typos():
        return _typos()[domain]
    best = min(POPULAR_DOMAINS, key=lambda d: OSA.distance(domain, d))
    return best if OSA.distance(domain, best) == 1 else None


class _Counts:
    """What the batches add up to."""

    def __init__(self, used: Sequence[str]) -> None:
        self.rows = 0
        self.used = list(used)
        self.filled: Counter[str] = Counter()
        self.valid: Counter[str] = Counter()
        self.line_types: dict[str, Counter[str]] = {"phone": Counter(), "mobile": Counter()}
        self.domains: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.keys: dict[str, list[pl.Series]] = {"email": [], "phone": [], "name_address": []}

    def add(self, frame: pl.DataFrame) -> None:
        from listguard.io.dates import parse_dates_iso
        from listguard.normalise.civility import normalise_civilities
        from listguard.normalise.email import normalise_emails
        from listguard.normalise.phone import normalise_phones
        from listguard.normalise.postal import postal_codes
        from listguard.normalise.rnvp import restructure

        n = frame.height
        self.rows += n

        def col(name: str) -> pl.Series:
            if name in frame.columns:
                return frame[name].cast(pl.String)
            return pl.Series(name, [None] * n, pl.String)

        for name in self.used:
            self.filled[name] += int((col(name).fill_null("").str.strip_chars() != "").sum())
        numbers = {}
        for name in ("phone", "mobile"):
            if name in self.used:
                result = normalise_phones(col(name))
                numbers[name] = result["e164"]
                self.valid[name] += int(result["e164"].is_not_null().sum())
                self.line_types[name].update(
                    dict(result["line_type"].drop_nulls().value_counts().iter_rows())
                )
        emails = None
        if "email" in self.used:
            result = normalise_emails(col("email"))
            emails = result["email"].filter(result["valid"].fill_null(False))
            self.valid["email"] += emails.len()
            self.domains.update(dict(emails.str.split("@").list.last().value_counts().iter_rows()))
            self.keys["email"].append(emails.hash())
        if "postal_code" in self.used:
            codes = col("postal_code").str.strip_chars().str.zfill(5)
            self.valid["postal_code"] += int(codes.is_in(list(postal_codes())).sum())
        if "birth_date" in self.used:
            dates = pl.select(parse_dates_iso(pl.lit(col("birth_date")))).to_series()
            self.valid["birth_date"] += int(dates.is_not_null().sum())
        if "civility" in self.used:
            self.valid["civility"] += int(normalise_civilities(col("civility")).is_not_null().sum())
        if numbers:
            tel = pl.select(pl.coalesce(list(numbers.values()))).to_series()
            self.keys["phone"].append(tel.drop_nulls().hash())
        if any(
            c in self.used
            for c in INPUT
            if c not in ("civility", "first_name", "last_name", "company")
        ):
            done = restructure(frame.select([c for c in frame.columns if c in INPUT]))
            self.statuses.update(dict(done["status"].value_counts().iter_rows()))
            self.reasons.update(dict(done["reason"].drop_nulls().value_counts().iter_rows()))
            who = (
                pl.DataFrame(
                    {
                        "f": col("first_name"),
                        "l": col("last_name"),
                        "a": done["line4"],
                        "p": done["postal_code"],
                    }
                )
                .select(
                    pl.concat_str([pl.col("f"), pl.col("l")], separator=" ", ignore_nulls=True)
                    .str.to_uppercase()
                    .fill_null("")
                    .alias("n"),
                    pl.col("a").fill_null(""),
                    pl.col("p").fill_null(""),
                )
                .filter((pl.col("n").str.strip_chars() != "") & (pl.col("a") != ""))
            )
            joined = who.select(pl.concat_str(["n", "a", "p"], separator="|")).to_series()
            self.keys["name_address"].append(joined.hash())

    def result(self, path: Path) -> dict[str, Any]:
        checked = {"email", "phone", "mobile", "postal_code", "birth_date", "civility"}
        fields = {
            name: {
                "filled": self.filled[name],
                "filled_share": round(self.filled[name] / max(1, self.rows), 4),
                **(
                    {
                        "valid": self.valid[name],
                        "valid_share_of_filled": round(
                            self.valid[name] / max(1, self.filled[name]), 4
                        ),
                    }
                    if name in checked
                    else {}
                ),
            }
            for name in self.used
        }
        disposable = _disposable()
        domains = []
        for d, n in self.domains.most_common():
            suggestion = suggest_domain(d)
            # a typo of a real provider is a typo, even where lists call it disposable
            domains.append(
                {
                    "domain": d,
                    "emails": n,
                    "disposable": suggestion is None and d in disposable,
                    "suggestion": suggestion,
                }
            )
        duplicates = {}
        for key, parts in self.keys.items():
            if parts:
                hashes = pl.concat(parts)
                duplicates[key] = int(hashes.is_duplicated().sum())
        return {
            "file": str(path),
            "rows": self.rows,
            "fields": fields,
            "phone_line_types": {k: dict(v.most_common()) for k, v in self.line_types.items() if v},
            "email_domains": {
                "distinct": len(domains),
                "top": domains[:20],
                "mistyped": [d for d in domains if d["suggestion"]][:50],
                "disposable": [d for d in domains if d["disposable"]][:50],
                "disposable_emails": sum(d["emails"] for d in domains if d["disposable"]),
                "mistyped_emails": sum(d["emails"] for d in domains if d["suggestion"]),
            },
            "addresses": {
                "statuses": dict(self.statuses.most_common()),
                "reasons": dict(self.reasons.most_common()),
            },
            "exact_duplicates": {
                "rows_sharing": duplicates,
                "note": "rows whose key another row also has; listguard dedupe finds the rest",
            },
        }


def profile_file(
    path: Path,
    out_dir: Path,
    maps: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write ``profile.json`` and ``profile.html`` for ``path`` into ``out_dir``."""
    mapped = open_mapped(path, parse_maps(maps, READ), "contact_id", READ)
    counts = _Counts(mapped.used)
    for frame, _ids in mapped.batches():
        counts.add(frame)
        if progress is not None:
            progress(frame.height)
    report = counts.result(path)
    _write(report, out_dir)
    return report


REGISTRY_LABEL = "registre listguard"


def profile_base(
    engine: Engine,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    batch_rows: int = 100_000,
) -> dict[str, Any]:
    """The same report for the registry's current contacts, read in batches by id."""
    columns = {c: c for c in READ} | {"civility": "coalesce(civility_given, civility)"}
    counts = _Counts(READ)
    for frame in registry_contacts(engine, columns, batch_rows):
        counts.add(frame)
        if progress is not None:
            progress(frame.height)
    report = counts.result(Path(REGISTRY_LABEL))
    report["persons_held_several_times"] = _clusters(engine)
    _write(report, out_dir)
    return report


def _clusters(engine: Engine) -> dict[str, Any]:
    """The registry's clusters (``dedupe --base``): how many, when, and how many
    contacts came since."""
    from listguard.processing.clusters import base_clusters
    from listguard.timeutil import to_day

    held = base_clusters(engine)
    return {
        "computed_on": to_day(held.computed_at).isoformat() if held.computed_at else None,
        "clusters": held.clusters,
        "contacts": held.contacts,
        "contacts_not_compared": held.newer,
        "note": "persons written differently, found by listguard dedupe --base; the rules "
        "treat each cluster as one person",
    }


def _write(report: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic(out_dir / "profile.json", json.dumps(report, ensure_ascii=False, indent=2))
    _atomic(out_dir / "profile.html", render(report))


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def render(report: dict[str, Any]) -> str:
    """The report as one HTML page (no script, no outside resource: it opens anywhere)."""
    from jinja2 import Environment

    page = resources.files("listguard.processing").joinpath("templates/profile.html")
    env = Environment(autoescape=True)
    return env.from_string(page.read_text(encoding="utf-8")).render(
        r=report, name=Path(report["file"]).name
    )


__all__ = ["POPULAR_DOMAINS", "profile_base", "profile_file", "render", "suggest_domain"]
