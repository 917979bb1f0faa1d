"""A dossier's documents, their download, the theft declaration upload and the public check."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from msgspec import Struct

from ants_runtime.auth import Principal
from ants_runtime.http import error_body, error_responses
from ants_runtime.service import ServiceRuntime
from documents_service.application import DocumentsApplication
from documents_service.domain.model import (
    SUPPORTING_KINDS,
    THEFT_DECLARATION,
    CertificateNotFound,
    Reader,
)
from documents_service.domain.uploads import EXTENSIONS, FileTooLarge
from documents_service.http.streamed_upload import streamed_upload
from documents_service.http import pages


class DocumentView(Struct):
    document_id: UUID
    kind: str
    media_type: str
    sha256: str
    size: int
    filename: str
    created_at: datetime


class DeclarationReceived(Struct):
    document_id: UUID
    sha256: str
    kind: str


class VerificationView(Struct):
    valid: bool
    certificate_number: str
    plate: str
    valid_until: date
    issued_at: datetime


def reader_of(principal: Principal) -> Reader:
    return Reader(principal.account_id, principal.roles)


def view_of(document: dict[str, Any]) -> DocumentView:
    return DocumentView(
        document_id=UUID(document["document_id"]),
        kind=document["kind"],
        media_type=document["media_type"],
        sha256=document["sha256"],
        size=document["size"],
        filename=document["filename"],
        created_at=datetime.fromisoformat(document["created_at"]),
    )


# A served document is never a page: no script, no request, no same-origin rights, even if a
# browser took it for HTML. Chromium still shows PDFs inline under this policy.
DOCUMENT_POLICY = "sandbox; default-src 'none'"


def content_disposition(filename: str) -> str:
    """An ASCII fallback name plus the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def body_too_large(request: Request[Any, Any, Any], _: RequestEntityTooLarge) -> Response[Any]:
    return error_body(413, str(FileTooLarge(request.app.state.max_upload_bytes)))


WHY = {
    403: "Not the caller's dossier or document (declarations: also CERT agents and auditors)",
    404: "No such dossier or document",
    409: "The dossier does not await a document of that kind (or was cancelled), or another "
    "upload is under way",
    413: "The file is larger than the service accepts",
    422: "No file, an unknown kind, or a file that is not a PDF, JPEG or PNG the service can "
    "accept",
    503: "The dossier's news is still on its way: retry after the Retry-After header",
}


@dataclass
class UploadOperation(Operation):
    """The upload's body, read as a stream by the handler, documented as the form it is."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={
            "multipart/form-data": OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.OBJECT, required=["file"], properties={
                    "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                    "kind": Schema(type=OpenAPIType.STRING, enum=list(SUPPORTING_KINDS)),
                },
            )),
        })


@dataclass
class DownloadOperation(Operation):
    """A document is served as what it is: a PDF (certificates, summaries, declarations) or
    an image re-encoded at upload, each with its own media type."""

    def __post_init__(self) -> None:
        found = (self.responses or {}).get("200")
        if isinstance(found, OpenAPIResponse):
            found.content = {
                media_type: OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                )
                for media_type in EXTENSIONS
            }


class DossierDocumentsController(Controller):
    path = "/dossiers/{dossier_id:uuid}"
    tags = ["documents"]
    exception_handlers = {RequestEntityTooLarge: body_too_large}

    @get(
        "/documents", summary="List a dossier's documents (owner, CERT agents, auditors)",
        responses=error_responses(400, 401, 403, 404, why=WHY),
    )
    async def list_documents(
        self, dossier_id: UUID, principal: Principal, documents: DocumentsApplication
    ) -> list[DocumentView]:
        found = await documents.call(documents.documents_of, dossier_id, reader_of(principal))
        return [view_of(d) for d in found]

    @post(
        "/attachments",
        status_code=201,
        summary="Send a supporting document (PDF, JPEG or PNG) while the dossier awaits it",
        description="Form fields: `file`, and `kind`, one of " + ", ".join(
            f"`{k}`" for k in SUPPORTING_KINDS
        ) + " (`declaration_vol` when absent, as theft-case clients have always sent it). "
        "The dossier's `required_documents` (requests service) says which kinds it awaits.",
        responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503, why=WHY),
        operation_class=UploadOperation,
    )
    async def upload_document(
        self,
        request: Request[Any, Any, Any],
        dossier_id: UUID,
        principal: Principal,
        documents: DocumentsApplication,
        runtime: ServiceRuntime,
    ) -> DeclarationReceived:
        # Who sends it and whether the dossier takes documents, before a byte of the body:
        # a stranger's or a cancelled dossier's upload is refused unread.
        await runtime.wait_for_fact(dossier_id, lambda: documents.knows(dossier_id))
        await documents.call(documents.check_may_upload, dossier_id, principal.account_id)
        async with streamed_upload(request, documents.max_upload_bytes) as upload:
            kind = (upload.fields.get("kind") or THEFT_DECLARATION).strip()
            content = upload.content()
        documents.check_document(kind, content)  # input before the kind's state
        await runtime.wait_for_fact(dossier_id, lambda: documents.awaits(dossier_id, kind))
        document = await asyncio.to_thread(  # re-encodes the image: milliseconds, off the loop
            documents.upload_document, dossier_id, principal.account_id, kind, content
        )
        return DeclarationReceived(UUID(document["document_id"]), document["sha256"], kind)


class DocumentsController(Controller):
    path = "/documents"
    tags = ["documents"]

    @get(
        "/{document_id:uuid}",
        summary="Download a document (CPI and summary: owner only; supporting documents: owner "
        "and staff)",
        responses=error_responses(400, 401, 403, 404, why=WHY),
        operation_class=DownloadOperation,
    )
    async def download(
        self, document_id: UUID, principal: Principal, documents: DocumentsApplication
    ) -> Response[bytes]:
        document, content = await documents.call(
            documents.open_document, document_id, reader_of(principal)
        )
        return Response(
            content,
            media_type=document["media_type"],
            headers={
                "Content-Disposition": content_disposition(document["filename"]),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": DOCUMENT_POLICY,
                "Cache-Control": "private, no-store",
            },
        )


class VerificationController(Controller):
    path = "/verification"
    tags = ["verification"]

    @get(
        "/{certificate_number:str}",
        summary="Public check of a provisional certificate (the CPI's QR code points here)",
        description="JSON by default; an HTML page when the client asks for text/html.",
        responses=error_responses(400, 404, why={404: "No certificate has this number"}),
    )
    async def verify(
        self, request: Request[Any, Any, Any], certificate_number: str,
        documents: DocumentsApplication,
    ) -> Response[Any]:
        wants_html = request.accept.best_match(
            ["application/json", "text/html"], default="application/json"
        ) == "text/html"
        try:
            found = await documents.call(documents.verify, certificate_number)
        except CertificateNotFound as error:
            if wants_html:
                return pages.html(pages.unknown_certificate(), 404)
            return error_body(404, str(error))
        valid = found.valid_on(documents.today())
        if wants_html:
            return pages.html(pages.certificate(found, valid, documents.zone), 200)
        return Response(
            VerificationView(
                valid=valid,
                certificate_number=found.certificate_number,
                plate=found.plate,
                valid_until=found.valid_until,
                issued_at=found.issued_at,
            ),
            headers={"Cache-Control": "no-store"},
        )
