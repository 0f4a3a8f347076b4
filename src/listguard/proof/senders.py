"""How a request for the consent proof reaches the person: the signed link by email,
through the owner's SMTP server (``[notify]``), and the one-time code by SMS, through
the owner's SMS adapter (``[sms] provider``).

listguard ships no SMS adapter: an owner's deployment registers its provider's with
``register_sms_provider`` (a factory given the ``[sms]`` settings, returning an
``SmsSender`` whose ``send`` queues the message without waiting for delivery). With
no provider set, ``sms_sender`` gives None and the public page offers no SMS option.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from listguard.config import Settings, SmsSettings
from listguard.errors import InputError
from listguard.mail import to_person
from listguard.proof.access import LINK_DAYS, SmsSender

SmsFactory = Callable[[SmsSettings], SmsSender]
_PROVIDERS: dict[str, SmsFactory] = {}


def register_sms_provider(name: str, factory: SmsFactory) -> None:
    """Make ``[sms] provider = "<name>"`` send through the sender ``factory`` makes."""
    _PROVIDERS[name] = factory


def sms_sender(settings: SmsSettings) -> SmsSender | None:
    """The SMS adapter the settings name, or None when none is set. Raises
    ``InputError`` for a provider nobody registered."""
    if not settings.provider:
        return None
    factory = _PROVIDERS.get(settings.provider)
    if factory is None:
        known = ", ".join(sorted(_PROVIDERS)) or "none"
        raise InputError(
            f"[sms] provider = {settings.provider!r}: no such SMS adapter is installed "
            f"(installed: {known})"
        )
    return factory(settings)


def link_mail(settings: Settings, to: str, url: str) -> EmailMessage:
    """The mail carrying the link to a person's consent proof (in French, as the page)."""
    owner = settings.owner.name
    return to_person(
        settings,
        to,
        "Preuve de vos consentements",
        "Bonjour,\n\n"
        f"Vous avez demandé à {owner} la preuve des consentements et oppositions que vous "
        "avez exprimés. Le document (PDF) s'obtient par ce lien, valable "
        f"{LINK_DAYS} jours :\n\n{url}\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien n'est "
        "communiqué sans ce lien.\n",
    )


__all__ = ["SmsFactory", "link_mail", "register_sms_provider", "sms_sender"]
