"""Events published by the CERT review service."""

from typing import ClassVar, Literal
from uuid import UUID

from ants_events.base import IntegrationEvent

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


class AgentMessagePostedV1(CertEvent):
    """A CERT agent wrote to the citizen about a dossier (MessagePosted, CERT side)."""

    type_name: ClassVar[str] = "MessagePosted"

    message_id: UUID
    author_id: UUID
    author_role: Literal["cert_agent"] = "cert_agent"
    text: str
