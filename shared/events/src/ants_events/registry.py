"""Every published contract, found by its CloudEvents type."""

from ants_events import cert, checkpoints, documents, identity, payment, requests
from ants_events.base import IntegrationEvent

CONTRACTS: tuple[type[IntegrationEvent], ...] = (
    identity.AccountRegisteredV1,
    identity.AccountRegisteredV2,
    requests.RequestStartedV1,
    requests.RequestSubmittedV1,
    requests.RequestSubmittedV2,
    requests.TheftDeclarationRequestedV1,
    requests.DocumentsRequestedV1,
    requests.RequestReadyForPaymentV1,
    requests.RequestCompletedV1,
    requests.RequestCancelledV1,
    requests.CitizenMessagePostedV1,
    documents.DeclarationUploadedV1,
    documents.DeclarationUploadedV2,
    documents.CertificateIssuedV1,
    documents.CertificateProductionStartedV1,
    documents.CertificateDispatchedV1,
    cert.AttachmentRejectedV1,
    cert.AttachmentAcceptedV1,
    cert.AttachmentRejectedV2,
    cert.AttachmentAcceptedV2,
    cert.AgentMessagePostedV1,
    payment.PaymentRecordedV1,
    checkpoints.CheckpointSignedV1,
)

# Contracts that stay known (their records remain on the topics and still decode, their
# schemas stay published) but that no producer publishes any more, and why.
NO_LONGER_PUBLISHED: dict[type[IntegrationEvent], str] = {
    identity.AccountRegisteredV1: (
        "No longer published: it carried the e-mail address in clear on a topic other "
        "agencies read. The identity service publishes AccountRegistered v2 instead."
    ),
}

BY_CE_TYPE: dict[str, type[IntegrationEvent]] = {c.ce_type(): c for c in CONTRACTS}


class UnknownEventType(LookupError):
    pass


def contract_for(ce_type: str) -> type[IntegrationEvent]:
    try:
        return BY_CE_TYPE[ce_type]
    except KeyError:
        raise UnknownEventType(ce_type) from None
