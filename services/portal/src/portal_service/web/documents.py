"""Documents reach the browser through the portal, with the person's own access rights."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import FromQuery

from portal_service.web.deps import PathUUID, ServicesDep, UserDep


# Declarations come from citizens: whatever a file holds, the browser runs nothing from it and
# gives it no rights on the portal's origin. Chromium still shows PDFs inline under it.
DOCUMENT_POLICY = "sandbox; default-src 'none'"


def disposition(upstream: str | None, inline: bool) -> str:
    """The documents service's file name, shown in the page (inline) or saved (attachment)."""
    value = upstream or 'attachment; filename="document"'
    kind, _, rest = value.partition(";")
    if kind.strip().lower() in {"attachment", "inline"}:
        value = ("inline" if inline else "attachment") + (f";{rest}" if rest else "")
    return value


class DocumentsController(Controller):
    @get("/documents/{document_id:uuid}", name="document")
    async def document(
        self, document_id: PathUUID, user: UserDep, services: ServicesDep,
        affichage: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """`?affichage=integre` shows it in the page (CERT review, printing); else a download."""
        found = await services.download(user.token, str(document_id))
        return Response(
            found.content,
            media_type=found.media_type,
            headers={
                "Content-Disposition": disposition(found.disposition, affichage == "integre"),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": DOCUMENT_POLICY,
                "Cache-Control": "private, no-store",
                "X-Frame-Options": "SAMEORIGIN",  # shown inside the portal's own pages only
            },
        )
