"""Agreement of listguard's phone normalisation with ``phonenumbers`` on a large sample.

    python -m bench.phone_agreement [--numbers 1000000] [--messy 200000]

Two samples. The demo generator's numbers (French metropolitan and overseas, several
ways of writing them, foreign and invalid ones). And messy numbers as people write
them in real files, made with a fixed seed (``messy``): a label before the number
(``Tel:``, ``Tél.``, ``Tel portable :``), an extension after it (``poste 12``,
``ext. 12``, ``#12``), ``33612345678`` left by a spreadsheet, ``+33 (0)6...``, and
garbage that must stay refused (letters, too few or too many digits, two numbers in
one cell, empty labels).

The reference is ``phonenumbers.parse(value, "FR")`` and its validity, with two
documented readings of ``legal.md`` and of the contacts format: a number of the French
plan that libphonenumber refuses as +33 but knows in an overseas region is that
region's (``0692...`` is +262, legal.md); ``poste`` is the French word for an
extension, which libphonenumber does not know (it knows ``ext.``, ``x``, ``#``), so
it is read as ``ext.``. On the messy sample, the garbage values are expected to be
refused whatever libphonenumber makes of them (it skips a letter before the digits,
``O6 12...`` being read as 6 12..., reads the first of two numbers separated by ``;``
as a number with an extension, and takes ``Fax:`` as a label). The plain
libphonenumber figure is printed too. Every disagreement is put in a kind and counted.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import phonenumbers
import polars as pl

from listguard.demo.generate import _phones
from listguard.normalise.phone import normalise_phones

_OVERSEAS = ("RE", "YT", "GP", "MQ", "GF", "BL", "MF")
_POSTE = re.compile(r"(?i)\bposte")


def plain(value: str) -> str | None:
    """libphonenumber's E.164 of ``value`` read in France, None if invalid."""
    try:
        num = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(num):
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    if num.country_code == 33:  # the overseas rule of legal.md
        nsn = str(num.national_number)
        for region in _OVERSEAS:
            there = phonenumbers.parse("0" + nsn, region)
            if phonenumbers.is_valid_number_for_region(there, region):
                return phonenumbers.format_number(there, phonenumbers.PhoneNumberFormat.E164)
    return None


def reference(value: str) -> str | None:
    return plain(_POSTE.sub("ext.", value))


def raw_reference(value: str) -> str | None:
    try:
        num = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(num)
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if valid else None


def _national(rnd: random.Random) -> str:
    """A number of the French plan in national form (not always a valid one)."""
    prefix = rnd.choices(
        ["06", "07", "01", "02", "03", "04", "05", "09", "0692", "0690", "0262", "0639"],
        [30, 15, 10, 8, 8, 8, 8, 5, 2, 2, 2, 1],
    )[0]
    return prefix + "".join(rnd.choices("0123456789", k=10 - len(prefix)))


def _spaced(national: str, rnd: random.Random) -> str:
    sep = rnd.choice([" ", ".", "-", "", "\u00a0"])
    return sep.join(national[i : i + 2] for i in range(0, 10, 2))


# what people write between two numbers in one cell
_BETWEEN = [" / ", " ou ", ", ", " - ", " et ", "/", ";", " | "]


def _messy_one(rnd: random.Random) -> tuple[str, str]:
    """A value as people write it, and its kind."""
    nat = _national(rnd)
    sp = _spaced(nat, rnd)
    ext = str(rnd.randint(1, 9999))
    good: list[tuple[str, Callable[[], str]]] = [
        ("label", lambda: rnd.choice(["Tel: ", "Tél. ", "TEL ", "tel:", "Téléphone : "]) + sp),
        ("label", lambda: rnd.choice(["Tel portable : ", "mobile: ", "Portable ", "Mob. "]) + sp),
        ("label", lambda: rnd.choice(["GSM: ", "Fixe : ", "Tel. dom. ", "N° "]) + sp),
        ("label", lambda: rnd.choice(["T: ", "T. ", "Tel/Fax: ", "tél.:"]) + sp),
        ("spreadsheet 33", lambda: "33" + nat[1:]),
        ("spreadsheet 33", lambda: "33" + nat),
        ("spreadsheet 33", lambda: "33 " + _spaced(nat, rnd)[1:].lstrip(" .-\u00a0")),
        ("+33 (0)", lambda: "+33 (0)" + _spaced(nat, rnd)[1:].lstrip(" .-\u00a0")),
        ("+33 (0)", lambda: rnd.choice(["(+33) ", "0033 (0)", "Tel : +33 "]) + nat[1:]),
        ("+33 (0)", lambda: "+33(0)" + nat[1:]),
        ("extension", lambda: sp + rnd.choice([" poste ", " Poste ", " ext. ", " x", " #"]) + ext),
        ("extension", lambda: sp + rnd.choice([" (poste ", " (ext. ", " (x"]) + ext + ")"),
        ("label and extension", lambda: "Tel: " + sp + " poste " + ext),
        ("plain", lambda: sp),
        ("plain", lambda: "+33 " + nat[1:]),
    ]
    other = _spaced(_national(rnd), rnd)
    garbage: list[tuple[str, Callable[[], str]]] = [
        ("letters", lambda: sp[:-1] + rnd.choice("AOlIo")),
        ("letters", lambda: rnd.choice("Oo") + sp[1:]),
        ("letters", lambda: rnd.choice(["inconnu", "n/a", "NC", "néant", "voir fiche", "-"])),
        ("letters", lambda: sp + " (domicile)"),
        ("letters", lambda: "Fax: " + sp),
        ("too short", lambda: nat[: rnd.randint(4, 8)]),
        ("too short", lambda: "Tel: " + nat[:8]),
        ("too short", lambda: "33" + nat[1:9]),
        ("too long", lambda: nat + str(rnd.randint(0, 99))),
        ("too long", lambda: "33" + nat[1:] + str(rnd.randint(0, 9))),
        ("too long", lambda: "+33 " + nat[1:] + "12"),
        ("two numbers", lambda: sp + rnd.choice(_BETWEEN) + other),
        ("two numbers", lambda: nat + " " + other.replace(" ", "")),
        ("empty label", lambda: rnd.choice(["Tel:", "Tél. :", "mobile: ", "poste 12"])),
    ]
    kind, make = rnd.choice(good) if rnd.random() < 0.75 else rnd.choice(garbage)
    return make(), kind


def messy(n: int, seed: int = 2026) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    pairs = [_messy_one(rnd) for _ in range(n)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def demo_sample(n: int) -> list[str]:
    rng = np.random.default_rng(7)
    half = n // 2
    values = np.concatenate([_phones(rng, half, mobile=True), _phones(rng, n - half, mobile=False)])
    noise = rng.random(n)
    values = np.where(noise < 0.01, np.char.add(values.astype(str), "9"), values)  # too long
    values = np.where(
        (noise >= 0.01) & (noise < 0.02),
        np.char.add("+44 20 7946 ", rng.integers(1000, 9999, n).astype(str)),
        values,
    )
    return [str(v) for v in values]


GARBAGE = ("letters", "too short", "too long", "two numbers", "empty label")


def compare(title: str, values: list[str], kinds_of: list[str] | None) -> None:
    t = time.perf_counter()
    ours = normalise_phones(pl.Series(values, dtype=pl.String))["e164"].to_list()
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    refs = [reference(v) for v in values]
    t_ref = time.perf_counter() - t
    print(f"## {title}")
    if kinds_of:
        lib_accepts = Counter(k for k, r in zip(kinds_of, refs, strict=True) if k in GARBAGE and r)
        for k, count in lib_accepts.most_common():
            print(f"garbage that libphonenumber accepts: {count:,} {k}")
        refs = [None if k in GARBAGE else r for k, r in zip(kinds_of, refs, strict=True)]
    raw_agree = sum(m == raw_reference(v) for v, m in zip(values, ours, strict=True))
    kinds: Counter[str] = Counter()
    example: dict[str, str] = {}  # the first value of each kind
    accepted: Counter[str] = Counter()
    agree = 0
    for i, (value, mine, theirs) in enumerate(zip(values, ours, refs, strict=True)):
        kind = kinds_of[i] if kinds_of else value[:6] + "..."
        accepted[f"{kind}: {'accepted' if mine else 'refused'}"] += 1
        if mine == theirs:
            agree += 1
        elif theirs is None:
            kinds[f"listguard accepts, the reference refuses: {kind}"] += 1
            example.setdefault(f"listguard accepts, the reference refuses: {kind}", value)
        elif mine is None:
            kinds[f"the reference accepts, listguard refuses: {kind}"] += 1
            example.setdefault(f"the reference accepts, listguard refuses: {kind}", value)
        else:
            kinds[f"both accept, different E.164: {kind}"] += 1
            example.setdefault(f"both accept, different E.164: {kind}", value)
    n = len(ours)
    print(f"numbers: {n:,}; agreement: {agree / n:.4%} (plain libphonenumber: {raw_agree / n:.4%})")
    print(f"listguard: {t_ours:.2f} s ({n / t_ours:,.0f}/s)")
    print(f"phonenumbers row by row: {t_ref:.1f} s ({n / t_ref:,.0f}/s)")
    if kinds_of:
        for name, count in sorted(accepted.items()):
            print(f"  {count:>8,}  {name}")
    print("disagreements (first value of each kind shown):")
    for name, count in kinds.most_common(12):
        print(f"  {count:>8,}  {name}, e.g. {example[name]!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--messy", type=int, default=200_000)
    args = parser.parse_args()
    if args.numbers:
        compare("demo generator's numbers", demo_sample(args.numbers), None)
    if args.messy:
        values, kinds = messy(args.messy)
        compare("messy numbers as people write them (seed 2026)", values, kinds)


if __name__ == "__main__":
    main()
