"""The notice the partner must give each person (GDPR art. 14), in French."""

from __future__ import annotations

from listguard.config import Owner
from listguard.renting.order import Order
from listguard.rules.plan import PartnerFacts

CHANNEL_LABELS = {
    "postal": "courrier postal",
    "phone": "téléphone",
    "automated_call": "automate d'appel",
    "sms": "SMS/MMS",
    "email": "courrier électronique",
}
DEADLINES = {
    "postal": "au plus tard lors du premier contact",
    "phone": "au plus tard lors du premier appel",
    "automated_call": "au plus tard lors du premier appel",
    "sms": "lors de la première communication et au plus tard dans un délai d'un mois "
    "après la réception des données",
    "email": "lors de la première communication et au plus tard dans un délai d'un mois "
    "après la réception des données",
}


def notice_text(owner: Owner, partner: PartnerFacts, order: Order) -> str:
    """The notice of one delivery, filled in from the owner's settings and the order."""
    source = owner.legal_name or owner.name
    lines = [
        f"Mention d'information à délivrer par {partner.name} aux personnes concernées",
        "(article 14 du RGPD)",
        "",
        "Texte à reprendre dans la première communication avec chaque personne :",
        "",
        f"« Vos coordonnées nous ont été transmises par {source}, auprès de qui vous les aviez",
        f"communiquées, dans le but de vous adresser des offres de {partner.name} : "
        f"{order.purpose}.",
        "Vous pouvez à tout moment vous opposer à recevoir nos sollicitations, gratuitement et",
        "sans motif, ainsi qu'exercer vos droits d'accès, de rectification et d'effacement",
        f"auprès de {partner.name}.",
    ]
    if owner.rights_contact:
        lines.append(
            f"Vous pouvez aussi vous opposer à toute transmission à des partenaires auprès de "
            f"{source} : {owner.rights_contact}."
        )
    if owner.privacy_policy_url:
        lines.append(
            f"Politique de protection des données de {source} : {owner.privacy_policy_url}."
        )
    lines += [
        "Vous pouvez introduire une réclamation auprès de la CNIL (www.cnil.fr). »",
        "",
        "Source des données : " + source + (f", {owner.address}" if owner.address else ""),
        f"Finalité : {order.purpose}",
        f"Campagne : du {order.campaign_start:%d/%m/%Y} au {order.campaign_end:%d/%m/%Y}",
        "",
        "Délai pour informer la personne, par canal loué :",
    ]
    for ch in order.channels:
        lines.append(f"  - {CHANNEL_LABELS[ch]} : {DEADLINES[ch]}")
    lines += [
        "",
        "Chaque message doit offrir un moyen simple et gratuit de s'opposer à de nouvelles",
        "sollicitations (article L34-5 du CPCE pour les SMS et courriels ; mot-clé STOP pour",
        "les SMS).",
        f"Toute opposition transmise par {source} doit être appliquée sans délai.",
    ]
    if any(ch in ("phone", "automated_call") for ch in order.channels):
        lines += [
            "Démarchage téléphonique (article D223-9 du code de la consommation, décret",
            "n° 2022-1313 ; y compris pour la presse) : appels du lundi au vendredi, hors jours",
            "fériés, de 10 h à 13 h et de 14 h à 20 h, à l'heure de la personne : heure de Paris",
            "en métropole, heure locale outre-mer (La Réunion, Mayotte, Guadeloupe, Martinique,",
            "Guyane, Saint-Pierre-et-Miquelon), dont les jours fériés propres à chaque territoire",
            "(commémoration de l'abolition de l'esclavage : Mayotte 27 avril, Martinique 22 mai,",
            "Guadeloupe 27 mai, Saint-Martin 28 mai, Guyane 10 juin, Saint-Barthélemy 9 octobre,",
            "La Réunion 20 décembre) ; au plus 4 appels ou tentatives d'appel en 30 jours par",
            "professionnel, et aucun dans les 60 jours suivant un refus. `listguard calls check`",
            "répond pour chaque numéro et chaque heure. Fichier à faire expurger par Bloctel au",
            "moins une fois par mois pendant la campagne lorsque la liste d'opposition",
            "s'applique.",
        ]
    return "\n".join(lines) + "\n"
