"""Sending one email through the owner's SMTP server (``[notify]``): the partners'
digests of oppositions and the links persons ask for to obtain their consent proof."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage

from listguard.config import NotifySettings


def send_mail(settings: NotifySettings, mail: EmailMessage) -> None:
    """Hand ``mail`` to the SMTP server of ``settings`` (STARTTLS and login as set);
    raises ``smtplib.SMTPException`` or ``OSError`` when it cannot be reached or refuses."""
    password = os.environ.get(settings.smtp_password_env, "")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, password)
        smtp.send_message(mail)


__all__ = ["send_mail"]
