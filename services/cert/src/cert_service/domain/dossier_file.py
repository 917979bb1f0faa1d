"""The DossierFile aggregate: what the CERT knows of one dossier (facts, reviews, thread)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cert_service.domain.review import clean_text, now

REASONS = {"perte": "Perte", "vol": "Vol", "deterioration": "Détérioration"}
PERSONS = {"titulaire": "Titulaire", "cotitulaire": "Co-titulaire", "mandataire": "Mandataire"}


class DossierFile(Aggregate):
    """One per dossier, with the dossier's own id (this store is the CERT's alone).

    It may be opened by whichever fact arrives first (the request or a declaration come on
    different topics), so the request's facts are recorded separately and may come later.
    """

    TOPIC = "cert:DossierFile"

    class Event(Aggregate.Event):
        TOPIC = "cert:DossierFile.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "cert:DossierFile.Created"

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        RequestRecorded: ClassVar[type[Any]]
        AgentMessagePosted: ClassVar[type[Any]]

    @event("Opened", topic="cert:DossierFile.Opened")
    def __init__(self, id: UUID) -> None:
        self.request: dict[str, Any] | None = None
        self.review_ids: list[UUID] = []
        self.messages: list[dict[str, Any]] = []
        self.cancellation: str | None = None

    # --- facts from the requests and documents services (idempotent) ---------------------

    def record_request(
        self, dossier_number: str, account_id: UUID, reason: str, person: str,
        special_case: bool, vehicle: dict[str, Any], holder: dict[str, Any],
    ) -> bool:
        if self.request is not None:
            return False
        self._request_recorded(
            dossier_number=dossier_number, account_id=account_id, reason=reason, person=person,
            special_case=special_case, vehicle=vehicle, holder=holder,
        )
        return True

    @event("RequestRecorded", topic="cert:DossierFile.RequestRecorded")
    def _request_recorded(
        self, dossier_number: str, account_id: UUID, reason: str, person: str,
        special_case: bool, vehicle: dict[str, Any], holder: dict[str, Any],
    ) -> None:
        self.request = {
            "dossier_number": dossier_number, "account_id": str(account_id), "reason": reason,
            "person": person, "special_case": special_case, "vehicle": vehicle, "holder": holder,
        }

    def add_review(self, review_id: UUID) -> bool:
        if review_id in self.review_ids:
            return False
        self._review_added(review_id=review_id)
        return True

    @event("ReviewAdded", topic="cert:DossierFile.ReviewAdded")
    def _review_added(self, review_id: UUID) -> None:
        self.review_ids.append(review_id)

    def record_citizen_message(
        self, message_id: UUID, author_id: UUID, text: str, document_id: UUID | None, at: str
    ) -> bool:
        if self.has_message(message_id):
            return False
        self._citizen_message_recorded(
            message_id=message_id, author_id=author_id, text=text, document_id=document_id, at=at
        )
        return True

    @event("CitizenMessageRecorded", topic="cert:DossierFile.CitizenMessageRecorded")
    def _citizen_message_recorded(
        self, message_id: UUID, author_id: UUID, text: str, document_id: UUID | None, at: str
    ) -> None:
        self.messages.append(
            {"message_id": str(message_id), "author_role": "citizen", "author_id": str(author_id),
             "author_name": None, "text": text,
             "document_id": str(document_id) if document_id else None, "at": at}
        )

    def cancel(self, reason: str) -> bool:
        if self.cancellation is not None:
            return False
        self._cancelled(reason=reason)
        return True

    @event("Cancelled", topic="cert:DossierFile.Cancelled")
    def _cancelled(self, reason: str) -> None:
        self.cancellation = reason

    # --- the agent's step ----------------------------------------------------------------

    def post_agent_message(
        self, message_id: UUID, agent_id: UUID, agent_name: str, text: str
    ) -> dict[str, Any]:
        text = clean_text(text, "text", "Le message est vide.")
        if not self.has_message(message_id):
            self._agent_message_posted(
                message_id=message_id, agent_id=agent_id, agent_name=agent_name, text=text,
                at=now(),
            )
        return next(m for m in self.messages if m["message_id"] == str(message_id))

    @event("AgentMessagePosted", topic="cert:DossierFile.AgentMessagePosted")
    def _agent_message_posted(
        self, message_id: UUID, agent_id: UUID, agent_name: str, text: str, at: str
    ) -> None:
        self.messages.append(
            {"message_id": str(message_id), "author_role": "cert_agent",
             "author_id": str(agent_id), "author_name": agent_name, "text": text,
             "document_id": None, "at": at}
        )

    # --- reading -------------------------------------------------------------------------

    @property
    def is_cancelled(self) -> bool:
        return self.cancellation is not None

    def has_message(self, message_id: UUID) -> bool:
        return any(m["message_id"] == str(message_id) for m in self.messages)
