"""The auditor's pages: a dossier's whole history across services, read-only, and the bundle
that proves it (the requests service's audit API)."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get
from litestar.params import Parameter
from litestar.response import Redirect, Template

from portal_service.clients import ApiError
from portal_service.web.common import error_page, render
from portal_service.web.deps import HttpRequest, PathUUID, ServicesDep, UserDep

NOT_AN_AUDITOR = "Ces pages sont réservées aux auditeurs."


class AuditController(Controller):
    path = "/audit"

    @get("/", name="audit.search")
    async def search(
        self, request: HttpRequest, user: UserDep,
        dossier: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> Template | Redirect:
        """Find a dossier by its identifier (the CERT's review pages link here too)."""
        if not user.is_auditor:
            return error_page(request, 403, "Accès refusé", NOT_AN_AUDITOR, back="/mon-espace")
        if dossier is None:
            return render(request, "audit/search.html", value="")
        try:
            return Redirect(f"/audit/dossiers/{UUID(dossier.strip())}")
        except ValueError:
            return render(
                request, "audit/search.html", status=400, value=dossier,
                problem="Cet identifiant n'est pas celui d'un dossier (32 chiffres et lettres "
                "de a à f, en cinq groupes séparés par des tirets).",
            )

    @get("/dossiers/{dossier_id:uuid}", name="audit.dossier")
    async def dossier(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template:
        if not user.is_auditor:
            return error_page(request, 403, "Accès refusé", NOT_AN_AUDITOR, back="/mon-espace")
        try:
            state = await services.audit_state(user.token, str(dossier_id))
            timeline = await services.audit_history(user.token, str(dossier_id))
        except ApiError as error:
            if error.status != 404:
                raise
            return error_page(request, 404, "Dossier introuvable",
                              "Aucun dossier ne porte cet identifiant.", back="/audit")
        for entry in timeline:
            entry["data_text"] = json.dumps(entry["data"], indent=2, ensure_ascii=False)
        return render(request, "audit/dossier.html", dossier=state, timeline=timeline)

    @get("/dossiers/{dossier_id:uuid}/preuves", name="audit.bundle")
    async def bundle(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Response[bytes] | Template:
        """The bundle to keep and check offline (`ants-audit verify`), as a download."""
        if not user.is_auditor:
            return error_page(request, 403, "Accès refusé", NOT_AN_AUDITOR, back="/mon-espace")
        content = await services.audit_bundle(user.token, str(dossier_id))
        return Response(
            content, media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="dossier-{dossier_id}-preuves.json"',
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
