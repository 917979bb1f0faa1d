"""Public contracts -> notices. Each handler runs once per event (tracking row keyed by the
event's ce_id) and queues at most one mail, whose id derives from that same event id."""

from __future__ import annotations

from ants_events import cert, documents, identity, requests
from ants_events.base import THEFT_DECLARATION
from ants_runtime.inbound import InboundEvents
from notifications_service.application import NotificationsApplication


def register(inbound: InboundEvents, app: NotificationsApplication) -> None:
    def cause(e: object) -> str:
        return str(e.event_id)  # type: ignore[attr-defined]

    inbound.on(
        identity.AccountRegisteredV2, lambda e: app.record_recipient(e.account_id, e.contact)
    )
    inbound.on(
        requests.RequestStartedV1,
        lambda e: app.record_dossier(e.dossier_id, e.account_id, e.dossier_number),
    )
    for submitted in (requests.RequestSubmittedV1, requests.RequestSubmittedV2):
        inbound.on(
            submitted, lambda e: app.request_registered(cause(e), e.dossier_id, e.next_step)
        )
    inbound.on(  # v1: every decision was about a theft declaration
        cert.AttachmentRejectedV1,
        lambda e: app.mail_about(cause(e), e.dossier_id, "document_rejected",
                             kind=THEFT_DECLARATION, reason=e.reason),
    )
    inbound.on(
        cert.AttachmentRejectedV2,
        lambda e: app.mail_about(cause(e), e.dossier_id, "document_rejected",
                             kind=e.kind, reason=e.reason),
    )
    inbound.on(
        cert.AgentMessagePostedV1,
        lambda e: app.mail_about(cause(e), e.dossier_id, "cert_message"),
    )
    inbound.on(
        requests.RequestReadyForPaymentV1, lambda e: app.ready_for_payment(cause(e), e.dossier_id)
    )
    inbound.on(
        documents.CertificateIssuedV1,
        lambda e: app.mail_about(cause(e), e.dossier_id, "provisional_certificate_ready",
                             certificate_number=e.certificate_number,
                             valid_until=e.valid_until.strftime("%d/%m/%Y")),
    )
    inbound.on(
        documents.CertificateDispatchedV1,
        lambda e: app.mail_about(cause(e), e.dossier_id, "definitive_certificate_sent",
                             tracking_number=e.tracking_number),
    )
