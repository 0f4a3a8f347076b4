"""The consent proof as a PDF in French, for the person (a durable medium).

It carries the same facts as the JSON (``listguard.proof.facts``), the owner's name,
the date of issue, and the SHA-256 of the JSON text so that the two documents are
tied: whoever holds both can check the PDF says what the JSON says.

The PDF uses the standard Helvetica font (no font file to ship), which prints the
Windows-1252 characters: every French letter, the typographic apostrophe and quotes,
œ and €. A character outside it (a Polish ł, a Chinese name) is never dropped
silently: it is printed as its closest letter when it has one (ł as l), else as its
code point (<U+4E2D>), and the document lists each such character, saying that the
JSON, which holds the exact text, prevails.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from listguard.proof.facts import Choice, ConsentProof, json_sha256

ENCODING = "windows-1252"
_NEAREST = {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss"}

_CHANNELS = {
    "postal": "courrier postal",
    "phone": "téléphone",
    "automated_call": "automate d'appel",
    "sms": "SMS",
    "email": "email",
    "all": "tous canaux",
}
_KINDS = {
    "consent": "Consentement",
    "objection": "Refus exprimé à la collecte",
    "opposition": "Opposition",
}
_VIAS = {
    "web_form": "formulaire en ligne",
    "email_link": "lien dans un email",
    "sms_stop": "réponse STOP par SMS",
    "letter": "courrier",
    "phone": "téléphone",
    "api": "interface de programmation",
}


def _scope(scope: str) -> str:
    if scope == "partners":
        return "nos partenaires"
    if scope == "own":
        return "nous-mêmes"
    if scope == "all":
        return "nous-mêmes et nos partenaires"
    if scope.startswith("partner:"):
        return f"le partenaire {scope.split(':', 1)[1]}"
    return scope


def _day(iso: str) -> str:
    """2026-11-20T10:15:00+01:00 as 20/11/2026 à 10:15 (heure de Paris)."""
    date, _, time = iso.partition("T")
    y, m, d = date.split("-")
    return f"{d}/{m}/{y} à {time[:5]}" if time else f"{d}/{m}/{y}"


class _Printable:
    """Makes text printable in the standard font, remembering what it had to change."""

    def __init__(self) -> None:
        self.changed: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        out = []
        for ch in value:
            try:
                ch.encode(ENCODING)
                out.append(ch)
                continue
            except UnicodeEncodeError:
                pass
            base = _NEAREST.get(ch) or "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            try:
                base.encode(ENCODING)
            except UnicodeEncodeError:
                base = ""
            shown = base or f"<U+{ord(ch):04X}>"
            self.changed[ch] = shown
            out.append(shown)
        return "".join(out)


def _choice_lines(c: Choice) -> Iterable[str]:
    title = f"{_KINDS[c.kind]} - {_CHANNELS.get(c.channel, c.channel)}, pour {_scope(c.scope)}"
    yield title
    yield f"Date et heure : {_day(c.given_at)} (heure de Paris)"
    if c.source == "collection":
        yield "Recueilli lors de la collecte de vos coordonnées" + (
            f" ({c.collection_source})" if c.collection_source else ""
        )
    elif c.via:
        yield f"Reçu par : {_VIAS.get(c.via, c.via)}"
    if c.contact_id:
        yield f"Fiche : {c.contact_id}"
    if c.notice_version:
        yield f"Texte d'information présenté : version {c.notice_version}"
    if c.notice_sha256:
        yield "Empreinte SHA-256 de ce texte :"
        yield f"  {c.notice_sha256}"
    if c.ip:
        yield f"Adresse IP : {c.ip}"
    if c.user_agent:
        yield f"Navigateur : {c.user_agent}"
    if c.partner_list is not None:
        pl = c.partner_list
        how = "enregistrée par le formulaire" if pl.recorded else "en vigueur à cette date"
        yield f"Liste des partenaires présentée : version {pl.version} ({how})"
        if not pl.partners:
            yield "  (aucun partenaire publié dans cette version)"
        for p in pl.partners:
            yield f"  - {p.name} ({p.category})"
    if c.valid_until:
        yield (
            f"Ce consentement vaut jusqu'au {_day(c.valid_until)} inclus ; "
            "il n'est jamais renouvelé tacitement."
        )


def proof_pdf(proof: ConsentProof, json_text: str) -> bytes:
    """The PDF of ``proof``; ``json_text`` is its JSON (``proof_json``) as given to the
    person, whose SHA-256 the PDF prints."""
    printable = _Printable()
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_title(printable(f"Preuve de vos consentements - {proof.owner.name}"))
    pdf.set_author(printable(proof.owner.legal_name))
    pdf.set_creator("listguard")
    # dated when issued: the same facts issued at the same instant make the same file
    pdf.set_creation_date(dt.datetime.fromisoformat(proof.issued_at))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()

    def line(value: str, size: float = 10, style: str = "", gap: float = 0) -> None:
        pdf.set_font("helvetica", style, size)
        pdf.multi_cell(0, size * 0.5, printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if gap:
            pdf.ln(gap)

    line("Preuve de vos consentements et oppositions", 16, "B", 2)
    line(f"Délivrée par {proof.owner.legal_name}", 11, "B")
    if proof.owner.address:
        line(proof.owner.address)
    line(f"Date de délivrance : {_day(proof.issued_at)} (heure de Paris)", gap=2)
    named = [v for v in proof.person.values() if v]
    line(f"Personne concernée : {', '.join(named)}")
    line(f"Fiches correspondantes : {', '.join(proof.contacts)}", gap=3)
    line(
        "Ce document reprend, pour chacun de vos choix, le texte d'information qui vous a "
        "été présenté (sa version et son empreinte), la date et l'heure, et, lorsqu'ils ont "
        "été enregistrés, l'adresse IP et le navigateur utilisés. Il vous est remis "
        "gratuitement, sans création de compte.",
        9,
        gap=3,
    )
    if proof.phone_consent_max_age_days:
        line(
            "Un consentement au démarchage téléphonique vaut au plus "
            f"{proof.phone_consent_max_age_days} jours et n'est jamais renouvelé tacitement.",
            9,
            gap=3,
        )
    line("Vos choix", 13, "B", 1)
    if not proof.choices:
        line("Aucun consentement ni opposition n'est enregistré.", gap=2)
    for c in proof.choices:
        for i, text in enumerate(_choice_lines(c)):
            line(text, 10, "B" if i == 0 else "")
        pdf.ln(3)
    line("Retirer votre consentement", 13, "B", 1)
    w = proof.withdrawal
    line(
        "Vous pouvez retirer votre consentement à tout moment, aussi simplement que vous "
        "l'avez donné, y compris oralement."
    )
    if w.opposition_page:
        line(f"En ligne : {w.opposition_page}")
    if w.rights_contact:
        line(f"Contact : {w.rights_contact}")
    if w.privacy_policy_url:
        line(f"Politique de confidentialité : {w.privacy_policy_url}")
    pdf.ln(3)
    line("Document lié", 13, "B", 1)
    line(
        "Ce document est accompagné du même contenu au format JSON. Empreinte SHA-256 du "
        "fichier JSON :",
        9,
    )
    pdf.set_font("courier", "", 9)
    pdf.multi_cell(0, 4.5, json_sha256(json_text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if printable.changed:
        pdf.ln(3)
        line(
            "Certains caractères ne peuvent être imprimés dans ce document ; ils sont "
            "transcrits ainsi (le fichier JSON, qui contient le texte exact, fait foi) : "
            + ", ".join(
                f"U+{ord(ch):04X} -> {shown}" for ch, shown in sorted(printable.changed.items())
            ),
            8,
        )
    return bytes(pdf.output())


__all__ = ["proof_pdf"]
