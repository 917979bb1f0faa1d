"""Public contracts from the requests and documents services -> CERT facts (idempotent)."""

from __future__ import annotations

from ants_events import documents, requests
from ants_events.base import THEFT_DECLARATION
from ants_runtime.inbound import InboundEvents
from cert_service.application import CertApplication


def register(inbound: InboundEvents, app: CertApplication) -> None:
    inbound.on(
        requests.RequestStartedV1,
        lambda e: app.on_request_started(
            e.dossier_id, e.dossier_number, e.account_id, e.reason, e.person, e.special_case,
            e.vehicle.model_dump(mode="json"), e.holder.model_dump(mode="json"),
        ),
    )
    inbound.on(  # v1: every upload was a theft declaration
        documents.DeclarationUploadedV1,
        lambda e: app.on_document_uploaded(
            e.dossier_id, THEFT_DECLARATION, e.document_id, e.account_id, e.sha256,
            e.media_type, e.size, e.occurred_at,
        ),
    )
    inbound.on(
        documents.DeclarationUploadedV2,
        lambda e: app.on_document_uploaded(
            e.dossier_id, e.kind, e.document_id, e.account_id, e.sha256, e.media_type, e.size,
            e.occurred_at,
        ),
    )
    inbound.on(
        requests.CitizenMessagePostedV1,
        lambda e: app.on_citizen_message(
            e.dossier_id, e.message_id, e.author_id, e.text, e.document_id, e.occurred_at
        ),
    )
    inbound.on(
        requests.RequestCancelledV1, lambda e: app.on_request_cancelled(e.dossier_id, e.reason)
    )
