"""CERT use cases: open reviews from uploaded declarations; claim, reject, accept, write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import structlog
from ants_runtime.store import ServiceApplication, stable_id
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from cert_service.domain.dossier_file import DossierFile
from cert_service.domain.errors import ConcurrentChange, InvalidDecision, ReviewNotFound
from cert_service.domain.review import DOCUMENT_KINDS, Review
from cert_service.queue import STATUS_FILTERS, ReviewQueue

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Agent:
    account_id: UUID
    name: str


@dataclass(frozen=True)
class ReviewFile:
    """A review with what the agent needs beside it: the dossier and its other reviews."""

    review: Review
    dossier: DossierFile
    dossier_reviews: list[Review]


def review_id_for(document_id: UUID) -> UUID:
    return stable_id("cert", "review", document_id)


class CertApplication(ServiceApplication):
    name = "cert"
    save_attempts = 3

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.queue = ReviewQueue(self)

    # --- facts from the other services: each returns the aggregates to save -------------

    def on_request_started(
        self, dossier_id: UUID, dossier_number: str, account_id: UUID, reason: str,
        person: str, special_case: bool, vehicle: dict[str, Any], holder: dict[str, Any],
    ) -> list[Any]:
        """Idempotent by dossier: the facts are recorded once."""
        file = self.dossier_file(dossier_id)
        changed = file.record_request(
            dossier_number, account_id, reason, person, special_case, vehicle, holder
        )
        return [file] if changed else []

    def on_document_uploaded(
        self, dossier_id: UUID, kind: str, document_id: UUID, account_id: UUID, sha256: str,
        media_type: str, size: int, uploaded_at: datetime,
    ) -> list[Any]:
        """Idempotent by document: the review id derives from it, so it opens once. A new
        document closes the open reviews of its kind only."""
        review_id = review_id_for(document_id)
        if self._exists(review_id):
            return []
        file = self.dossier_file(dossier_id)
        if file.is_cancelled:
            log.info("review.not_opened_request_cancelled", dossier_id=str(dossier_id))
            return []
        superseded = [
            r for r in self.reviews_of(file) if r.kind == kind and r.close("superseded")
        ]
        review = Review(
            id=review_id, dossier_id=dossier_id, document_id=document_id, account_id=account_id,
            sha256=sha256, media_type=media_type, size=size, uploaded_at=uploaded_at.isoformat(),
            kind=kind,
        )
        file.add_review(review.id)
        return [file, review, *superseded]

    def on_citizen_message(
        self, dossier_id: UUID, message_id: UUID, author_id: UUID, text: str,
        document_id: UUID | None, posted_at: datetime,
    ) -> list[Any]:
        """Idempotent by message id."""
        file = self.dossier_file(dossier_id)
        changed = file.record_citizen_message(
            message_id, author_id, text, document_id, posted_at.isoformat()
        )
        return [file] if changed else []

    def on_request_cancelled(self, dossier_id: UUID, reason: str) -> list[Any]:
        """Idempotent by dossier: undecided reviews close, and no new one will open."""
        file = self.dossier_file(dossier_id)
        changed = [file] if file.cancel(reason) else []
        closed = [r for r in self.reviews_of(file) if r.close("cancelled")]
        return changed + closed

    # --- the agent's steps ---------------------------------------------------------------

    def claim(self, review_id: UUID, agent: Agent) -> Review:
        return self._change(review_id, lambda r: r.claim(agent.account_id, agent.name))

    def reject(self, review_id: UUID, agent: Agent, reason: str, note: str) -> Review:
        review = self._change(
            review_id, lambda r: r.reject(agent.account_id, agent.name, reason, note)
        )
        log.info("review.rejected", review_id=str(review_id), dossier_id=str(review.dossier_id),
                 reason=reason)
        return review

    def accept(self, review_id: UUID, agent: Agent, note: str = "") -> Review:
        review = self._change(review_id, lambda r: r.accept(agent.account_id, agent.name, note))
        log.info("review.accepted", review_id=str(review_id), dossier_id=str(review.dossier_id))
        return review

    def post_agent_message(self, review_id: UUID, agent: Agent, text: str) -> dict[str, Any]:
        dossier_id = self.get_review(review_id).dossier_id
        message_id = uuid4()  # chosen once: a retried save posts the same message
        for _attempt in range(self.save_attempts):
            file = self.dossier_file(dossier_id)
            message = file.post_agent_message(message_id, agent.account_id, agent.name, text)
            try:
                self.save(file)
            except IntegrityError:
                continue  # a citizen message arrived meanwhile: write on the new version
            log.info("message.posted", dossier_id=str(dossier_id), author_role="cert_agent")
            return message
        raise ConcurrentChange

    def _change(self, review_id: UUID, command: Callable[[Review], None]) -> Review:
        """Run an agent's command on the latest version; optimistic concurrency decides races.

        When two decisions race, the second save conflicts (same version): the command runs
        again on the new state, where the review is already decided, and is refused.
        """
        for _attempt in range(self.save_attempts):
            review = self.get_review(review_id)
            command(review)
            try:
                self.save(review)
            except IntegrityError:
                continue
            return review
        raise ConcurrentChange

    # --- reading -------------------------------------------------------------------------

    def reviews(self, status: str = "pending", kind: str | None = None) -> list[dict[str, Any]]:
        if status not in STATUS_FILTERS:
            raise InvalidDecision(
                f"Statut inconnu. Statuts acceptés : {', '.join(STATUS_FILTERS)}.", "status"
            )
        if kind is not None and kind not in DOCUMENT_KINDS:
            raise InvalidDecision(
                f"Type de pièce inconnu. Types acceptés : {', '.join(DOCUMENT_KINDS)}.", "kind"
            )
        return self.queue.list(status, kind)

    def get_review(self, review_id: UUID) -> Review:
        try:
            review: object = self.repository.get(review_id)
        except AggregateNotFoundError:
            raise ReviewNotFound from None
        if not isinstance(review, Review):
            raise ReviewNotFound
        return review

    def review_file(self, review_id: UUID) -> ReviewFile:
        review = self.get_review(review_id)
        file = self.dossier_file(review.dossier_id)
        return ReviewFile(review, file, self.reviews_of(file))

    def dossier_file(self, dossier_id: UUID) -> DossierFile:
        try:
            return self.repository.get(dossier_id)
        except AggregateNotFoundError:
            return DossierFile(id=dossier_id)

    def reviews_of(self, file: DossierFile) -> list[Review]:
        return [self.repository.get(review_id) for review_id in file.review_ids]

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True
