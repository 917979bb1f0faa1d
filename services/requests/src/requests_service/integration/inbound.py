"""Public contracts from the other services -> dossier commands (idempotent by business key)."""

from __future__ import annotations

from ants_events import cert, documents, payment
from ants_runtime.inbound import InboundEvents
from requests_service.application import RequestsApplication


def register(inbound: InboundEvents, app: RequestsApplication) -> None:
    inbound.on(
        documents.DeclarationUploadedV1,
        lambda e: app.on_declaration_uploaded(e.dossier_id, e.document_id, e.sha256, e.media_type),
    )
    inbound.on(
        cert.AttachmentRejectedV1,
        lambda e: app.on_attachment_rejected(e.dossier_id, e.review_id, e.document_id, e.reason, e.note),
    )
    inbound.on(
        cert.AttachmentAcceptedV1,
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
