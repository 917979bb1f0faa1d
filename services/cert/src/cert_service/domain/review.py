"""The Review aggregate: one supporting document checked by a CERT agent, decided once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cert_service.domain.errors import (
    AlreadyDecided,
    ClaimedByAnother,
    InvalidDecision,
    ReviewClosed,
)

REJECTION_REASONS = {
    "illisible": "Document illisible",
    "incomplet": "Document incomplet",
    "non_conforme": "Document non conforme",
    "autre": "Autre motif",
}
STATUS_LABELS = {
    "pending": "À traiter",
    "claimed": "Prise en charge",
    "accepted": "Acceptée",
    "rejected": "Refusée",
    "closed": "Close sans décision",
}
OPEN_STATUSES = ("pending", "claimed")
CLOSE_REASONS = {
    "cancelled": "la demande a été annulée par le demandeur",
    "superseded": "le demandeur a envoyé un document plus récent",
}
MAX_TEXT_LENGTH = 4000
THEFT_DECLARATION = "declaration_vol"
DOCUMENT_KINDS = (
    THEFT_DECLARATION, "mandat", "piece_identite_titulaire", "piece_identite_demandeur",
    "certificat_cession",
)


def now() -> str:
    return datetime.now(UTC).isoformat()


def clean_text(text: str, field: str, when_empty: str) -> str:
    """The text as the citizen will read it; an empty or oversized one is refused."""
    text = (text or "").strip()
    if not text:
        raise InvalidDecision(when_empty, field)
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidDecision("Le texte ne doit pas dépasser 4 000 caractères.", field)
    return text


def check_reason(reason: str) -> None:
    if reason not in REJECTION_REASONS:
        accepted = ", ".join(f"{code} ({label})" for code, label in REJECTION_REASONS.items())
        raise InvalidDecision(f"Motif de refus inconnu. Motifs acceptés : {accepted}.", "reason")


class Review(Aggregate):
    """Opened when a supporting document arrives; claimed by one agent; accepted or rejected once.

    Its id derives from the document id (see the application), so a second delivery of the
    same upload cannot open a second review.
    """

    TOPIC = "cert:Review"

    class Event(Aggregate.Event):
        TOPIC = "cert:Review.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "cert:Review.Created"

    # Version 2 of the state and of these events carries the document's kind: a review
    # stored before supporting documents of other kinds existed was of a theft declaration.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["kind"] = THEFT_DECLARATION

    class Opened(Created):
        TOPIC = "cert:Review.Opened"
        class_version = 2
        dossier_id: UUID
        document_id: UUID
        account_id: UUID
        sha256: str
        media_type: str
        size: int
        uploaded_at: str
        kind: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["kind"] = THEFT_DECLARATION

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Claimed: ClassVar[type[Any]]
        Closed: ClassVar[type[Any]]

    @event(Opened)
    def __init__(
        self,
        id: UUID,
        dossier_id: UUID,
        document_id: UUID,
        account_id: UUID,
        sha256: str,
        media_type: str,
        size: int,
        uploaded_at: str,
        kind: str,
    ) -> None:
        self.kind = kind
        self.dossier_id = dossier_id
        self.document_id = document_id
        self.account_id = account_id
        self.sha256 = sha256
        self.media_type = media_type
        self.size = size
        self.uploaded_at = uploaded_at
        self.status = "pending"
        self.claimed_by: UUID | None = None
        self.claimed_by_name: str | None = None
        self.decision: dict[str, Any] | None = None
        self.closed_reason: str | None = None

    # --- the agent's steps ---------------------------------------------------------------

    def claim(self, agent_id: UUID, agent_name: str) -> None:
        """Take the review; taking it again is harmless, taking another agent's is refused."""
        self.check_decidable_by(agent_id)
        if self.claimed_by is None:
            self._claimed(agent_id=agent_id, agent_name=agent_name)

    @event("Claimed", topic="cert:Review.Claimed")
    def _claimed(self, agent_id: UUID, agent_name: str) -> None:
        self.claimed_by = agent_id
        self.claimed_by_name = agent_name
        self.status = "claimed"

    def reject(self, agent_id: UUID, agent_name: str, reason: str, note: str) -> None:
        self.check_decidable_by(agent_id)
        check_reason(reason)
        note = clean_text(note, "note", "Expliquez au demandeur ce qui ne va pas.")
        self.claim(agent_id, agent_name)
        self._rejected(
            dossier_id=self.dossier_id, document_id=self.document_id, agent_id=agent_id,
            reason=reason, note=note, at=now(), kind=self.kind,
        )

    class Rejected(Event):
        TOPIC = "cert:Review.Rejected"
        class_version = 2
        dossier_id: UUID
        document_id: UUID
        agent_id: UUID
        reason: str
        note: str
        at: str
        kind: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["kind"] = THEFT_DECLARATION

    @event(Rejected)
    def _rejected(
        self, dossier_id: UUID, document_id: UUID, agent_id: UUID, reason: str, note: str,
        at: str, kind: str,
    ) -> None:
        self.status = "rejected"
        self.decision = {
            "decision": "rejected", "reason": reason, "note": note,
            "agent_id": str(agent_id), "agent_name": self.claimed_by_name, "at": at,
        }

    def accept(self, agent_id: UUID, agent_name: str, note: str = "") -> None:
        self.check_decidable_by(agent_id)
        note = (note or "").strip()
        if len(note) > MAX_TEXT_LENGTH:
            raise InvalidDecision("Le texte ne doit pas dépasser 4 000 caractères.", "note")
        self.claim(agent_id, agent_name)
        self._accepted(
            dossier_id=self.dossier_id, document_id=self.document_id, agent_id=agent_id,
            note=note, at=now(), kind=self.kind,
        )

    class Accepted(Event):
        TOPIC = "cert:Review.Accepted"
        class_version = 2
        dossier_id: UUID
        document_id: UUID
        agent_id: UUID
        note: str
        at: str
        kind: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["kind"] = THEFT_DECLARATION

    @event(Accepted)
    def _accepted(
        self, dossier_id: UUID, document_id: UUID, agent_id: UUID, note: str, at: str, kind: str
    ) -> None:
        self.status = "accepted"
        self.decision = {
            "decision": "accepted", "reason": None, "note": note,
            "agent_id": str(agent_id), "agent_name": self.claimed_by_name, "at": at,
        }

    # --- facts from the dossier ----------------------------------------------------------

    def close(self, reason: str) -> bool:
        """No decision is needed any more (request cancelled, newer file). Idempotent."""
        if not self.is_open:
            return False
        self._closed(dossier_id=self.dossier_id, reason=reason, at=now())
        return True

    @event("Closed", topic="cert:Review.Closed")
    def _closed(self, dossier_id: UUID, reason: str, at: str) -> None:
        self.status = "closed"
        self.closed_reason = reason

    # --- rules ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_decided(self) -> bool:
        return self.decision is not None

    def check_decidable_by(self, agent_id: UUID) -> None:
        if self.is_decided:
            raise AlreadyDecided
        if self.status == "closed":
            reason = CLOSE_REASONS.get(self.closed_reason or "", "elle a été close")
            raise ReviewClosed(f"Cette pièce n'est plus à traiter : {reason}.")
        if self.claimed_by is not None and self.claimed_by != agent_id:
            raise ClaimedByAnother
