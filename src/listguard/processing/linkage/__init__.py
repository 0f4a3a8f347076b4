"""Deduplication and linkage of contact files: the same person written differently.

A Fellegi-Sunter model (splink, on DuckDB in this process) over fields listguard
normalises first: names in capitals without accents or punctuation, compared with
Jaro-Winkler and with first and last names swapped; the birth date as digits
(a typo is one or two edits); the email as normalised for the rules; one phone
number in E.164 (the mobile, else the other); the house number, the street, the
locality, the postal code and the city; and any other identifier the user names (``--compare``:
a customer number, a social security number), compared with edit distance.

Only fields that some row fills take part; a value missing on a side weighs
nothing. Candidate pairs come from several blocking passes, each catching what the
others miss (same first and last name, or the two swapped; last or first name with
the birth date, the postal code or the city; the birth date alone, with the postal
code or the city; email; number; street with postal code or city; house number with
postal code or city; each ``--compare`` field), so that the cost grows with the
file, not with its square. The model is trained without labels: the chance that two
fields agree by accident (``u``) from random pairs, the chance that they agree for
the same person (``m``) by expectation maximisation within three blocks.

Pairs above the threshold (a match probability, 0.9 by default) are written with
the fields that agreed; clusters are the connected groups of such pairs; the
trained model (``m`` and ``u`` of each level of each comparison) is written beside
them, so that a user sees why two rows matched.

The package, one concept a module: ``fields`` (the compared fields, prepared),
``blocking`` (the candidate pairs and the exact ones), ``gates`` (which of the model's
pairs are kept), ``model`` (splink's model, trained and run, and the clusters),
``report`` (the trained model as ``model.json`` and ``model.md``) and ``run`` (the
files or the registry in, the pairs and clusters out).
"""

from __future__ import annotations

from listguard.processing.linkage.fields import READ, prepare
from listguard.processing.linkage.run import (
    DEFAULT_THRESHOLD,
    LinkageReport,
    dedupe_base,
    link_files,
    link_pairs,
    read_file,
    registry_frame,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "READ",
    "LinkageReport",
    "dedupe_base",
    "link_files",
    "link_pairs",
    "prepare",
    "read_file",
    "registry_frame",
]
