"""Events published by the CERT review service."""

from typing import ClassVar, Literal
from uuid import UUID

from ants_events.base import IntegrationEvent, SupportingDocumentKind

RejectionReason = Literal["illisible", "incomplet", "non_conforme", "autre"]


class CertEvent(IntegrationEvent):
    producer: ClassVar[str] = "cert"

    dossier_id: UUID


class AttachmentRejectedV1(CertEvent):
    type_name: ClassVar[str] = "AttachmentRejected"

    review_id: UUID
    document_id: UUID
    agent_id: UUID
    reason: RejectionReason
    note: str


class AttachmentAcceptedV1(CertEvent):
    type_name: ClassVar[str] = "AttachmentAccepted"

    review_id: UUID
    document_id: UUID
    agent_id: UUID
    note: str = ""


class AttachmentRejectedV2(CertEvent):
    """The CERT rejected a supporting document, with the kind of that document.

    Published for every kind but the theft declaration, whose decisions keep their v1
    contract (v1 consumers take every decision for one on a theft declaration); a consumer
    of v2 reads a v1 record as kind `declaration_vol`.
    """

    type_name: ClassVar[str] = "AttachmentRejected"
    version: ClassVar[int] = 2

    review_id: UUID
    document_id: UUID
    kind: SupportingDocumentKind
    agent_id: UUID
    reason: RejectionReason
    note: str


class AttachmentAcceptedV2(CertEvent):
    """The CERT accepted a supporting document, with the kind of that document.

    Published for every kind but the theft declaration (see AttachmentRejectedV2).
    """

    type_name: ClassVar[str] = "AttachmentAccepted"
    version: ClassVar[int] = 2

    review_id: UUID
    document_id: UUID
    kind: SupportingDocumentKind
    agent_id: UUID
    note: str = ""


class AgentMessagePostedV1(CertEvent):
    """A CERT agent wrote to the citizen about a dossier (MessagePosted, CERT side)."""

    type_name: ClassVar[str] = "MessagePosted"

    message_id: UUID
    author_id: UUID
    author_role: Literal["cert_agent"] = "cert_agent"
    text: str
