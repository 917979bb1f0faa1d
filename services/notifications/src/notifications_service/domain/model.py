"""What the notifications service keeps: whom to write to, about which dossier, and the
queue of mails, each sent once.

The domain speaks in codes (which notice, which reason); the French wording lives in
`wording.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

NOTICES = (
    "request_registered", "document_rejected", "cert_message", "documents_accepted",
    "provisional_certificate_ready", "definitive_certificate_sent",
)


class Recipient(Aggregate):
    """An account, and its e-mail address sealed for this service (never in clear here)."""

    # Explicit topics, registered when the module is imported: a process reads events
    # another replica (or an earlier run) stored before it ever made one itself.
    TOPIC = "notifications:Recipient"

    class Event(Aggregate.Event):
        TOPIC = "notifications:Recipient.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "notifications:Recipient.Created"

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:notifications:recipient:{account_id}")

    @event("Registered", topic="notifications:Recipient.Registered")
    def __init__(self, account_id: UUID, sealed_address: str | None) -> None:
        self.account_id = account_id
        self.sealed_address = sealed_address


class DossierContact(Aggregate):
    """Which account a dossier belongs to, its number, and whether it waited for documents."""

    # Explicit topics, registered when the module is imported: a process reads events
    # another replica (or an earlier run) stored before it ever made one itself.
    TOPIC = "notifications:DossierContact"

    class Event(Aggregate.Event):
        TOPIC = "notifications:DossierContact.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "notifications:DossierContact.Created"

    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:notifications:dossier:{dossier_id}")

    @event("Started", topic="notifications:DossierContact.Started")
    def __init__(self, dossier_id: UUID, account_id: UUID, dossier_number: str) -> None:
        self.dossier_id = dossier_id
        self.account_id = account_id
        self.dossier_number = dossier_number
        self.awaited_documents = False

    def note_submission(self, next_step: str) -> None:
        if next_step != "payment" and not self.awaited_documents:
            self._documents_awaited()

    @event("DocumentsAwaited", topic="notifications:DossierContact.DocumentsAwaited")
    def _documents_awaited(self) -> None:
        self.awaited_documents = True


class Mail(Aggregate):
    """One notice to one account about one dossier, queued by the event that caused it (its
    id derives from that event's id: a second delivery cannot queue it twice)."""

    # Explicit topics, registered when the module is imported: a process reads events
    # another replica (or an earlier run) stored before it ever made one itself.
    TOPIC = "notifications:Mail"

    class Event(Aggregate.Event):
        TOPIC = "notifications:Mail.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "notifications:Mail.Created"

    QUEUED = "notifications:Mail.Queued"
    SENT = "notifications:Mail.Sent"

    @staticmethod
    def create_id(cause: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:notifications:mail:{cause}")

    @event("Queued", topic=QUEUED)
    def __init__(
        self, cause: str, account_id: UUID, dossier_id: UUID, notice: str,
        values: dict[str, Any],
    ) -> None:
        if notice not in NOTICES:
            raise ValueError(f"unknown notice {notice}")
        self.cause = cause
        self.account_id = account_id
        self.dossier_id = dossier_id
        self.notice = notice
        self.values = values
        self.sent_at: datetime | None = None
        self.outcome: str | None = None

    def mark_sent(self, at: datetime) -> None:
        if self.outcome is None:
            self._sent(at, "sent")

    def mark_undeliverable(self, at: datetime) -> None:
        """The address cannot be written to (malformed): given up, never retried."""
        if self.outcome is None:
            self._sent(at, "undeliverable")

    @event("Sent", topic=SENT)
    def _sent(self, at: datetime, outcome: str) -> None:
        self.sent_at = at
        self.outcome = outcome
