"""The mails identity sends about an account: their French wording, and where they go.

Registration answers the same whether or not the address already has an account; the mail
tells its owner which it was.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class Outbox(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message over for delivery; raise OSError or SMTPException on failure."""


class MemoryOutbox:
    """Keeps the messages (tests, and an application built without arguments)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


class MailDrop:
    """Writes each message as an .eml file in a folder only the service's user can read: the
    embedded default, where no mail server exists (read the demo's mails there)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        descriptor = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(message.as_bytes())


class SmtpRelay:
    """A mail server (STARTTLS and login when configured)."""

    def __init__(
        self, host: str, port: int = 587, *, starttls: bool = True,
        username: str | None = None, password: str | None = None, timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password, self.timeout = username, password, timeout

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


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
