"""The review queue: a read model of every review, caught up from the store before each read.

The queue is rebuilt in memory from the application's notification log (the store is the
source of truth), so it needs no table of its own and is never behind what was saved.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from eventsourcing.application import Application

from cert_service.domain.dossier_file import DossierFile
from cert_service.domain.review import Review

STATUS_FILTERS = ("pending", "claimed", "accepted", "rejected", "closed", "all")


@dataclass
class QueueEntry:
    review_id: str
    dossier_id: str
    document_id: str
    kind: str
    status: str
    claimed_by: str | None
    claimed_by_name: str | None
    opened_at: str


class ReviewQueue:
    batch_size = 1000

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self.position = 0
        self.reviews: dict[str, QueueEntry] = {}  # in opening order: oldest first
        self.dossiers: dict[str, tuple[str, str]] = {}  # dossier id -> (number, plate)
        self._lock = threading.Lock()

    def list(self, status: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Reviews with that status (or all), of that kind of document (or any), oldest first."""
        with self._lock:
            self._catch_up()
            return [
                self._row(entry)
                for entry in self.reviews.values()
                if (status == "all" or entry.status == status)
                and (kind is None or entry.kind == kind)
            ]

    def _row(self, entry: QueueEntry) -> dict[str, Any]:
        number, plate = self.dossiers.get(entry.dossier_id, (None, None))
        return asdict(entry) | {"dossier_number": number, "plate": plate}

    def _catch_up(self) -> None:
        while True:
            notifications = self.app.recorder.select_notifications(
                self.position + 1, self.batch_size
            )
            if not notifications:
                return
            for notification in notifications:
                self._apply(self.app.mapper.to_domain_event(notification))
            self.position = notifications[-1].id

    def _apply(self, e: Any) -> None:
        review_id = str(e.originator_id)
        if isinstance(e, Review.Opened):
            self.reviews[review_id] = QueueEntry(
                review_id, str(e.dossier_id), str(e.document_id), e.kind, "pending", None, None,
                e.timestamp.isoformat(),
            )
        elif isinstance(e, Review.Claimed):
            entry = self.reviews[review_id]
            entry.status, entry.claimed_by, entry.claimed_by_name = (
                "claimed", str(e.agent_id), e.agent_name
            )
        elif isinstance(e, Review.Rejected):
            self.reviews[review_id].status = "rejected"
        elif isinstance(e, Review.Accepted):
            self.reviews[review_id].status = "accepted"
        elif isinstance(e, Review.Closed):
            self.reviews[review_id].status = "closed"
        elif isinstance(e, DossierFile.RequestRecorded):
            self.dossiers[str(e.originator_id)] = (e.dossier_number, e.vehicle.get("plate"))
