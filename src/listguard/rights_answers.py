"""Answering a rights request (``listguard.rights_requests``): the request applied by the
services that apply it everywhere else, and the document the person downloads.

- access: the access report (``rights.access_report``), as the French document
  ``rights access`` writes (``access_text``);
- portability: the data the person gave and their choices, from the same report, as
  JSON (art. 20: structured, commonly used, machine-readable);
- consent proof: the PDF ``rights proof`` writes (``proof``);
- erasure: ``rights.erase`` (the partners told, the person refused on import);
- objection: ``oppositions.record_opposition`` on the channel asked, for the owner and
  every partner (forwarded to the partners holding the person);
- rectification: ``rights.rectify`` of each contact record holding the person (the
  partners that received the data told);
- a refusal: a letter giving the reason and the person's recourse (art. 12(4)).

The mails and texts that carry the links are here too, in French as the public page.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, text

from listguard.config import Settings
from listguard.domain.coverage import PERSON_CONTACTS
from listguard.domain.retention import Retention
from listguard.errors import InputError
from listguard.mail import to_person
from listguard.oppositions import record_opposition
from listguard.proof.document import proof_pdf
from listguard.proof.facts import UnknownPerson, gather, proof_json
from listguard.rights import access_report, access_text, erase, rectify
from listguard.rights_requests import (
    ANSWER_DAYS,
    CONFIRM_DAYS,
    Document,
    RightsRequest,
    close,
    not_open,
    read_request,
    start,
)

TEXT = "text/plain; charset=utf-8"
TITLES = {
    "access": "accès à vos données (RGPD, article 15)",
    "rectification": "rectification de vos données (RGPD, article 16)",
    "erasure": "effacement de vos données (RGPD, article 17)",
    "objection": "opposition (RGPD, article 21)",
    "portability": "portabilité de vos données (RGPD, article 20)",
    "proof": "preuve de vos consentements",
}
CODE_TEXT = "Votre code pour confirmer votre demande : {code} (valable 10 minutes)."


def _letter(owner: str, kind: str, lines: list[str]) -> Document:
    body = "\n".join([f"Réponse de {owner} à votre demande : {TITLES[kind]}", "", *lines, ""])
    return Document(body.encode("utf-8"), f"reponse-{kind}.txt", TEXT)


def _open(engine: Engine, request_id: int) -> RightsRequest:
    request = read_request(engine, request_id)
    if request is None or not request.open:
        raise not_open(request_id)
    if request.email is None and request.phone is None:
        raise InputError(
            f"request {request_id} no longer names its person",
            fr=f"la demande {request_id} ne désigne plus sa personne",
        )
    return request


def _contact_ids(engine: Engine, request: RightsRequest) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT contact_id FROM contacts WHERE {PERSON_CONTACTS} ORDER BY contact_id"),
            {"c": None, "e": request.email, "p": request.phone},
        )
        return [str(r.contact_id) for r in rows]


def _portability(report: dict[str, Any], owner: str) -> bytes:
    given = {
        "document": "portability",
        "owner": owner,
        "contacts": [
            {
                "contact_id": c["contact_id"],
                "data": c["data"],
                "collected_at": c["collected_at"],
                "choices_at_collection": c["choices_at_collection"],
                "other_data": c["other_data"],
            }
            for c in report["contacts"]
        ],
        "choices": [e for e in report["events"] if e["event"] in ("consent", "opposition")],
    }
    return (json.dumps(given, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _apply(
    engine: Engine, settings: Settings, request: RightsRequest
) -> tuple[Document, dict[str, Any]]:
    """Apply ``request`` and make its answer: (document, outcome without personal data)."""
    owner = settings.owner.name
    who: dict[str, Any] = {"email": request.email, "phone": request.phone}
    retention = Retention.of(settings)
    kind = request.kind
    if kind in ("access", "portability"):
        report = access_report(engine, **who, rules=settings.rules)
        outcome = {"contacts": len(report["contacts"]), "events": len(report["events"])}
        if kind == "access":
            return Document(
                access_text(report, owner).encode("utf-8"), "reponse-acces.txt", TEXT
            ), outcome
        return Document(
            _portability(report, owner), "donnees-portabilite.json", "application/json"
        ), outcome
    if kind == "proof":
        try:
            proof = gather(engine, settings, **who)
        except UnknownPerson:
            lines = ["Nous ne détenons aucune donnée vous concernant sous cet identifiant."]
            return _letter(owner, kind, lines), {"contacts": 0}
        return Document(
            proof_pdf(proof, proof_json(proof)), "preuve-consentements.pdf", "application/pdf"
        ), {"contacts": len(proof.contacts)}
    if kind == "erasure":
        erased = erase(engine, **who, via=request.via, retention=retention)
        lines = [
            f"Vos données ont été effacées : {erased.contacts} fiche(s) supprimée(s).",
            f"Les partenaires qui les avaient reçues en sont informés "
            f"({erased.messages} message(s)).",
            "Vos identifiants ne sont conservés que sous une forme chiffrée irréversible, "
            "pour que vos données ne soient pas importées à nouveau.",
        ]
        return _letter(owner, kind, lines), {
            "contacts": erased.contacts,
            "messages": erased.messages,
        }
    if kind == "objection":
        channel = request.channel or "all"
        done = record_opposition(
            engine, channel=channel, scope="all", via=request.via, retention=retention, **who
        )
        where = "tous canaux" if channel == "all" else f"canal : {channel}"
        lines = [
            f"Votre opposition est enregistrée ({where}) : elle s'applique à notre usage et "
            "à celui de nos partenaires.",
            f"Les partenaires qui ont reçu vos coordonnées en sont informés "
            f"({done.messages} message(s)).",
        ]
        return _letter(owner, kind, lines), {"covered": done.covered, "messages": done.messages}
    assert kind == "rectification"
    ids = _contact_ids(engine, request)
    changed: set[str] = set()
    messages = 0
    for contact_id in ids:
        fixed = rectify(engine, contact_id, request.changes, via=request.via, retention=retention)
        changed.update(fixed.changed)
        messages += fixed.messages
    if not ids:
        lines = ["Nous ne détenons aucune fiche vous concernant sous cet identifiant."]
    else:
        lines = [
            "Vos données sont rectifiées : "
            + (", ".join(sorted(changed)) if changed else "elles étaient déjà à jour")
            + ".",
            f"Les partenaires qui les avaient reçues en sont informés ({messages} message(s)).",
        ]
    return _letter(owner, kind, lines), {
        "contacts": len(ids),
        "changed": sorted(changed),
        "messages": messages,
    }


def answer(engine: Engine, settings: Settings, request_id: int, by: str) -> str:
    """Apply the request, keep its answer and close it; returns the token of the link
    that downloads the answer. The request is marked in progress first: if applying it
    fails, it stays open (and is audited as taken)."""
    request = _open(engine, request_id)
    if request.status == "received":
        start(engine, request_id, by)
    document, outcome = _apply(engine, settings, request)
    return close(engine, request_id, by, document, outcome=outcome)


def refuse(engine: Engine, settings: Settings, request_id: int, reason: str, by: str) -> str:
    """Refuse the request for ``reason`` (art. 12(4) and (5)); the person is told why and
    where to complain. Returns the token of the link to the letter."""
    reason = reason.strip()
    if not reason:
        raise InputError(
            "a refusal gives its reason", where="reason", fr="indiquez la raison du refus"
        )
    if len(reason) > 2000:
        raise InputError(
            "at most 2000 characters", where="reason", fr="raison : 2000 caractères au plus"
        )
    request = _open(engine, request_id)
    lines = [
        "Nous ne pouvons pas donner suite à votre demande, pour la raison suivante :",
        "",
        reason,
        "",
        "Vous pouvez introduire une réclamation auprès de la CNIL (www.cnil.fr) et former "
        "un recours juridictionnel.",
    ]
    document = _letter(settings.owner.name, request.kind, lines)
    return close(engine, request_id, by, document, reason=reason)


def confirm_mail(settings: Settings, to: str, kind: str, url: str) -> EmailMessage:
    """The mail carrying the link that confirms a request made on the public page."""
    owner = settings.owner.name
    return to_person(
        settings,
        to,
        "Confirmez votre demande",
        "Bonjour,\n\n"
        f"Une demande a été faite à {owner} en votre nom : {TITLES[kind]}. Elle ne sera "
        f"enregistrée que si vous la confirmez par ce lien, valable {CONFIRM_DAYS} jours :"
        f"\n\n{url}\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien ne "
        "sera fait sans votre confirmation.\n",
    )


def answer_mail(settings: Settings, to: str, kind: str, url: str) -> EmailMessage:
    """The mail carrying the link to the answer."""
    owner = settings.owner.name
    return to_person(
        settings,
        to,
        "Réponse à votre demande",
        "Bonjour,\n\n"
        f"{owner} a répondu à votre demande : {TITLES[kind]}. La réponse se télécharge par "
        f"ce lien, valable {ANSWER_DAYS} jours :\n\n{url}\n",
    )


def answer_sms(settings: Settings, url: str) -> str:
    """The text carrying the link to the answer (to a request confirmed by SMS)."""
    return f"{settings.owner.name} a répondu à votre demande. Réponse ({ANSWER_DAYS} jours) : {url}"


__all__ = [
    "CODE_TEXT",
    "TITLES",
    "answer",
    "answer_mail",
    "answer_sms",
    "confirm_mail",
    "refuse",
]
