"""Agreement of listguard's phone normalisation with ``phonenumbers`` on a large sample.

    python -m bench.phone_agreement [--numbers 1000000]

The sample is the demo generator's messy numbers (French metropolitan and overseas,
several ways of writing them, foreign and invalid ones). The reference is
``phonenumbers.parse(value, "FR")``; every disagreement is put in a kind and counted.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import phonenumbers
import polars as pl

from listguard.demo.generate import _phones
from listguard.normalise.phone import normalise_phones


def reference(value: str) -> tuple[str | None, bool]:
    try:
        num = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None, False
    valid = phonenumbers.is_valid_number(num)
    return (
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if valid else None
    ), valid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    half = args.numbers // 2
    values = np.concatenate(
        [_phones(rng, half, mobile=True), _phones(rng, args.numbers - half, mobile=False)]
    )
    noise = rng.random(args.numbers)
    values = np.where(noise < 0.01, np.char.add(values.astype(str), "9"), values)  # too long
    values = np.where(
        (noise >= 0.01) & (noise < 0.02),
        np.char.add("+44 20 7946 ", rng.integers(1000, 9999, args.numbers).astype(str)),
        values,
    )
    series = pl.Series(values.astype(str))
    t = time.perf_counter()
    ours = normalise_phones(series)["e164"].to_list()
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    refs = [reference(v) for v in series.to_list()]
    t_ref = time.perf_counter() - t
    kinds: Counter[str] = Counter()
    agree = 0
    for value, mine, (theirs, _valid) in zip(series.to_list(), ours, refs, strict=True):
        if mine == theirs:
            agree += 1
        elif theirs is None and mine and mine[:4] in ("+262", "+590", "+594", "+596"):
            kinds[
                "overseas number in national form (0692..., +33 692...): listguard gives "
                "its own country code, phonenumbers with region FR refuses it"
            ] += 1
        elif theirs is None:
            kinds[f"listguard accepts, phonenumbers refuses: {value[:6]}..."] += 1
        elif mine is None:
            kinds[f"phonenumbers accepts, listguard refuses: {value[:6]}..."] += 1
        else:
            kinds["both accept, different E.164"] += 1
    n = len(ours)
    print(f"numbers: {n:,}; agreement: {agree / n:.4%}")
    print(f"listguard: {t_ours:.2f} s ({n / t_ours:,.0f}/s)")
    print(f"phonenumbers row by row: {t_ref:.1f} s ({n / t_ref:,.0f}/s)")
    for kind, count in kinds.most_common(12):
        print(f"  {count:>8,}  {kind}")


if __name__ == "__main__":
    main()
