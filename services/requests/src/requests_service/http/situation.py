"""The certificat de situation administrative: issued to the holder, checked by anyone."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.params import Parameter

from ants_runtime.auth import Principal
from ants_runtime.http import error_body, error_responses, require_role
from requests_service.application import RequestsApplication
from requests_service.domain.plates import PLATE_MAX_LENGTH
from requests_service.rendering.situation import SituationRenderer


class SituationController(Controller):
    tags = ["certificat de situation administrative"]

    @get(
        "/vehicles",
        summary="The vehicles the caller holds or co-holds in the SIV",
        description="Matched on the verified name of the account, as the CSA's own check "
        "does; by plate, at most `limit` of them (`more` says whether there are others). "
        "Each is a vehicle whose CSA the caller may obtain.",
        responses=error_responses(400, 401, 403, 422, why={403: "Not a citizen"}),
    )
    async def held(
        self, principal: Principal, requests: RequestsApplication,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        require_role(principal, "citizen")
        vehicles, more = await requests.call(
            requests.vehicles_held, principal.given_name, principal.family_name, limit
        )
        return {
            "vehicles": [
                {
                    "plate": v.plate, "make": v.make, "model": v.model,
                    "first_registration": v.first_registration,
                    "role": "titulaire" if v.holder.is_named(
                        principal.given_name, principal.family_name) else "cotitulaire",
                }
                for v in vehicles
            ],
            "more": more,
        }

    @get(
        "/vehicles/{plate:str}/situation",
        summary="The certificat de situation administrative (CSA) of a vehicle, as a PDF",
        description="For the holder or a co-holder of the vehicle in the SIV: plate, VIN, "
        "make and model, first registration, holder, pledges (gages), objections "
        "(oppositions), thefts recorded, date and time of issue, and a QR code to check it.",
        responses=error_responses(400, 401, 403, 422, why={
            403: "Not a citizen, or neither the holder nor a co-holder of the vehicle",
            422: "No such vehicle in the SIV",
        }),
        media_type="application/pdf",
    )
    async def issue(
        self, plate: Annotated[str, Parameter(max_length=PLATE_MAX_LENGTH)],
        principal: Principal, requests: RequestsApplication,
        situation_renderer: SituationRenderer, situation_base_url: str,
    ) -> Response[bytes]:
        require_role(principal, "citizen")

        def render(vehicle: Any, number: str, issued_at: Any) -> bytes:
            url = f"{situation_base_url}/verification/situations/{number}"
            return situation_renderer.render(vehicle, number, issued_at, url)

        issued = await requests.call(functools.partial(
            requests.issue_situation, principal.account_id, principal.given_name,
            principal.family_name, plate, render,
        ))
        return Response(
            issued.pdf, media_type="application/pdf",
            headers={"Content-Disposition":
                     f'attachment; filename="certificat-situation-{issued.number}.pdf"'},
        )

    @get(
        "/verification/situations/{number:str}",
        summary="Check a certificat de situation administrative by its number (the QR code)",
        description="Public: what the CSA said when it was issued, without personal data.",
        responses=error_responses(400, 404, 422, why={
            404: "No CSA with this number", 422: "A number longer than any CSA's",
        }),
    )
    async def verify(
        self, number: Annotated[str, Parameter(max_length=40)], requests: RequestsApplication
    ) -> Response[dict[str, Any]]:
        found = await requests.call(requests.situation, number)
        if found is None:
            return error_body(
                404, "Aucun certificat de situation administrative ne porte ce numéro."
            )
        return Response({
            "number": found.number, "plate": found.plate, "issued_at": found.issued_at,
            **found.facts,
        })
