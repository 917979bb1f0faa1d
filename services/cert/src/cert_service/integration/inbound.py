"""Public contracts from the requests and documents services -> CERT facts (idempotent)."""

from __future__ import annotations

from ants_events import documents, requests
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
    inbound.on(
        documents.DeclarationUploadedV1,
        lambda e: app.on_declaration_uploaded(
            e.dossier_id, e.document_id, e.account_id, e.sha256, e.media_type, e.size,
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
