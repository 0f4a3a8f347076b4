"""The words of the web pages, in French (the default) and English."""

from __future__ import annotations

LANGS = ("fr", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # key: (French, English)
    "skip": ("Aller au contenu", "Skip to content"),
    "home": ("Accueil", "Home"),
    "partners": ("Nos partenaires", "Our partners"),
    "object": ("S'opposer", "Object"),
    "rights": ("Vos droits", "Your rights"),
    "other_lang": ("English", "Français"),
    "home_title": ("Vos données et nos partenaires", "Your data and our partners"),
    "home_intro": (
        "{owner} peut transmettre vos coordonnées à des partenaires pour de la prospection, "
        "dans le respect de vos choix. Vous pouvez à tout moment consulter la liste de ces "
        "partenaires et vous opposer, sans frais et sans justification.",
        "{owner} may pass your contact details to partners for marketing, within the choices "
        "you made. You can see the list of these partners and object at any time, free of "
        "charge and without giving a reason.",
    ),
    "partners_title": ("Liste de nos partenaires", "List of our partners"),
    "partners_intro": (
        "Les organismes ci-dessous peuvent recevoir vos coordonnées, selon les choix que "
        "vous avez faits pour chaque canal.",
        "The organisations below may receive your contact details, according to the choices "
        "you made for each channel.",
    ),
    "version": ("Version {n} du {date}", "Version {n} of {date}"),
    "version_past": (
        "Version archivée {n} du {date}. La liste en vigueur est ici :",
        "Archived version {n} of {date}. The list in force is here:",
    ),
    "current_list": ("liste actuelle", "current list"),
    "name": ("Nom", "Name"),
    "category": ("Catégorie", "Category"),
    "since": ("Partenaire depuis", "Partner since"),
    "policy": ("Politique de confidentialité", "Privacy policy"),
    "categories": ("Catégories de partenaires", "Categories of partners"),
    "past_versions": ("Versions précédentes", "Previous versions"),
    "as_json": ("Cette liste au format JSON", "This list as JSON"),
    "no_partner": ("Aucun partenaire.", "No partner."),
    "object_title": ("Vous opposer à la prospection", "Object to marketing"),
    "object_intro": (
        "Indiquez l'adresse email, le numéro de téléphone ou le nom et l'adresse postale "
        "concernés, puis ce à quoi vous vous opposez. Votre opposition est prise en compte "
        "immédiatement et transmise aux partenaires qui ont reçu vos coordonnées.",
        "Give the email address, phone number, or name and postal address concerned, then "
        "what you object to. Your objection takes effect at once and is passed on to the "
        "partners that received your contact details.",
    ),
    "email": ("Adresse email", "Email address"),
    "phone": ("Numéro de téléphone", "Phone number"),
    "either": (
        "Indiquez l'un ou l'autre, ou les deux.",
        "Give one or the other, or both.",
    ),
    "by_post": (
        "Ou, si nous vous écrivons par courrier : votre nom et votre adresse postale",
        "Or, if we write to you by post: your name and postal address",
    ),
    "last_name": ("Nom", "Last name"),
    "first_name": ("Prénom", "First name"),
    "street": ("Numéro et rue (ou lieu-dit)", "Number and street (or locality)"),
    "postal_code": ("Code postal", "Postal code"),
    "city": ("Ville", "Town"),
    "bad_address": (
        "Cette adresse n'est pas reconnue : indiquez le nom, la rue, le code postal et la ville.",
        "This address is not recognised: give the name, street, postal code and town.",
    ),
    "channel": ("Pour quel canal ?", "For which channel?"),
    "ch_all": ("Tous les canaux", "Every channel"),
    "ch_postal": ("Courrier", "Post"),
    "ch_phone": ("Appels téléphoniques", "Phone calls"),
    "ch_automated_call": ("Appels automatisés", "Automated calls"),
    "ch_sms": ("SMS", "Text messages"),
    "ch_email": ("Emails", "Emails"),
    "scope": ("Envers qui ?", "Towards whom?"),
    "sc_all": ("{owner} et ses partenaires", "{owner} and its partners"),
    "sc_partners": ("Les partenaires seulement", "The partners only"),
    "sc_own": ("{owner} seulement", "{owner} only"),
    "submit_object": ("Enregistrer mon opposition", "Record my objection"),
    "object_done_title": ("Votre opposition est enregistrée", "Your objection is recorded"),
    "object_done": (
        "Elle prend effet immédiatement. Les partenaires qui ont reçu vos coordonnées en "
        "sont informés.",
        "It takes effect at once. The partners that received your contact details are told.",
    ),
    "need_identifier": (
        "Indiquez une adresse email, un numéro de téléphone, ou votre nom et votre adresse "
        "postale.",
        "Give an email address, a phone number, or your name and postal address.",
    ),
    "bad_email": ("Cette adresse email n'est pas valide.", "This email address is not valid."),
    "bad_phone": ("Ce numéro n'est pas valide.", "This phone number is not valid."),
    "bad_form": (
        "Le formulaire a expiré : rechargez la page et recommencez.",
        "The form expired: reload the page and try again.",
    ),
    "too_many": (
        "Trop de demandes depuis votre connexion : réessayez dans une minute.",
        "Too many requests from your connection: try again in a minute.",
    ),
    "ack_title": ("Accusé de réception", "Acknowledgement"),
    "ack_ask": (
        "Confirmez-vous avoir appliqué le message {message} à vos fichiers ?",
        "Do you confirm you have applied message {message} to your files?",
    ),
    "ack_button": ("Confirmer la prise en compte", "Confirm it is applied"),
    "ack_done": (
        "Merci : la prise en compte du message {message} est enregistrée.",
        "Thank you: message {message} is recorded as applied.",
    ),
    "ack_bad": (
        "Ce lien d'accusé de réception n'est pas valide.",
        "This acknowledgement link is not valid.",
    ),
    "unsub_title": ("Désinscription", "Unsubscribe"),
    "unsub_ask": (
        "Confirmez-vous ne plus recevoir de prospection par {channel} ?",
        "Do you confirm you no longer want marketing by {channel}?",
    ),
    "unsub_button": ("Me désinscrire", "Unsubscribe me"),
    "unsub_done": (
        "C'est fait : vous ne recevrez plus de prospection par {channel}.",
        "Done: you will receive no more marketing by {channel}.",
    ),
    "bad_link": (
        "Ce lien n'est pas valide. Vous pouvez vous opposer avec le formulaire :",
        "This link is not valid. You can object with the form:",
    ),
    "expired_link": (
        "Ce lien a expiré. Vous pouvez vous opposer avec le formulaire :",
        "This link has expired. You can object with the form:",
    ),
    "rights_title": ("Vos droits", "Your rights"),
    "rights_intro": (
        "Vous pouvez accéder à vos données, les faire rectifier ou effacer, et vous opposer "
        "à leur utilisation. Écrivez à {contact} ; nous répondons dans un délai d'un mois. "
        "Vous pouvez aussi adresser une réclamation à la CNIL (www.cnil.fr).",
        "You can access your data, have it corrected or erased, and object to its use. "
        "Write to {contact}; we answer within one month. You can also complain to the CNIL "
        "(www.cnil.fr).",
    ),
    "proof_title": (
        "Obtenir la preuve de mes consentements",
        "Obtain the proof of my consents",
    ),
    "proof_intro": (
        "Un document (PDF) reprend chaque consentement et chaque opposition que vous nous "
        "avez donnés : canal, portée, texte affiché, date, liste des partenaires, date "
        "d'expiration d'un consentement au démarchage téléphonique, et comment le retirer. "
        "Aucun compte n'est nécessaire.",
        "A document (PDF) lists each consent and objection you gave us: channel, scope, "
        "text shown, date, list of partners, expiry date of a consent to phone canvassing, "
        "and how to withdraw it. No account is needed.",
    ),
    "proof_by_email": (
        "Nous envoyons à cette adresse un lien valable 7 jours.",
        "We send a link valid 7 days to this address.",
    ),
    "proof_mobile": ("Ou votre numéro de mobile", "Or your mobile number"),
    "proof_by_sms": (
        "Nous envoyons à ce numéro un code à 6 chiffres, valable 10 minutes.",
        "We send a 6-digit code valid 10 minutes to this number.",
    ),
    "proof_ask": ("Recevoir le lien ou le code", "Receive the link or the code"),
    "proof_need_one": (
        "Indiquez une adresse email ou un numéro de mobile (un seul des deux).",
        "Give an email address or a mobile number (only one of them).",
    ),
    "proof_no_sms": (
        "La demande par SMS n'est pas proposée : aucun service d'envoi de SMS n'est configuré.",
        "Asking by SMS is not offered: no SMS service is set up.",
    ),
    "proof_no_email": (
        "La demande en ligne n'est pas disponible : écrivez à {contact}.",
        "Asking online is not available: write to {contact}.",
    ),
    "proof_mailed": (
        "Si cette adresse figure dans nos fichiers, un lien vers votre document vient d'y "
        "être envoyé. Il est valable 7 jours.",
        "If this address is in our files, a link to your document has just been sent to it. "
        "It is valid 7 days.",
    ),
    "proof_code_sent": (
        "Si ce numéro figure dans nos fichiers, un code à 6 chiffres vient d'y être envoyé "
        "par SMS. Il est valable 10 minutes.",
        "If this number is in our files, a 6-digit code has just been sent to it by SMS. "
        "It is valid 10 minutes.",
    ),
    "proof_code": ("Code reçu par SMS", "Code received by SMS"),
    "proof_download": ("Télécharger le document", "Download the document"),
    "proof_bad_code": (
        "Ce code n'est pas valide ou a expiré. Vous pouvez en demander un autre.",
        "This code is not valid or has expired. You may ask for another one.",
    ),
    "not_found": ("Page introuvable.", "Page not found."),
    "login": ("Connexion", "Sign in"),
    "password": ("Mot de passe", "Password"),
    "sign_in": ("Se connecter", "Sign in"),
    "sign_out": ("Se déconnecter", "Sign out"),
    "bad_login": ("Email ou mot de passe incorrect.", "Wrong email or password."),
    "sign_in_throttled": (
        "Trop de tentatives de connexion à ce compte : réessayez dans {minutes} minute(s).",
        "Too many sign-in attempts to this account: try again in {minutes} minute(s).",
    ),
    # codes in words, error pages, fields' messages (pages-words)
    "too_long": (
        "Trop long : {n} caractères au plus.",
        "Too long: {n} characters at most.",
    ),
    "errors_title": ("Le formulaire contient des erreurs :", "The form has errors:"),
    # the rights request form of the public rights page (listguard.rights_requests)
    "request_title": ("Exercer un droit sur vos données", "Exercise a right over your data"),
    "request_intro": (
        "Choisissez votre demande et donnez votre adresse email (un lien pour la confirmer "
        "vous est envoyé) ou votre numéro de mobile (un code vous est envoyé par SMS). La "
        "demande est enregistrée quand vous la confirmez ; nous y répondons dans un délai "
        "d'un mois, par un lien pour télécharger la réponse. Aucun compte n'est nécessaire.",
        "Choose your request and give your email address (a link to confirm it is sent to "
        "you) or your mobile number (a code is sent to you by SMS). The request is recorded "
        "once you confirm it; we answer within one month, with a link to download the "
        "answer. No account is needed.",
    ),
    "request_kind": ("Votre demande", "Your request"),
    "request_access": (
        "Accéder à mes données (article 15)",
        "Access my data (article 15)",
    ),
    "request_rectification": (
        "Faire rectifier mes données (article 16)",
        "Have my data corrected (article 16)",
    ),
    "request_erasure": (
        "Faire effacer mes données (article 17)",
        "Have my data erased (article 17)",
    ),
    "request_objection": (
        "M'opposer à l'utilisation de mes données (article 21)",
        "Object to the use of my data (article 21)",
    ),
    "request_portability": (
        "Recevoir mes données dans un format réutilisable (article 20)",
        "Receive my data in a reusable format (article 20)",
    ),
    "request_proof": ("Obtenir la preuve de mes consentements", "Obtain the proof of my consents"),
    "request_field": (
        "Pour une rectification : la donnée à corriger",
        "For a correction: the data to correct",
    ),
    "request_value": (
        "Pour une rectification : la valeur exacte",
        "For a correction: the right value",
    ),
    "request_channel": ("Pour une opposition : le canal", "For an objection: the channel"),
    "request_by_email": (
        "Un lien pour confirmer votre demande vous est envoyé, valable 7 jours.",
        "A link to confirm your request is sent to you, valid 7 days.",
    ),
    "request_by_sms": (
        "Un code pour confirmer votre demande vous est envoyé par SMS.",
        "A code to confirm your request is sent to you by SMS.",
    ),
    "request_send": ("Envoyer ma demande", "Send my request"),
    "request_need_one": (
        "Donnez votre adresse email ou votre numéro de mobile (l'un des deux).",
        "Give your email address or your mobile number (one of them).",
    ),
    "request_bad_field": ("Choisissez la donnée à corriger.", "Choose the data to correct."),
    "request_need_value": (
        "Pour une rectification, choisissez la donnée et donnez la valeur exacte "
        "(200 caractères au plus).",
        "For a correction, choose the data and give the right value (200 characters at most).",
    ),
    "request_mailed": (
        "Si cette adresse figure dans nos fichiers, un message vient de vous être envoyé "
        "avec un lien pour confirmer votre demande, valable 7 jours. Rien n'est enregistré "
        "sans cette confirmation.",
        "If this address is in our files, a message has just been sent to you with a link "
        "to confirm your request, valid 7 days. Nothing is recorded without this "
        "confirmation.",
    ),
    "request_code_sent": (
        "Si ce numéro figure dans nos fichiers, un code vient de vous être envoyé par SMS. "
        "Il est valable 10 minutes.",
        "If this number is in our files, a code has just been sent to you by SMS. It is "
        "valid 10 minutes.",
    ),
    "request_confirm_intro": (
        "Confirmez cette demande pour qu'elle soit enregistrée.",
        "Confirm this request for it to be recorded.",
    ),
    "request_confirm": ("Confirmer ma demande", "Confirm my request"),
    "request_done": (
        "Votre demande n° {number} est enregistrée. Nous y répondrons au plus tard le {due} ; "
        "vous recevrez un lien pour télécharger la réponse.",
        "Your request no. {number} is recorded. We will answer it by {due} at the latest; "
        "you will receive a link to download the answer.",
    ),
    "field_civility": ("Civilité", "Title"),
    "field_first_name": ("Prénom", "First name"),
    "field_last_name": ("Nom", "Last name"),
    "field_company": ("Société", "Company"),
    "field_address_line2": ("Adresse (ligne 2)", "Address (line 2)"),
    "field_address_line3": ("Adresse (ligne 3)", "Address (line 3)"),
    "field_address_line4": ("Adresse (ligne 4)", "Address (line 4)"),
    "field_address_line5": ("Adresse (ligne 5)", "Address (line 5)"),
    "field_postal_code": ("Code postal", "Postcode"),
    "field_city": ("Commune", "Town"),
    "field_country": ("Pays", "Country"),
    "field_phone": ("Téléphone", "Phone"),
    "field_mobile": ("Mobile", "Mobile"),
    "field_email": ("Adresse email", "Email address"),
    "field_birth_date": ("Date de naissance", "Date of birth"),
}


def text_for(lang: str, key: str, **values: str) -> str:
    pair = _TEXT.get(key)
    if pair is None:
        return key
    template = pair[1] if lang == "en" else pair[0]
    return template.format(**values) if values else template


__all__ = ["LANGS", "text_for"]
