"""The mails identity sends about an account: their French wording, and where they go.

Registration answers the same whether or not the address already has an account; the mail
tells its owner which it was.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid

import structlog

from ants_runtime.mail import MailDrop, Outbox, SmtpRelay  # noqa: F401 - re-exported

log = structlog.get_logger(__name__)


class MemoryOutbox:
    """Keeps the messages (tests, and an application built without arguments)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: Message) -> None:
        assert isinstance(message, EmailMessage)  # the account mails are composed as such
        self.messages.append(message)


ACCOUNT_CREATED = """Bonjour {given_name},

Votre compte pour la demande de duplicata de certificat d'immatriculation a été créé avec
cette adresse électronique. Vous pouvez vous connecter avec le mot de passe que vous avez
choisi.

Si vous n'êtes pas à l'origine de cette création, ignorez ce message.
"""

ALREADY_REGISTERED = """Bonjour,

Une demande de création de compte vient d'être faite avec cette adresse électronique, qui
a déjà un compte. Aucun compte n'a été créé et le vôtre n'a pas été modifié.

Si cette demande vient de vous, connectez-vous avec votre mot de passe habituel. Sinon,
vous pouvez ignorer ce message.
"""


class AccountMails:
    """What identity tells the owner of an address. A mail that cannot be sent is logged
    (without the address) and does not change the answer to the person registering."""

    def __init__(self, outbox: Outbox | None = None, sender: str = "ne-pas-repondre@ants.example") -> None:
        self.outbox = outbox if outbox is not None else MemoryOutbox()
        self.sender = sender

    def account_created(self, to: str, given_name: str) -> None:
        self._send("account_created", to, "Votre compte a été créé",
                   ACCOUNT_CREATED.format(given_name=given_name))

    def already_registered(self, to: str) -> None:
        self._send("already_registered", to, "Demande de création de compte", ALREADY_REGISTERED)

    def _send(self, kind: str, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(body)
        try:
            self.outbox.send(message)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("mail.unsent", kind=kind, error=type(error).__name__)
