"""Public contracts from the other services -> dossier commands (idempotent by business key)."""

from __future__ import annotations

from ants_events import cert, documents, payment
from ants_events.base import THEFT_DECLARATION
from ants_runtime.inbound import InboundEvents
from requests_service.application import RequestsApplication


def register(inbound: InboundEvents, app: RequestsApplication) -> None:
    # v1 uploads are theft declarations; v2 says the kind. The dossier knows each document's
    # kind from its upload, so the CERT's v1 and v2 decisions go the same way.
    inbound.on(
        documents.DeclarationUploadedV1,
        lambda e: app.on_document_uploaded(
            e.dossier_id, THEFT_DECLARATION, e.document_id, e.sha256, e.media_type
        ),
    )
    inbound.on(
        documents.DeclarationUploadedV2,
        lambda e: app.on_document_uploaded(
            e.dossier_id, e.kind, e.document_id, e.sha256, e.media_type
        ),
    )
    for rejected in (cert.AttachmentRejectedV1, cert.AttachmentRejectedV2):
        inbound.on(
            rejected,
            lambda e: app.on_attachment_rejected(
                e.dossier_id, e.review_id, e.document_id, e.reason, e.note
            ),
        )
    for accepted in (cert.AttachmentAcceptedV1, cert.AttachmentAcceptedV2):
        inbound.on(
            accepted,
            lambda e: app.on_attachment_accepted(e.dossier_id, e.review_id, e.document_id, e.note),
        )
    inbound.on(
        cert.AgentMessagePostedV1,
        lambda e: app.on_agent_message(e.dossier_id, e.message_id, e.author_id, e.text),
    )
    inbound.on(
        payment.PaymentRecordedV1,
        lambda e: app.on_payment_recorded(e.dossier_id, e.payment_id, e.amount, e.currency),
    )
    inbound.on(
        documents.CertificateIssuedV1,
        lambda e: app.on_certificate_issued(
            e.dossier_id, e.certificate_number, e.valid_until,
            [{"document_id": str(d.document_id), "kind": d.kind} for d in e.documents],
        ),
    )
    inbound.on(
        documents.CertificateProductionStartedV1,
        lambda e: app.on_definitive_in_production(e.dossier_id, e.order_number, e.duplicate_date),
    )
    inbound.on(
        documents.CertificateDispatchedV1,
        lambda e: app.on_definitive_dispatched(e.dossier_id, e.tracking_number, e.occurred_at),
    )
