"""Notifications use cases: follow accounts and dossiers, queue a mail per notable event,
send the queue."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError

from ants_runtime.inbound import NotReady
from ants_runtime.mail import AsyncOutbox, RecipientRefused
from ants_runtime.sealed import Opener, SealError
from ants_runtime.store import ServiceApplication, retry_on_conflict
from notifications_service import wording
from notifications_service.domain.model import DossierContact, Mail, Recipient

log = structlog.get_logger(__name__)
Aggregates = list[Any]
# An address we write to: one mailbox, no display name, nothing a header could break on.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP  # bodies stay readable in the raw message


def _text_part(subtype: str, body: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, UTF8_QP)
    return part


class NotificationsApplication(ServiceApplication):
    name = "notifications"

    def __init__(
        self, env: dict[str, str] | None = None, *, outbox: AsyncOutbox | None = None,
        opener: Opener | None = None, portal_url: str = "http://127.0.0.1:8000",
        sender: str = "ne-pas-repondre@ants.example",
    ) -> None:
        super().__init__(env)
        self.outbox, self.opener = outbox, opener
        self.portal_url = portal_url.rstrip("/")
        self.sender = sender

    # --- inbound facts: each returns what to save with the event's tracking row -------------

    def record_recipient(self, account_id: UUID, sealed_address: str | None) -> Aggregates:
        if self._find(Recipient.create_id(account_id)) is not None:
            return []
        return [Recipient(account_id, sealed_address)]

    def record_dossier(self, dossier_id: UUID, account_id: UUID, number: str) -> Aggregates:
        if self._find(DossierContact.create_id(dossier_id)) is not None:
            return []
        return [DossierContact(dossier_id, account_id, number)]

    def request_registered(self, cause: str, dossier_id: UUID, next_step: str) -> Aggregates:
        dossier = self._dossier(dossier_id)
        dossier.note_submission(next_step)
        return [dossier, *self._queue(cause, dossier, "request_registered", next_step=next_step)]

    def ready_for_payment(self, cause: str, dossier_id: UUID) -> Aggregates:
        dossier = self._dossier(dossier_id)
        if not dossier.awaited_documents:
            return []  # the citizen is paying right now: nothing to tell
        return self._queue(cause, dossier, "documents_accepted")

    def mail_about(self, cause: str, dossier_id: UUID, notice: str, **values: Any) -> Aggregates:
        return self._queue(cause, self._dossier(dossier_id), notice, **values)

    def _queue(self, cause: str, dossier: DossierContact, notice: str, **values: Any) -> Aggregates:
        if self._find(Mail.create_id(cause)) is not None:
            return []
        return [Mail(cause, dossier.account_id, dossier.dossier_id, notice, values)]

    def _dossier(self, dossier_id: UUID) -> DossierContact:
        found = self._find(DossierContact.create_id(dossier_id))
        if found is None:  # its RequestStarted comes on another topic: wait for it
            raise NotReady("dossier not known yet")
        return found

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    # --- the queue --------------------------------------------------------------------------

    async def send(self, mail_id: UUID) -> bool:
        """Send one queued mail. True once it is settled (sent, or undeliverable); False when
        its recipient's address is not known yet; raises when the mail server fails."""
        prepared = await self.call(self.prepare, mail_id)
        if isinstance(prepared, bool):
            return prepared
        assert self.outbox is not None
        mail_notice = prepared["X-Ants-Notice"]
        try:
            await self.outbox.deliver(prepared)
        except RecipientRefused:
            log.warning("mail.refused", mail_id=str(mail_id), notice=mail_notice)
            await self.call(self._settle, mail_id, True)
            return True
        await self.call(self._settle, mail_id)
        log.info("mail.sent", mail_id=str(mail_id), notice=mail_notice)
        return True

    def prepare(self, mail_id: UUID) -> Message | bool:
        """The message of a queued mail, ready to go; True when there is nothing to send (it
        went out, or cannot reach anyone); False while its recipient's address is unknown."""
        mail: Mail = self.repository.get(mail_id)
        if mail.outcome is not None:
            return True
        recipient = self._find(Recipient.create_id(mail.account_id))
        if recipient is None or not recipient.sealed_address or self.opener is None:
            return False
        dossier = self._dossier(mail.dossier_id)
        try:
            address = self.opener.open(recipient.sealed_address)
        except SealError:
            log.warning("mail.address_unreadable", mail_id=str(mail_id))
            return False
        if not PLAIN_ADDRESS.fullmatch(address):
            log.warning("mail.undeliverable", mail_id=str(mail_id), notice=mail.notice)
            self._settle(mail_id, undeliverable=True)
            return True
        return self.compose(mail, dossier.dossier_number, address)

    @retry_on_conflict()
    def _settle(self, mail_id: UUID, undeliverable: bool = False) -> None:
        mail: Mail = self.repository.get(mail_id)
        now = datetime.now(UTC)
        mail.mark_undeliverable(now) if undeliverable else mail.mark_sent(now)
        self.save(mail)

    def compose(self, mail: Mail, number: str, address: str) -> Message:
        """The mail, built with the classic MIME classes: a tenth of the CPU of EmailMessage's
        header objects, for the same message once parsed. Header values come from our own
        wording and checked addresses; the subject is RFC 2047-encoded whole, so nothing in
        it can start another header."""
        found = wording.notice(mail.notice, number, mail.values)
        link = f"{self.portal_url}/dossiers/{mail.dossier_id}"
        message = MIMEMultipart("alternative")
        name, sender = parseaddr(self.sender)
        message["From"] = formataddr((name, sender), charset="utf-8")
        message["To"] = address
        message["Subject"] = Header(found.subject, "utf-8")  # type: ignore[assignment]  # a Header is what compat32 takes
        message["Date"] = format_datetime(datetime.now(UTC))
        # The same id whenever it is sent again: a mail server that took it before the
        # connection broke may drop the copy.
        message["Message-ID"] = f"<{mail.id.hex}@{sender.rpartition('@')[2] or 'ants'}>"
        message["X-Ants-Notice"] = mail.notice
        message.attach(_text_part("plain", wording.text_body(found, link)))
        message.attach(_text_part("html", wording.html_body(found, link)))
        return message
