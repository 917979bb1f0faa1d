"""What an auditor asks of the requests service: the dossier as it was, and where each of its
published events stands in its stream."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ants_runtime.store import event_id_of
from eventsourcing.application import AggregateNotFoundError

from requests_service.application import RequestsApplication
from requests_service.domain.dossier import Dossier
from requests_service.domain.errors import DossierNotFound


def dossier_as_of(
    app: RequestsApplication, dossier_id: UUID, version: int | None = None,
    instant: datetime | None = None,
) -> Dossier:
    """The dossier rebuilt from its stream up to its event `version`, or up to the last event
    stored at or before `instant`; DossierNotFound before its first event."""
    current = app.get_dossier(dossier_id)
    if instant is not None:
        stored = [
            e for e in app.events.get(dossier_id)
            # every stored event has a timestamp; eventsourcing's protocol does not declare it
            if e.timestamp <= instant  # type: ignore[attr-defined]
        ]
        if not stored:
            raise DossierNotFound
        version = stored[-1].originator_version
    if version is None or version >= current.version:
        return current
    try:
        dossier: Dossier = app.repository.get(dossier_id, version=version)
    except AggregateNotFoundError:
        raise DossierNotFound from None
    if not isinstance(dossier, Dossier):
        raise DossierNotFound
    return dossier


def stream_versions(app: RequestsApplication, dossier_id: UUID) -> dict[str, int]:
    """The version in the dossier's stream of each event, by its public id (ce_id)."""
    return {str(event_id_of(e)): e.originator_version for e in app.events.get(dossier_id)}
