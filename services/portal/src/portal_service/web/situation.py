"""The certificat de situation administrative (CSA) of the vehicles the person holds.

The requests service decides who may have a vehicle's CSA (its holder or a co-holder in the
SIV) and lists the vehicles the SIV gives to the person's verified name; the portal shows
them, lets the person type another registration number, and passes the PDF through. The
number travels in the query string, which the request logs leave out.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.params import Parameter
from litestar.response import Template

from portal_service.clients import ApiError
from portal_service.web.common import FormErrors, render
from portal_service.web.deps import HttpRequest, ServicesDep, UserDep

PLATE_FIELDS = ("plate",)
PAGE = "espace/situation.html"
MISSING_PLATE = "Indiquez le numéro d'immatriculation du véhicule, par exemple AB-123-CD."


class SituationController(Controller):
    @get("/certificat-de-situation", name="situation")
    async def page(
        self, request: HttpRequest, user: UserDep, services: ServicesDep,
        plate: Annotated[str | None, Parameter(max_length=20)] = None,
    ) -> Template:
        held = await services.vehicles(user.token)
        return render(request, PAGE, held=held, values={"plate": plate or ""})

    @get("/certificat-de-situation/pdf", name="situation.pdf")
    async def download(
        self, request: HttpRequest, user: UserDep, services: ServicesDep,
        plate: Annotated[str, Parameter(max_length=20)] = "",
    ) -> Response[bytes] | Template:
        """The PDF as a download; a refusal comes back on the page, next to the number."""
        try:
            if not plate.strip():
                raise ApiError(422, MISSING_PLATE, [("plate", MISSING_PLATE)])
            found = await services.situation(user.token, plate.strip())
        except ApiError as error:
            if error.status not in (403, 404, 422):
                raise
            held = await services.vehicles(user.token)
            return render(
                request, PAGE, status=error.status, held=held, values={"plate": plate},
                errors=FormErrors.of(error, PLATE_FIELDS),
            )
        return Response(
            found.content,
            media_type=found.media_type,
            headers={
                "Content-Disposition": found.disposition
                or 'attachment; filename="certificat-de-situation.pdf"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
            },
        )
