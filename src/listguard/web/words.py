"""The registry's codes in words, in French and English, in one place: the pages show
``retention_expired`` as "Durée de conservation dépassée", ``web_form`` as
"formulaire web", ``pending`` as "en attente d'envoi".

Each kind of code takes its list of codes from where the code is defined (the domain's
``Literal`` types, the rules' reasons table, the registry's message states...): a code
added there without its words here fails ``tests/test_web_words.py``. A page shows a
code with the ``words`` filter, registered once on the templates
(``{{ e.via | words("via") }}``); a code with no words is shown as it is.

The reasons' meanings in English and their legal sources are the rules' own table
(``rules.reasons.REASONS``); only their French words are written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from listguard.db.schema import KEY_ROLES, MESSAGE_STATES, ROLES
from listguard.domain.partner_rows import SECTORS
from listguard.domain.vocabulary import EVENT_CHANNELS, EVENT_KINDS, PROPAGATED, SCOPE_KINDS, VIAS
from listguard.reads import PartnerState
from listguard.rules.offers import OFFERS
from listguard.rules.reasons import REASONS, Reason
from listguard.web.i18n import text_for

Pair = tuple[str, str]  # (French, English)

# the codes of each kind, from where they are defined
CODES: dict[str, tuple[str, ...]] = {
    "channel": tuple(EVENT_CHANNELS),
    "scope": tuple(SCOPE_KINDS),
    "via": tuple(VIAS),
    "event": tuple(dict.fromkeys((*EVENT_KINDS, *PROPAGATED))),
    "status": tuple(MESSAGE_STATES),
    "sector": tuple(SECTORS),
    "offer": tuple(OFFERS),
    "partner_state": tuple(get_args(PartnerState)),
    "role": (*ROLES, *KEY_ROLES),
    "reason": tuple(r.code for r in REASONS),
}

_REASONS: dict[str, tuple[Pair, str]] = {
    # code: ((short French label, short English label), French meaning)
    "missing_coordinate": (
        ("Coordonnée absente", "No coordinate"),
        "Le contact n'a pas de coordonnée pour ce canal.",
    ),
    "invalid_coordinate": (
        ("Coordonnée invalide", "Invalid coordinate"),
        "La coordonnée est présente mais invalide (numéro illisible ou impossible, adresse "
        "email mal formée, adresse incomplète ou code postal qui n'existe pas).",
    ),
    "wrong_line_type": (
        ("Pas une ligne mobile", "Not a mobile line"),
        "Un SMS ne peut être envoyé qu'à une ligne mobile.",
    ),
    "banned_offer": (
        ("Offre interdite de démarchage", "Offer banned from canvassing"),
        "La loi interdit de démarcher les consommateurs pour cette offre sur ce canal, quel "
        "que soit leur choix, à un jour de la fenêtre de campagne.",
    ),
    "retention_expired": (
        ("Durée de conservation dépassée", "Retention period over"),
        "La dernière activité de la personne est plus ancienne que la durée de conservation, "
        "comptée depuis la date de décision.",
    ),
    "no_information_proof": (
        ("Pas de preuve d'information", "No proof the person was informed"),
        "Canal à opposition (opt-out), et aucune preuve que la personne a été informée de la "
        "transmission à des partenaires.",
    ),
    "objected_at_collection": (
        ("Opposition dès la collecte", "Objected at collection"),
        "Canal à opposition (opt-out), et la personne s'est opposée à la transmission à des "
        "partenaires lors de la collecte.",
    ),
    "no_consent": (
        ("Pas de consentement", "No consent"),
        "Canal à consentement (opt-in), et la personne n'a pas consenti à la transmission à "
        "des partenaires.",
    ),
    "consent_expired": (
        ("Consentement expiré", "Consent expired"),
        "Le consentement est plus ancien que sa durée maximale à un jour de la fenêtre de "
        "campagne.",
    ),
    "partner_not_disclosed": (
        ("Partenaire non présenté", "Partner not disclosed"),
        "Le partenaire (opt-in) ou sa catégorie (opt-out) n'a pas été présenté à la personne.",
    ),
    "opposed": (
        ("Opposition reçue", "Objected"),
        "La personne s'est opposée (ou a demandé l'effacement) après la collecte, pour ce "
        "canal et ce partenaire.",
    ),
    "suppressed": (
        ("Liste d'exclusion", "On a suppression list"),
        "La coordonnée figure sur une liste d'exclusion active (décès, n'habite pas à "
        "l'adresse indiquée, listes de type Robinson, liste d'exclusion du partenaire).",
    ),
    "bloctel_unscreened": (
        ("Non filtré par Bloctel", "Not screened against Bloctel"),
        "Le filtrage Bloctel est obligatoire et le numéro n'a pas de résultat dans la période "
        "de validité.",
    ),
    "bloctel_listed": (
        ("Inscrit sur Bloctel", "Registered on Bloctel"),
        "Le numéro est inscrit sur Bloctel et aucune exception ne s'applique.",
    ),
    "duplicate": (
        ("Doublon", "Duplicate"),
        "La même coordonnée est déjà livrée dans cette commande pour un autre contact.",
    ),
    "over_limit": (
        ("Au-delà de la limite", "Over the limit"),
        "Éligible, mais la limite de la commande est atteinte.",
    ),
}

WORDS: dict[str, dict[str, Pair]] = {
    # the forms' words for the channels (``ch_*`` of ``i18n``), lower-cased in a table
    "channel": {c: (text_for("fr", f"ch_{c}"), text_for("en", f"ch_{c}")) for c in EVENT_CHANNELS},
    "scope": {
        "all": ("responsable et partenaires", "owner and partners"),
        "partners": ("partenaires", "partners"),
        "own": ("responsable seulement", "owner only"),
    },
    "via": {
        "web_form": ("formulaire web", "web form"),
        "email_link": ("lien de désinscription d'un email", "unsubscribe link in an email"),
        "sms_stop": ("STOP par SMS", "STOP by text message"),
        "letter": ("courrier", "letter"),
        "phone": ("téléphone", "phone"),
        "api": ("API (systèmes du responsable)", "API (the owner's systems)"),
    },
    "event": {
        "consent": ("consentement", "consent"),
        "opposition": ("opposition", "opposition"),
        "informed_partner_list": (
            "information (liste des partenaires)",
            "informed (list of partners)",
        ),
        "interaction": ("interaction", "interaction"),
        "erasure": ("effacement", "erasure"),
        "rectification": ("rectification", "rectification"),
    },
    "status": {
        "pending": ("en attente d'envoi", "waiting to be sent"),
        "sent": ("envoyé, accusé attendu", "sent, awaiting acknowledgement"),
        "acknowledged": ("accusé reçu", "acknowledged"),
        "failed": ("échec de l'envoi", "sending failed"),
    },
    "sector": {
        "commercial": ("commercial", "commercial"),
        "press": ("presse", "press"),
        "public_service": ("service public", "public service"),
        "polling": ("sondages", "polling"),
        "non_profit": ("association (sans but lucratif)", "non-profit"),
    },
    "offer": {
        "general": ("offre générale", "general offer"),
        "energy_renovation": ("rénovation énergétique", "energy renovation"),
        "home_adaptation": (
            "adaptation du logement (âge, handicap)",
            "home adaptation (old age, disability)",
        ),
    },
    "partner_state": {
        "listed": ("listé", "listed"),
        "future": ("à venir", "to come"),
        "delisted": ("retiré", "delisted"),
    },
    "role": {
        "admin": ("administrateur", "admin"),
        "operator": ("opérateur", "operator"),
        "partner": ("partenaire", "partner"),
        "machine": ("systèmes du responsable", "the owner's systems"),
    },
    "reason": {code: pair for code, (pair, _meaning) in _REASONS.items()},
    # why a request was refused: the reasons the handlers name (``Web.refused``, the
    # partner side's ``Refused``), else the answer's HTTP status (``HTTP``)
    "refusal": {
        "no_api_key": ("appel de l'API sans clé", "API call without a key"),
        "bad_api_key": ("clé d'API inconnue ou révoquée", "unknown or revoked API key"),
        "bad_unsubscribe_link": ("lien de désinscription non valide", "invalid unsubscribe link"),
        "expired_unsubscribe_link": (
            "lien de désinscription expiré",
            "expired unsubscribe link",
        ),
        "bad_ack_link": ("lien d'accusé de réception non valide", "invalid acknowledgement link"),
        "bad_proof_code": ("code de preuve erroné ou expiré", "wrong or expired proof code"),
        "bad_proof_link": ("lien de preuve non valide ou expiré", "invalid or expired proof link"),
        "not_a_number": ("numéro d'appel non valide", "invalid phone number in a call"),
        "bad_instant": ("date d'appel non valide", "invalid call time"),
        "too_many": ("trop de demandes d'un même client", "too many requests from one client"),
        "bad_login": (
            "connexion refusée (mauvais identifiants)",
            "sign-in refused (wrong details)",
        ),
        "sign_in_throttled": (
            "connexion bloquée (trop de tentatives)",
            "sign-in blocked (too many attempts)",
        ),
        "malformed_body": (
            "message d'un partenaire mal formé",
            "malformed message from a partner",
        ),
        "unknown_source": ("message d'une source inconnue", "message from an unknown source"),
        "nul_character": ("caractère NUL dans la demande", "NUL character in the request"),
        "covers_no_contact": (
            "opposition qui ne couvre aucun contact",
            "opposition that covers no contact",
        ),
        "not_a_stop_word": ("réponse SMS qui n'est pas un STOP", "SMS reply that is not a STOP"),
        "invalid_parameter": (
            "page demandée avec une valeur non valide",
            "page asked with a value that is not valid",
        ),
        "bad_signature": (
            "message à la signature fausse ou expirée",
            "message with a bad or expired signature",
        ),
        "bad_request_link": (
            "lien de confirmation d'une demande non valide ou expiré",
            "invalid or expired link confirming a request",
        ),
        "bad_answer_link": (
            "lien de réponse à une demande non valide ou expiré",
            "invalid or expired link to a request's answer",
        ),
    },
    # the audit log's actions (``audit.append(conn, "action", ...)`` across the code)
    "audit": {
        "access_request": ("demande d'accès", "access request"),
        "account_added": ("compte créé", "account added"),
        "account_disabled": ("compte désactivé", "account disabled"),
        "api_key_created": ("clé d'API créée", "API key created"),
        "api_key_revoked": ("clé d'API révoquée", "API key revoked"),
        "audit_redacted": ("anciennes entrées caviardées", "earlier entries redacted"),
        "calls_delivery_received": ("appels d'un partenaire reçus", "a partner's calls received"),
        "calls_logged": ("appels enregistrés", "calls logged"),
        "clusters_computed": ("regroupement des personnes calculé", "clusters computed"),
        "collection": ("collecte", "collection"),
        "consent_proof": ("preuve des consentements délivrée", "consent proof issued"),
        "erasure": ("effacement", "erasure"),
        "events_imported": ("événements importés", "events imported"),
        "inbound_message": ("message reçu d'un partenaire", "message received from a partner"),
        "inbound_source": ("source de messages réglée", "message source set"),
        "message_acknowledged": ("message accusé", "message acknowledged"),
        "message_failed": ("échec de l'envoi d'un message", "message failed"),
        "messages_queued": ("messages mis en file", "messages queued"),
        "messages_sent": ("messages envoyés", "messages sent"),
        "opposition_recorded": ("opposition enregistrée", "opposition recorded"),
        "partner_changed": ("partenaire modifié", "partner changed"),
        "partner_endpoint": ("adresses de notification du partenaire", "partner's endpoints"),
        "partner_new": ("partenaire ajouté", "partner added"),
        "partner_unchanged": ("partenaire enregistré sans changement", "partner saved unchanged"),
        "rectification": ("rectification", "rectification"),
        "signed_in": ("connexion", "signed in"),
        "decision_explained": (
            "décision expliquée (API du responsable)",
            "decision explained (owner API)",
        ),
        "rental_previewed": ("location prévisualisée", "rental previewed"),
        "rental_delivered": ("location livrée", "rental delivered"),
        "delivery_file_read": ("fichier de livraison téléchargé", "delivery file downloaded"),
        "rights_request_received": ("demande de droits reçue", "rights request received"),
        "rights_request_in_progress": ("demande de droits prise en charge", "rights request taken"),
        "rights_request_answered": ("réponse à une demande de droits", "rights request answered"),
        "rights_request_refused": ("demande de droits refusée", "rights request refused"),
        "rights_request_extended": (
            "prolongation du délai d'une demande de droits décidée",
            "rights request's deadline extension decided",
        ),
        "rights_request_extension_told": (
            "personne avisée de la prolongation du délai de sa demande",
            "person told of their request's deadline extension",
        ),
    },
    # the back office's error details (a handler's ``HTTPException``, written in English)
    "detail": {
        "no such delivery": ("cette livraison n'existe pas", "no such delivery"),
        "no such file": ("ce fichier n'existe pas", "no such file"),
        "this delivery's files are no longer kept": (
            "les fichiers de cette livraison ne sont plus conservés",
            "this delivery's files are no longer kept",
        ),
        "nobody held under this identifier": (
            "personne n'est détenu sous cet identifiant",
            "nobody held under this identifier",
        ),
        "no enabled account with this email": (
            "aucun compte actif avec cet email",
            "no enabled account with this email",
        ),
        "no live key with this prefix": (
            "aucune clé en service avec ce préfixe",
            "no live key with this prefix",
        ),
        "this page is for the owner's admins": (
            "cette page est réservée aux administrateurs",
            "this page is for the owner's admins",
        ),
        "the form expired: reload the page": (
            "le formulaire a expiré : rechargez la page",
            "the form expired: reload the page",
        ),
        "no such opposition": ("cette opposition n'existe pas", "no such opposition"),
        "no message to this partner": (
            "aucun message à ce partenaire",
            "no message to this partner",
        ),
        "no such request": ("cette demande n'existe pas", "no such request"),
        "no extension waiting to be told": (
            "aucune prolongation n'attend d'être annoncée",
            "no extension waiting to be told",
        ),
        "no answer kept for this request": (
            "aucune réponse n'est conservée pour cette demande",
            "no answer kept for this request",
        ),
        "within must be a number of days between 1 and 3660": (
            "le nombre de jours doit être compris entre 1 et 3660",
            "within must be a number of days between 1 and 3660",
        ),
    },
}

# an HTTP status in words: the error pages' title and explanation, a refusal's reason
HTTP: dict[int, tuple[Pair, Pair]] = {
    400: (
        ("Demande non valide", "Invalid request"),
        (
            "La demande contient une valeur qui n'est pas valide.",
            "The request holds a value that is not valid.",
        ),
    ),
    401: (
        ("Identification requise", "Identification required"),
        (
            "Cette adresse demande une clé ou une connexion.",
            "This address needs a key or a sign-in.",
        ),
    ),
    403: (
        ("Accès refusé", "Access refused"),
        (
            "Vous n'avez pas le droit d'ouvrir cette page, ou le formulaire a expiré : "
            "rechargez la page.",
            "You may not open this page, or the form expired: reload the page.",
        ),
    ),
    404: (
        ("Page introuvable", "Page not found"),
        ("Cette adresse ne correspond à aucune page.", "No page is at this address."),
    ),
    405: (
        ("Méthode non acceptée", "Method not allowed"),
        ("Cette adresse ne s'ouvre pas ainsi.", "This address cannot be opened this way."),
    ),
    409: (
        ("Conflit", "Conflict"),
        ("La demande contredit une demande précédente.", "The request contradicts an earlier one."),
    ),
    410: (
        ("Plus disponible", "No longer available"),
        (
            "Ce qui était à cette adresse n'est plus conservé.",
            "What was at this address is no longer kept.",
        ),
    ),
    413: (
        ("Demande trop volumineuse", "Request too large"),
        ("La demande dépasse la taille acceptée.", "The request is larger than accepted."),
    ),
    422: (
        ("Demande non valide", "Invalid request"),
        (
            "La demande contient une valeur qui n'est pas valide.",
            "The request holds a value that is not valid.",
        ),
    ),
    429: (
        ("Trop de demandes", "Too many requests"),
        (
            "Trop de demandes depuis votre connexion : réessayez dans une minute.",
            "Too many requests from your connection: try again in a minute.",
        ),
    ),
    500: (
        ("Erreur du serveur", "Server error"),
        (
            "Une erreur nous empêche de répondre. Elle est enregistrée ; réessayez plus tard.",
            "An error keeps us from answering. It is logged; try again later.",
        ),
    ),
}


def _pick(pair: Pair, lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def words(code: Any, kind: str, lang: str) -> str:
    """``code`` of ``kind`` in words in ``lang`` (a list or tuple of codes: their words,
    comma-separated); a code with no words is shown as it is."""
    if isinstance(code, list | tuple):
        return ", ".join(words(c, kind, lang) for c in code)
    text = "" if code is None else str(code)
    pair = WORDS.get(kind, {}).get(text)
    if pair is not None:
        return _pick(pair, lang)
    if kind in ("scope", "via") and text.startswith("partner:"):
        partner = text.partition(":")[2]
        if kind == "scope":
            return f"{_pick(('partenaire', 'partner'), lang)} {partner}"
        return f"{_pick(('transmise par le partenaire', 'forwarded by partner'), lang)} {partner}"
    if kind == "refusal" and text.isdigit() and int(text) in HTTP:
        return f"{text} · {_pick(HTTP[int(text)][0], lang).lower()}"
    return text


def http_words(status: int, lang: str) -> tuple[str, str]:
    """An HTTP status's title and explanation in ``lang`` (a status with none of its
    own takes its class's: 4xx a request not valid, 5xx a server error)."""
    title, text = HTTP.get(status) or HTTP[500 if status >= 500 else 400]
    return _pick(title, lang), _pick(text, lang)


@dataclass(frozen=True)
class ReasonEntry:
    """A reason of the legend: its code, its words, its meaning and legal source."""

    code: str
    label: str
    meaning: str
    source: str


def legend(lang: str) -> list[ReasonEntry]:
    """Every reason, in the order of the rules, with its meaning and legal source (the
    rules' own table; the French meaning is written above)."""

    def meaning(reason: Reason) -> str:
        if lang == "en" or reason.code not in _REASONS:
            return reason.rule[:1].upper() + reason.rule[1:] + "."
        return _REASONS[reason.code][1]

    return [
        ReasonEntry(r.code, words(r.code, "reason", lang), meaning(r), r.source) for r in REASONS
    ]


def missing(codes: Mapping[str, Iterable[str]] = CODES) -> list[str]:
    """``kind:code`` for each code of ``codes`` without words in both languages."""
    return [
        f"{kind}:{code}"
        for kind, listed in codes.items()
        for code in listed
        if not all(WORDS.get(kind, {}).get(code, ("", "")))
        or (kind == "reason" and not _REASONS.get(code, (("", ""), ""))[1])
    ]


@pass_context
def _words_filter(context: Context, code: Any, kind: str) -> str:
    return words(code, kind, str(context.get("lang", "fr")))


def install(env: Environment) -> None:
    """Register the ``words`` filter on the templates' environment."""
    env.filters["words"] = _words_filter


__all__ = [
    "CODES",
    "HTTP",
    "WORDS",
    "ReasonEntry",
    "http_words",
    "install",
    "legend",
    "missing",
    "words",
]
