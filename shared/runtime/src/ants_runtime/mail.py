"""Where a service's mails go: a mail server over SMTP, or .eml files in a folder.

`SmtpRelay` sends from a worker thread (identity: its mails go out within a command that
hashes a password there); `AsyncSmtpRelay` from the event loop (notifications: its queue
is worked there), so that a mail costs no thread hand-off.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import threading
import uuid
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

SmtpSecurity = Literal["starttls", "tls", "none"]


class Outbox(Protocol):
    def send(self, message: Message) -> None:
        """Hand the message over for delivery; raise OSError or SMTPException on failure."""


class AsyncOutbox(Protocol):
    async def deliver(self, message: Message) -> None:
        """Hand the message over for delivery; raise RecipientRefused when the server refuses
        its address, OSError or SMTPException on any other failure."""


class RecipientRefused(Exception):
    """The mail server refused the recipient's address: sending again would not help."""


class MailDrop:
    """Writes each message as an .eml file in a folder only the service's user can read: the
    embedded default, where no mail server exists (read the demo's mails there)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        descriptor = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(message.as_bytes())

    async def deliver(self, message: Message) -> None:
        self.send(message)  # a small local file: no reason to leave the loop


class SmtpRelay:
    """A mail server: STARTTLS (submission, 587), implicit TLS (465) or none (a local sink),
    and a login when configured.

    One connection is kept open and used for every message, as mail clients do: opening one
    (TCP, TLS handshake, EHLO, login) costs many times the message itself. A connection the
    server closed meanwhile (idle time-out, restart) is opened again once; any other failure
    closes it and is raised, so that the caller tries the message again later.
    """

    def __init__(
        self, host: str, port: int = 587, *, starttls: bool = True,
        security: SmtpSecurity | None = None,
        username: str | None = None, password: str | None = None, timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.security: SmtpSecurity = security or ("starttls" if starttls else "none")
        self.username, self.password, self.timeout = username, password, timeout
        self._context: ssl.SSLContext | None = None
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            while True:
                reused = self._smtp is not None
                try:
                    self._connection().send_message(message)
                    return
                except smtplib.SMTPRecipientsRefused:
                    raise  # the connection is still good: the server refused this address
                except (OSError, smtplib.SMTPException) as error:
                    self.close()
                    # Only a kept connection the server had closed is tried again (once: the
                    # next one is new).
                    if not (reused and isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError)):
                        raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        if self._context is None and self.security != "none":
            self._context = ssl.create_default_context()  # reads the system's certificates
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._context)
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp


class AsyncSmtpRelay:
    """SmtpRelay for the event loop (aiosmtplib): the same security modes, the one kept
    connection, the same rule for trying again."""

    def __init__(
        self, host: str, port: int = 587, *, security: SmtpSecurity = "starttls",
        username: str | None = None, password: str | None = None, timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._context: ssl.SSLContext | None = None
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def deliver(self, message: Message) -> None:
        async with self._lock:
            while True:
                reused = self._smtp is not None and self._smtp.is_connected
                try:
                    await (await self._connection()).send_message(message)
                    return
                except aiosmtplib.SMTPRecipientsRefused as error:
                    raise RecipientRefused(str(error)) from error  # the connection is still good
                except (OSError, aiosmtplib.SMTPException) as error:
                    await self.close()
                    if not (reused and isinstance(error, aiosmtplib.SMTPServerDisconnected | ConnectionError)):
                        raise

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                await smtp.quit()
            except (OSError, aiosmtplib.SMTPException):
                smtp.close()

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        if self._context is None and self.security != "none":
            self._context = ssl.create_default_context()  # reads the system's certificates
        smtp = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout,
            use_tls=self.security == "tls", start_tls=self.security == "starttls",
            tls_context=self._context,
        )
        await smtp.connect()
        try:
            if self.username:
                await smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp
