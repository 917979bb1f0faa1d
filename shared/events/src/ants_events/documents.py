"""Events published by the documents service."""

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ants_events.base import IntegrationEvent, SupportingDocumentKind

DocumentKind = Literal["cpi", "recapitulatif", "declaration"]


class DocumentRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    document_id: UUID
    kind: DocumentKind


class DocumentsEvent(IntegrationEvent):
    producer: ClassVar[str] = "documents"

    dossier_id: UUID


class DeclarationUploadedV1(DocumentsEvent):
    type_name: ClassVar[str] = "DeclarationUploaded"

    document_id: UUID
    account_id: UUID
    sha256: str
    media_type: str
    size: int


class CertificateIssuedV1(DocumentsEvent):
    type_name: ClassVar[str] = "CertificateIssued"

    certificate_number: str
    valid_until: date
    documents: tuple[DocumentRef, ...]


class DeclarationUploadedV2(DocumentsEvent):
    """A supporting document sent by the citizen for a dossier, with its kind.

    Published for every kind but the theft declaration, whose uploads keep their v1 contract
    so that v1 consumers (which take every upload for a theft declaration) keep working; a
    consumer of v2 reads a v1 record as kind `declaration_vol`.
    """

    type_name: ClassVar[str] = "DeclarationUploaded"
    version: ClassVar[int] = 2

    document_id: UUID
    account_id: UUID
    kind: SupportingDocumentKind
    sha256: str
    media_type: str
    size: int


class CertificateProductionStartedV1(DocumentsEvent):
    """The definitive certificate (the duplicate) was ordered from the national printing
    office, after the provisional certificate: « Certificat en cours de fabrication »."""

    type_name: ClassVar[str] = "CertificateProductionStarted"

    order_number: str
    mention: Literal["DUPLICATA"] = "DUPLICATA"
    duplicate_date: date


class CertificateDispatchedV1(DocumentsEvent):
    """The definitive certificate was sent to the holder by registered post, with the
    tracking number of the letter: « Certificat expédié »."""

    type_name: ClassVar[str] = "CertificateDispatched"

    order_number: str
    tracking_number: str
    mention: Literal["DUPLICATA"] = "DUPLICATA"
    duplicate_date: date
