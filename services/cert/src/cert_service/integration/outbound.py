"""Private CERT events -> public contracts on ants.cert.v1 (key = dossier id)."""

from __future__ import annotations

from typing import Any

from ants_events import cert as contracts
from ants_events.base import IntegrationEvent
from ants_runtime.store import event_id_of
from cert_service.domain.dossier_file import DossierFile
from cert_service.domain.review import THEFT_DECLARATION, Review


def to_contract(e: Any) -> IntegrationEvent | None:
    common = {"event_id": event_id_of(e), "occurred_at": e.timestamp}
    # A decision on a theft declaration keeps its v1 contract (v1 consumers take every
    # decision for one on a theft declaration); the other kinds are published in v2.
    if isinstance(e, Review.Rejected) and e.kind != THEFT_DECLARATION:
        return contracts.AttachmentRejectedV2(
            **common, dossier_id=e.dossier_id, review_id=e.originator_id,
            document_id=e.document_id, kind=e.kind, agent_id=e.agent_id, reason=e.reason,
            note=e.note,
        )
    if isinstance(e, Review.Accepted) and e.kind != THEFT_DECLARATION:
        return contracts.AttachmentAcceptedV2(
            **common, dossier_id=e.dossier_id, review_id=e.originator_id,
            document_id=e.document_id, kind=e.kind, agent_id=e.agent_id, note=e.note,
        )
    if isinstance(e, Review.Rejected):
        return contracts.AttachmentRejectedV1(
            **common, dossier_id=e.dossier_id, review_id=e.originator_id,
            document_id=e.document_id, agent_id=e.agent_id, reason=e.reason, note=e.note,
        )
    if isinstance(e, Review.Accepted):
        return contracts.AttachmentAcceptedV1(
            **common, dossier_id=e.dossier_id, review_id=e.originator_id,
            document_id=e.document_id, agent_id=e.agent_id, note=e.note,
        )
    if isinstance(e, DossierFile.AgentMessagePosted):
        return contracts.AgentMessagePostedV1(
            **common, dossier_id=e.originator_id, message_id=e.message_id,
            author_id=e.agent_id, text=e.text,
        )
    return None
