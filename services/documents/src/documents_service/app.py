"""Wiring of the documents service."""

from __future__ import annotations

from uuid import UUID

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from ants_runtime.service import ServiceRuntime, serve
from ants_runtime.worklist import WorkList
from documents_service.application import DocumentsApplication
from documents_service.domain.model import (
    AccessDenied,
    CertificateNotFound,
    ConcurrentUpload,
    DocumentNotFound,
    DossierCancelled,
    DossierNotFound,
    NotAwaitingDeclaration,
    UnknownDocumentKind,
)
from documents_service.domain.uploads import FileTooLarge, UploadRejected
from documents_service.http.controllers import (
    DocumentsController,
    DossierDocumentsController,
    VerificationController,
)
from documents_service.integration import inbound
from documents_service.integration.outbound import to_contract
from documents_service.rendering.pdf import DocumentRenderer
from documents_service.adapters.printing import SimulatedPrintingOffice
from documents_service.domain.model import DossierFile
from documents_service.settings import Settings, get_settings
from documents_service.storage import FileStore

# Order matters: the first matching class gives the status.
DOMAIN_ERRORS = {
    DossierNotFound: 404,
    DocumentNotFound: 404,
    CertificateNotFound: 404,
    AccessDenied: 403,
    DossierCancelled: 409,
    NotAwaitingDeclaration: 409,
    UnknownDocumentKind: 422,
    ConcurrentUpload: 409,
    FileTooLarge: 413,
    UploadRejected: 422,
}
# Room for the multipart framing around a file of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024


def build_application(settings: Settings) -> DocumentsApplication:
    return DocumentsApplication(
        env=settings.eventsourcing_env(),
        files=FileStore(settings.files_dir),
        renderer=DocumentRenderer(settings.pdf_font_dir, settings.zone),
        public_base_url=settings.public_base_url,
        zone=settings.zone,
        max_upload_bytes=settings.max_upload_bytes,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    documents = build_application(settings)
    runtime = ServiceRuntime(settings, documents, to_contract)
    inbound.subscribe(runtime.inbound, documents)
    office = SimulatedPrintingOffice(settings.printing_office_seconds)

    async def produce(dossier_id: UUID) -> bool:
        return await documents.produce_definitive(dossier_id, office)

    runtime.also_run(WorkList(
        documents, "printing-office", opened=DossierFile.ORDERED, closed=DossierFile.DISPATCHED,
        work=produce, coordinator=runtime.coordinator,
    ))
    return runtime.http_app(
        [DossierDocumentsController, DocumentsController, VerificationController],
        title="Documents",
        description="The provisional certificate (CPI) and the summary of a paid duplicate "
        "request, the theft declarations sent by citizens, and the public verification of a "
        "CPI by its number.",
        domain_errors=DOMAIN_ERRORS,
        dependencies={"documents": Provide(lambda: documents, sync_to_thread=False)},
        request_max_body_size=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        state=State({"max_upload_bytes": settings.max_upload_bytes}),
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings)
