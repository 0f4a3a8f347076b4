"""The companion of ``pairs.csv``: the model that scored the pairs, as trained on the
file (``model.json``, and the same as a Markdown table in ``model.md``), so that a user
sees why two rows matched. For each compared field, each level of its comparison (the
values agree exactly, nearly, are missing on a side, differ) with ``m`` (how often
the level occurs among pairs of one person), ``u`` (how often among pairs of two
persons) and the weight it adds to a pair: ``log2(m / u)`` bits, positive for
evidence of one person, negative against; a missing value weighs nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# the comparison columns as the user names the fields
FIELDS = {
    "first_last": "first and last name",
    "first": "first name",
    "last": "last name",
    "dob": "birth date",
    "email": "email",
    "tel": "phone",
    "number": "house number",
    "street": "street",
    "locality": "locality",
    "postcode": "postal code",
    "city": "city",
}


def _label(column: str) -> str:
    if column.startswith("x_"):
        return f"{column[2:]} (--compare)"
    return FIELDS.get(column, column)


def _weight(m: float | None, u: float | None) -> float | None:
    if m is None or u is None or m <= 0 or u <= 0:
        return None
    return round(math.log2(m / u), 2)


def model_report(model: dict[str, Any], threshold: float, records: int) -> dict[str, Any]:
    """The report of the trained model (``model.predict``'s third value)."""
    prior = float(model.get("prior", 0.0))
    fields = []
    for comparison in model.get("comparisons", []):
        column = str(comparison["column"])
        levels = []
        for level in comparison["levels"]:
            missing = bool(level["missing"])
            m, u = level["m"], level["u"]
            levels.append(
                {
                    "level": str(level["label"]),
                    "missing": missing,
                    "m": None if missing or m is None else round(float(m), 6),
                    "u": None if missing or u is None else round(float(u), 8),
                    "weight": 0.0 if missing else _weight(m, u),
                    # no pair of the training fell in this level: m is splink's default
                    "m_learnt": bool(level["learnt"]),
                    "common_values_weigh_less": bool(level["tf"]),
                }
            )
        fields.append({"column": column, "field": _label(column), "levels": levels})
    return {
        "records": records,
        "threshold": threshold,
        "prior": prior,
        "prior_weight": _weight(prior, 1 - prior) if 0 < prior < 1 else None,
        "fields": fields,
    }


def _cell(value: float | None, digits: str) -> str:
    return "" if value is None else format(value, digits)


def write_report(out_dir: Path, report: dict[str, Any]) -> None:
    """``model.json`` and ``model.md`` in ``out_dir``."""
    (out_dir / "model.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = [
        "# Linkage model",
        "",
        f"{report['records']} record(s); pairs kept at match probability >= {report['threshold']}.",
        "",
    ]
    if not report["fields"]:
        lines.append("No model was trained: too few records to make a pair.")
    else:
        prior_weight = report["prior_weight"]
        lines += [
            f"Before any field is compared, two records are one person with probability "
            f"{report['prior']:.3g} (weight {_cell(prior_weight, '+.2f')}). Each field then "
            "adds the weight of the level its two values fall in (the first level that "
            "applies, from the top); the sum of the weights gives the match probability. "
            "`m`: share of pairs of one person at this level; `u`: share of pairs of two "
            "persons; weight: log2(m/u). A missing value weighs 0. Marked *: a common "
            "value agreeing weighs less than the level says, a rare one more. Marked "
            "(default): no pair of the training fell in the level, so its m is splink's "
            "default, not learnt from this file.",
            "",
            "| field | level | m | u | weight |",
            "|---|---|---|---|---|",
        ]
        for field in report["fields"]:
            for level in field["levels"]:
                mark = " *" if level["common_values_weigh_less"] else ""
                if not level["missing"] and not level["m_learnt"]:
                    mark += " (default)"
                name = "missing on a side" if level["missing"] else level["level"]
                lines.append(
                    f"| {field['field']} | {name.replace('|', '/')}{mark} | "
                    f"{_cell(level['m'], '.4f')} | {_cell(level['u'], '.6f')} | "
                    f"{_cell(level['weight'], '+.2f')} |"
                )
    (out_dir / "model.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


__all__ = ["model_report", "write_report"]
