"""Documents use cases: follow the dossier, issue the certificate once paid, take declarations."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from uuid import UUID, uuid4

from ants_runtime.store import ServiceApplication, retry_on_conflict, stable_id
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from documents_service.adapters.printing import PrintingOffice, PrintOrder
from documents_service.domain import certificate as certificates
from documents_service.domain import uploads
from documents_service.domain.model import (
    CPI,
    DISPATCH_NOTICE,
    SUMMARY,
    SUPPORTING_KINDS,
    THEFT_DECLARATION,
    CertificateIndex,
    CertificateNotFound,
    ConcurrentUpload,
    DocumentIndex,
    DocumentNotFound,
    DossierFile,
    DossierNotFound,
    Reader,
    UnknownDocumentKind,
    listed_kind,
)
from documents_service.rendering.pdf import DocumentRenderer, IssuedCertificate
from documents_service.rendering.wording import local_time
from documents_service.storage import FileStore

Aggregates = list[Any]
# How an uploaded file is named, by kind (French, as the citizen will see it downloaded).
FILE_NAMES = {
    "declaration_vol": "declaration-de-vol",
    "mandat": "mandat",
    "piece_identite_titulaire": "piece-identite-titulaire",
    "piece_identite_demandeur": "piece-identite-demandeur",
    "certificat_cession": "certificat-de-cession",
}


@dataclass(frozen=True)
class Verification:
    """What anyone holding the certificate number may learn: no personal data."""

    certificate_number: str
    plate: str
    issued_at: datetime
    valid_until: date

    def valid_on(self, day: date) -> bool:
        return day <= self.valid_until


class DocumentsApplication(ServiceApplication):
    name = "documents"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        files: FileStore,
        renderer: DocumentRenderer,
        public_base_url: str,
        zone: tzinfo = UTC,
        max_upload_bytes: int = 5 * 1024 * 1024,
    ) -> None:
        super().__init__(env)
        self.files = files
        self.renderer = renderer
        self.public_base_url = public_base_url.rstrip("/")
        self.zone = zone
        self.max_upload_bytes = max_upload_bytes

    # Inbound facts. Each handler returns the aggregates to save with the tracking record
    # and is idempotent by the dossier id: a fact already known changes nothing.

    def record_start(
        self, dossier_id: UUID, requester: dict[str, Any] | None = None, **facts: Any
    ) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.record_start(**facts)
        dossier.record_requester(requester)
        return [dossier, *self._issue_if_complete(dossier)]

    def record_submission(
        self, dossier_id: UUID, sworn_statement: bool, legal_terms: bool, submitted_at: str
    ) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.record_submission(sworn_statement, legal_terms, submitted_at)
        return [dossier, *self._issue_if_complete(dossier)]

    def request_declaration(self, dossier_id: UUID) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.request_declaration()
        return [dossier]

    def request_documents(self, dossier_id: UUID, kinds: list[str]) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.request_documents(kinds)
        return [dossier]

    def record_payment(self, dossier_id: UUID, **payment: Any) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.record_payment(**payment)
        return [dossier, *self._issue_if_complete(dossier)]

    def record_review(
        self, dossier_id: UUID, review_id: UUID, document_id: UUID, accepted: bool
    ) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.record_review(review_id, document_id, accepted)
        return [dossier]

    def record_cancellation(self, dossier_id: UUID, cancelled_at: str) -> Aggregates:
        dossier = self._file(dossier_id)
        dossier.record_cancellation(cancelled_at)
        return [dossier]

    def _file(self, dossier_id: UUID) -> DossierFile:
        try:
            return self.repository.get(dossier_id)
        except AggregateNotFoundError:
            return DossierFile(dossier_id=dossier_id)

    def _issue_if_complete(self, dossier: DossierFile) -> Aggregates:
        """Render and store both PDFs, then record them: files first, so events never point
        at a missing file. Everything derives from the dossier, so a retry rewrites the same
        files under the same ids."""
        if not dossier.ready_for_certificate:
            return []
        assert dossier.payment is not None
        issued_at = datetime.fromisoformat(dossier.payment["paid_at"])
        issued_on = local_time(issued_at, self.zone).date()
        number = certificates.certificate_number(
            issued_on.year, stable_id("documents", "certificate", dossier.id)
        )
        issued = IssuedCertificate(
            number=number,
            issued_at=issued_at,
            valid_until=certificates.valid_until(issued_on),
            verification_url=f"{self.public_base_url}/verification/{number}",
        )
        created_at = datetime.now(UTC).isoformat()
        documents = [
            self._store_pdf(dossier, CPI, f"certificat-provisoire-{number}.pdf",
                            self.renderer.certificate(dossier, issued), created_at),
            self._store_pdf(dossier, SUMMARY, f"recapitulatif-{dossier.dossier_number}.pdf",
                            self.renderer.summary(dossier, issued), created_at),
        ]
        dossier.issue_certificate(
            number, issued_at.isoformat(), issued.valid_until.isoformat(), documents
        )
        # The duplicate itself: ordered in the same transaction, made in the background.
        dossier.order_definitive(f"IN-{number.removeprefix('CPI-')}", issued_on.isoformat())
        return [
            CertificateIndex(certificate_number=number, dossier_id=dossier.id),
            *(DocumentIndex(document_id=UUID(d["document_id"]), dossier_id=dossier.id)
              for d in documents),
        ]

    # The definitive certificate, made by the printing office.

    async def produce_definitive(self, dossier_id: UUID, office: PrintingOffice) -> bool:
        """Have the ordered certificate made and sent; record its tracking number once it
        went out (False until then: the work list asks again). The office is idempotent by
        order number: a retry after a crash gives the same letter."""
        dossier = await self.call(self._get, dossier_id)
        if dossier.definitive is None or dossier.definitive["status"] != "in_production":
            return True
        sent = await office.produce(PrintOrder(
            order_number=dossier.definitive["order_number"],
            plate=dossier.vehicle.get("plate", ""),
            holder=dossier.holder,
            mention=dossier.definitive["mention"],
            duplicate_date=dossier.definitive["duplicate_date"],
        ))
        if sent is None:
            return False
        await self.call(self._record_dispatch, dossier_id, sent.tracking_number)
        return True

    @retry_on_conflict()
    def _record_dispatch(self, dossier_id: UUID, tracking_number: str) -> None:
        """Record the dispatch with its notice (a PDF for the holder): file first, as for
        the CPI, so the event never points at a missing file."""
        dossier = self._get(dossier_id)
        if not dossier.awaits_dispatch:
            return
        assert dossier.definitive is not None
        dispatched_at = datetime.now(UTC)
        sent = {**dossier.definitive, "tracking_number": tracking_number}
        notice = self._store_pdf(
            dossier, DISPATCH_NOTICE, f"avis-expedition-{dossier.dossier_number}.pdf",
            self.renderer.dispatch_notice(dossier, sent, dispatched_at),
            dispatched_at.isoformat(),
        )
        dossier.record_dispatch(tracking_number, dispatched_at.isoformat(), notice)
        self.save(dossier, DocumentIndex(
            document_id=UUID(notice["document_id"]), dossier_id=dossier.id
        ))

    def _store_pdf(
        self, dossier: DossierFile, kind: str, filename: str, content: bytes, created_at: str
    ) -> dict[str, Any]:
        document_id = stable_id("documents", kind, dossier.id)
        self.files.write(document_id, uploads.EXTENSIONS[uploads.PDF], content)
        return describe(document_id, kind, uploads.PDF, content, filename, created_at)

    # Supporting documents sent by the citizen (the theft declaration among them).

    def check_document(self, kind: str, content: bytes) -> None:
        if kind not in SUPPORTING_KINDS:
            raise UnknownDocumentKind
        uploads.media_type_of(content, self.max_upload_bytes)

    def knows(self, dossier_id: UUID) -> bool:
        """Whether the news that the dossier was started has been received."""
        try:
            return self._get(dossier_id).is_started
        except DossierNotFound:
            return False

    def check_may_upload(self, dossier_id: UUID, account_id: UUID) -> None:
        """What can be known before the file is read: the dossier, its owner, not cancelled."""
        self._get(dossier_id).check_may_upload(account_id)

    def awaits(self, dossier_id: UUID, kind: str) -> bool:
        """Whether the news that the dossier awaits this kind of document has been received."""
        try:
            return kind in self._get(dossier_id).awaited_kinds
        except DossierNotFound:
            return False

    def upload_document(
        self, dossier_id: UUID, account_id: UUID, kind: str, content: bytes
    ) -> dict[str, Any]:
        """Store the file and record it; reruns when a consumed event changed the dossier."""
        for _attempt in range(8):
            try:
                return self._upload_document(dossier_id, account_id, kind, content)
            except ConcurrentUpload:
                continue
        raise ConcurrentUpload

    def _upload_document(
        self, dossier_id: UUID, account_id: UUID, kind: str, content: bytes
    ) -> dict[str, Any]:
        media_type = uploads.media_type_of(content, self.max_upload_bytes)
        content = uploads.reencoded(content, media_type)
        dossier = self._get(dossier_id)
        dossier.check_accepts(account_id, kind)
        document_id = uuid4()
        extension = uploads.EXTENSIONS[media_type]
        self.files.write(document_id, extension, content)
        document = describe(
            document_id, listed_kind(kind), media_type, content,
            f"{FILE_NAMES[kind]}-{dossier.dossier_number}{extension}",
            datetime.now(UTC).isoformat(),
        )
        dossier.add_declaration(account_id, document)
        try:
            self.save(dossier, DocumentIndex(document_id=document_id, dossier_id=dossier_id))
        except IntegrityError:  # another upload for this dossier was saved in between
            self.files.path(document_id, extension).unlink(missing_ok=True)
            raise ConcurrentUpload from None
        return document

    # The theft case as it was first written: the declaration is one kind among the others.

    def check_declaration_file(self, content: bytes) -> None:
        self.check_document(THEFT_DECLARATION, content)

    def awaits_declaration(self, dossier_id: UUID) -> bool:
        return self.awaits(dossier_id, THEFT_DECLARATION)

    def upload_declaration(
        self, dossier_id: UUID, account_id: UUID, content: bytes
    ) -> dict[str, Any]:
        return self.upload_document(dossier_id, account_id, THEFT_DECLARATION, content)

    # Reading.

    def documents_of(self, dossier_id: UUID, reader: Reader) -> list[dict[str, Any]]:
        dossier = self._get(dossier_id)
        dossier.check_can_list(reader)
        return sorted(dossier.documents, key=lambda d: d["created_at"])

    def open_document(self, document_id: UUID, reader: Reader) -> tuple[dict[str, Any], bytes]:
        try:
            index: DocumentIndex = self.repository.get(DocumentIndex.create_id(document_id))
        except AggregateNotFoundError:
            raise DocumentNotFound from None
        dossier = self._get(index.dossier_id)
        document = dossier.document(document_id)
        dossier.check_can_read(reader, document)
        content = self.files.read(document_id, uploads.EXTENSIONS[document["media_type"]])
        return document, content

    def verify(self, certificate_number: str) -> Verification:
        if not certificates.is_certificate_number(certificate_number):
            raise CertificateNotFound
        try:
            index: CertificateIndex = self.repository.get(
                CertificateIndex.create_id(certificate_number)
            )
        except AggregateNotFoundError:
            raise CertificateNotFound from None
        dossier = self._get(index.dossier_id)
        assert dossier.certificate is not None
        return Verification(
            certificate_number=certificate_number,
            plate=dossier.vehicle.get("plate", ""),
            issued_at=datetime.fromisoformat(dossier.certificate["issued_at"]),
            valid_until=date.fromisoformat(dossier.certificate["valid_until"]),
        )

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def _get(self, dossier_id: UUID) -> DossierFile:
        try:
            return self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise DossierNotFound from None


def describe(
    document_id: UUID, kind: str, media_type: str, content: bytes, filename: str, created_at: str
) -> dict[str, Any]:
    return {
        "document_id": str(document_id),
        "kind": kind,
        "media_type": media_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "filename": filename,
        "created_at": created_at,
    }
