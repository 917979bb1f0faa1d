"""Where a service's mails go: a mail server over SMTP, or .eml files in a folder."""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

SmtpSecurity = Literal["starttls", "tls", "none"]


class Outbox(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message over for delivery; raise OSError or SMTPException on failure."""


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
    """A mail server: STARTTLS (submission, 587), implicit TLS (465) or none (a local sink),
    and a login when configured."""

    def __init__(
        self, host: str, port: int = 587, *, starttls: bool = True,
        security: SmtpSecurity | None = None,
        username: str | None = None, password: str | None = None, timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.security: SmtpSecurity = security or ("starttls" if starttls else "none")
        self.username, self.password, self.timeout = username, password, timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
