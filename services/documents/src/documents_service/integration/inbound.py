"""Public contracts consumed by this service -> application calls.

Every handler runs in a worker thread once per tracked position, and is idempotent by the
dossier id besides: the dossier file records each fact once (see DossierFile).
"""

from __future__ import annotations

from ants_events.cert import (
    AttachmentAcceptedV1,
    AttachmentAcceptedV2,
    AttachmentRejectedV1,
    AttachmentRejectedV2,
)
from ants_events.payment import PaymentRecordedV1
from ants_events.requests import (
    DocumentsRequestedV1,
    RequestCancelledV1,
    RequestStartedV1,
    RequestSubmittedV1,
    RequestSubmittedV2,
    TheftDeclarationRequestedV1,
)
from ants_runtime.inbound import InboundEvents
from documents_service.application import Aggregates, DocumentsApplication


def subscribe(inbound: InboundEvents, documents: DocumentsApplication) -> None:
    def started(e: RequestStartedV1) -> Aggregates:
        return documents.record_start(
            e.dossier_id,
            account_id=e.account_id,
            dossier_number=e.dossier_number,
            reason=e.reason,
            person=e.person,
            special_case=e.special_case,
            vehicle=e.vehicle.model_dump(mode="json"),
            holder=e.holder.model_dump(mode="json"),
            started_at=e.occurred_at.isoformat(),
            requester=e.requester.model_dump(mode="json") if e.requester else None,
        )

    def submitted(e: RequestSubmittedV1 | RequestSubmittedV2) -> Aggregates:
        return documents.record_submission(
            e.dossier_id, e.sworn_statement, e.legal_terms, e.occurred_at.isoformat()
        )

    def declaration_requested(e: TheftDeclarationRequestedV1) -> Aggregates:
        return documents.request_declaration(e.dossier_id)

    def documents_requested(e: DocumentsRequestedV1) -> Aggregates:
        return documents.request_documents(e.dossier_id, list(e.kinds))

    def cancelled(e: RequestCancelledV1) -> Aggregates:
        return documents.record_cancellation(e.dossier_id, e.occurred_at.isoformat())

    def paid(e: PaymentRecordedV1) -> Aggregates:
        return documents.record_payment(
            e.dossier_id,
            payment_id=e.payment_id,
            amount=e.amount,
            currency=e.currency,
            lines=[line.model_dump(mode="json") for line in e.lines],
            psp_reference=e.psp_reference,
            card_last4=e.card_last4,
            paid_at=e.occurred_at.isoformat(),
        )

    def rejected(e: AttachmentRejectedV1 | AttachmentRejectedV2) -> Aggregates:
        return documents.record_review(e.dossier_id, e.review_id, e.document_id, accepted=False)

    def accepted(e: AttachmentAcceptedV1 | AttachmentAcceptedV2) -> Aggregates:
        return documents.record_review(e.dossier_id, e.review_id, e.document_id, accepted=True)

    inbound.on(RequestStartedV1, started)
    inbound.on(RequestSubmittedV1, submitted)
    inbound.on(RequestSubmittedV2, submitted)
    inbound.on(TheftDeclarationRequestedV1, declaration_requested)
    inbound.on(DocumentsRequestedV1, documents_requested)
    inbound.on(RequestCancelledV1, cancelled)
    inbound.on(PaymentRecordedV1, paid)
    inbound.on(AttachmentRejectedV1, rejected)
    inbound.on(AttachmentRejectedV2, rejected)
    inbound.on(AttachmentAcceptedV1, accepted)
    inbound.on(AttachmentAcceptedV2, accepted)
