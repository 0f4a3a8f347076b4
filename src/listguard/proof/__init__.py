"""The proof of a person's consents and objections (R223-2, reported décret n° 2026-662),
on a durable medium, and the phone consents about to lapse.

- ``facts``: ``gather`` the facts of one person's proof; ``proof_json`` its JSON form.
- ``document``: ``proof_pdf``, the same facts as a PDF in French, tied to the JSON by
  its SHA-256.
- ``access``: how a person obtains it without an account (a signed, expiring link by
  email; a one-time code by SMS).
- ``expiring``: ``expiring_consents``, the phone consents reaching their maximum age.
"""

from listguard.proof.document import proof_pdf
from listguard.proof.expiring import Expiring, expiring_consents
from listguard.proof.facts import (
    ConsentProof,
    UnknownPerson,
    gather,
    json_sha256,
    proof_dict,
    proof_json,
)

__all__ = [
    "ConsentProof",
    "Expiring",
    "UnknownPerson",
    "expiring_consents",
    "gather",
    "json_sha256",
    "proof_dict",
    "proof_json",
    "proof_pdf",
]
