"""Private domain events -> public contracts."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from ants_events.base import IntegrationEvent
from ants_events.documents import (
    CertificateDispatchedV1,
    CertificateIssuedV1,
    CertificateProductionStartedV1,
    DeclarationUploadedV1,
    DeclarationUploadedV2,
    DocumentRef,
)
from ants_runtime.store import event_id_of
from documents_service.domain.model import THEFT_DECLARATION, DossierFile, supporting_kind


def to_contract(domain_event: Any) -> IntegrationEvent | None:
    if isinstance(domain_event, DossierFile.CertificateIssued):
        return CertificateIssuedV1(
            event_id=event_id_of(domain_event),
            occurred_at=domain_event.timestamp,
            dossier_id=domain_event.originator_id,
            certificate_number=domain_event.certificate_number,
            valid_until=date.fromisoformat(domain_event.valid_until),
            documents=tuple(
                DocumentRef(document_id=UUID(d["document_id"]), kind=d["kind"])
                for d in domain_event.documents
            ),
        )
    if isinstance(domain_event, DossierFile.DefinitiveOrdered):
        return CertificateProductionStartedV1(
            event_id=event_id_of(domain_event),
            occurred_at=domain_event.timestamp,
            dossier_id=domain_event.originator_id,
            order_number=domain_event.order_number,
            duplicate_date=date.fromisoformat(domain_event.duplicate_date),
        )
    if isinstance(domain_event, DossierFile.DefinitiveDispatched):
        return CertificateDispatchedV1(
            event_id=event_id_of(domain_event),
            occurred_at=domain_event.timestamp,
            dossier_id=domain_event.originator_id,
            order_number=domain_event.order_number,
            tracking_number=domain_event.tracking_number,
            duplicate_date=date.fromisoformat(domain_event.duplicate_date),
        )
    if isinstance(domain_event, DossierFile.DeclarationUploaded):
        document = domain_event.document
        kind = supporting_kind(document)
        if kind != THEFT_DECLARATION:  # v1 consumers take every upload for a theft declaration
            return DeclarationUploadedV2(
                event_id=event_id_of(domain_event),
                occurred_at=domain_event.timestamp,
                dossier_id=domain_event.originator_id,
                document_id=UUID(document["document_id"]),
                account_id=domain_event.account_id,
                kind=kind,
                sha256=document["sha256"],
                media_type=document["media_type"],
                size=document["size"],
            )
        return DeclarationUploadedV1(
            event_id=event_id_of(domain_event),
            occurred_at=domain_event.timestamp,
            dossier_id=domain_event.originator_id,
            document_id=UUID(document["document_id"]),
            account_id=domain_event.account_id,
            sha256=document["sha256"],
            media_type=document["media_type"],
            size=document["size"],
        )
    return None
