"""The dossier API: start, declare, submit, read, the basket, the thread and the history."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter
from msgspec import Struct

from ants_runtime.auth import Principal, VerifiedIdentity
from ants_runtime.http import NON_BLANK, Forbidden, error_responses, require_role, rule
from ants_runtime.projection import Projector
from ants_runtime.service import ServiceRuntime
from requests_service.application import RequestsApplication
from requests_service.domain.dossier import MESSAGE_MAX_LENGTH, PERSONS, REASONS, Dossier
from requests_service.domain.errors import NotYourDossier
from requests_service.domain.plates import PLATE_MAX_LENGTH
from requests_service.http.pages import ListBeingUpdated, decode_cursor, page_links
from requests_service.http.views import dossier_view, history_view

STAFF_READERS = ("cert_agent", "auditor")
LIST_WAIT_SECONDS = 5.0


class NewDossier(Struct):
    reason: Annotated[str, rule(schema_extra={"enum": list(REASONS)})]
    person: Annotated[str, rule(schema_extra={"enum": list(PERSONS)})]
    plate: Annotated[str, rule(
        pattern=NON_BLANK, max_length=PLATE_MAX_LENGTH,
        description="SIV format AB-123-CD (spaces or no dashes accepted); an old FNI number "
        "(1234 AB 56) is refused: it needs a change of title, not a duplicate.",
    )]
    special_case: bool = False


class Declarations(Struct):
    sworn_statement: bool = False
    legal_terms: bool = False


class NewMessage(Struct):
    text: Annotated[str, rule(pattern=NON_BLANK, max_length=MESSAGE_MAX_LENGTH)]
    document_id: Annotated[UUID | None, rule(
        description="A supporting document sent for this dossier (see `required_documents`).",
    )] = None


WHY = {
    403: "Not the caller's dossier, or not a role that may do this",
    404: "No such dossier",
    409: "Not possible in the dossier's current state, or changed concurrently",
}


IDENTITY_NOT_VERIFIED = (
    "Pour demander un duplicata, votre identité doit être vérifiée : un compte créé avec une "
    "adresse e-mail et un mot de passe permet de suivre vos demandes, pas d'en commencer une "
    "pour un véhicule. Déconnectez-vous puis cliquez sur « S'identifier avec FranceConnect »."
)


def require_verified_identity(principal: Principal) -> VerifiedIdentity:
    """Only a person an identity provider vouched for may claim a vehicle by name: the names
    someone typed when registering prove nothing."""
    if principal.verified is None:
        raise Forbidden(IDENTITY_NOT_VERIFIED)
    return principal.verified


def check_owner(dossier: Dossier, principal: Principal) -> None:
    if dossier.account_id != principal.account_id:
        raise NotYourDossier


def check_reader(dossier: Dossier, principal: Principal) -> None:
    if dossier.account_id != principal.account_id and not principal.has_role(*STAFF_READERS):
        raise NotYourDossier


class DossiersController(Controller):
    path = "/dossiers"
    tags = ["dossiers"]

    @post(
        "/", summary="Start a duplicate request",
        responses=error_responses(400, 401, 403, 409, 422, 503, why={
            403: "Not a citizen, an identity not verified by an identity provider "
            "(FranceConnect), or not the holder or co-holder of the vehicle in the SIV",
            409: "A request is already in progress for this vehicle",
            503: "Too many concurrent requests for the vehicle: retry",
        }),
    )
    async def start(
        self, data: NewDossier, principal: Principal, requests: RequestsApplication
    ) -> dict[str, Any]:
        require_role(principal, "citizen")
        verified = require_verified_identity(principal)
        dossier = await requests.call(
            requests.start, principal.account_id, verified.given_name, verified.family_name,
            data.reason, data.person, data.special_case, data.plate, verified.birthdate,
        )
        return dossier_view(dossier, requests)

    @get(
        "/", summary="The caller's basket: dossiers in progress, newest first, a page at a time",
        description="A dossier the caller has just started is listed at once. The `Link` "
        "header (RFC 8288) points at the next page (`rel=\"next\"`, older dossiers) and the "
        "previous one (`rel=\"prev\"`) when there are such pages. Their opaque `cursor` "
        "stays valid while new dossiers are started: those appear on the first page.",
        response_headers=[ResponseHeader(
            name="Link", documentation_only=True, required=False,
            description='e.g. `</dossiers?limit=20&cursor=bzEyMw>; rel="next"`; absent on a '
            "single page.",
        )],
        responses=error_responses(400, 401, 422, 503, why={
            503: "The list is still being brought up to date: retry after Retry-After",
        }),
    )
    async def basket(
        self, request: Request[Any, Any, Any], principal: Principal,
        requests: RequestsApplication, dossier_list: Projector[Any],
        all: Annotated[bool, Parameter(
            description="Also the finished and cancelled dossiers (by default only those in "
            "progress).",
        )] = False,
        limit: Annotated[int, Parameter(
            ge=1, le=100, description="How many dossiers per page (20 by default, 100 at most).",
        )] = 20,
        cursor: Annotated[str | None, Parameter(
            max_length=64, description="Which page: the `cursor` of a `Link` header's "
            "`next` or `prev` URL; the first page without it.",
        )] = None,
    ) -> Response[list[dict[str, Any]]]:
        older_than, newer_than = decode_cursor(cursor)
        if not await dossier_list.caught_up(LIST_WAIT_SECONDS):
            raise ListBeingUpdated()
        page = await requests.call(
            requests.dossiers_page, principal.account_id, all, limit, older_than, newer_than
        )
        query = {"all": "true", "limit": limit} if all else {"limit": limit}
        return Response(
            [dossier_view(d, requests) for d in page.dossiers],
            headers=page_links(request.url.path, query, page.older_than, page.newer_than),
        )

    @get(
        "/{dossier_id:uuid}", summary="One dossier, rebuilt from its events",
        description="With `wait_version=N`, answers as soon as the dossier's version is above "
        "N (at once if it already is), or after `timeout` seconds with the dossier as it is: "
        "a client waits for the next change without polling.",
        responses=error_responses(400, 401, 403, 404, 422, why=WHY),
    )
    async def read(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication,
        runtime: ServiceRuntime,
        wait_version: Annotated[int | None, Parameter(ge=0)] = None,
        timeout: Annotated[float, Parameter(gt=0, le=60)] = 10.0,
    ) -> dict[str, Any]:
        dossier = await requests.call(requests.get_dossier, dossier_id)
        check_reader(dossier, principal)
        if wait_version is not None and dossier.version <= wait_version:
            dossier = await runtime.wait_for_change(
                dossier_id, lambda: requests.get_dossier(dossier_id),
                lambda found: found.version > wait_version, timeout,
            )
        return dossier_view(dossier, requests)

    @post(
        "/{dossier_id:uuid}/declarations", status_code=200, summary="Tick the legal declarations",
        responses=error_responses(400, 401, 403, 404, 409, 422, why=WHY),
    )
    async def declare(
        self, dossier_id: UUID, data: Declarations, principal: Principal,
        requests: RequestsApplication,
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        dossier = await requests.call(
            requests.declare, dossier_id, data.sworn_statement, data.legal_terms
        )
        return dossier_view(dossier, requests)

    @post(
        "/{dossier_id:uuid}/submit", status_code=200, summary="Validate the request",
        responses=error_responses(400, 401, 403, 404, 409, why=WHY),
    )
    async def submit(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        dossier = await requests.call(requests.submit, dossier_id)
        return dossier_view(dossier, requests)

    @post(
        "/{dossier_id:uuid}/cancel", status_code=200, summary="Give up a request before payment",
        responses=error_responses(400, 401, 403, 404, 409, why=WHY),
    )
    async def cancel(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        dossier = await requests.call(requests.cancel, dossier_id)
        return dossier_view(dossier, requests)

    @get(
        "/{dossier_id:uuid}/history", summary="The dossier's events, in order (audit)",
        responses=error_responses(400, 401, 403, 404, why=WHY),
    )
    async def history(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> list[dict[str, Any]]:
        dossier = await requests.call(requests.get_dossier, dossier_id)
        check_reader(dossier, principal)
        return history_view(await requests.call(requests.history, dossier_id))

    @get(
        "/{dossier_id:uuid}/messages", summary="The thread between the citizen and the CERT",
        responses=error_responses(400, 401, 403, 404, why=WHY),
    )
    async def messages(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> list[dict[str, Any]]:
        dossier = await requests.call(requests.get_dossier, dossier_id)
        check_reader(dossier, principal)
        return dossier.messages

    @post(
        "/{dossier_id:uuid}/messages", summary="Reply to the CERT",
        description="A `document_id` must be a document sent for this dossier; one "
        "sent a moment ago is waited for (503 with Retry-After if it is slow to arrive).",
        responses=error_responses(400, 401, 403, 404, 409, 422, 503, why=WHY),
    )
    async def post_message(
        self, dossier_id: UUID, data: NewMessage, principal: Principal,
        requests: RequestsApplication, runtime: ServiceRuntime,
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        if data.document_id is not None:  # an upload of a moment ago may still be on its way
            document_id = data.document_id
            await runtime.wait_for_fact(
                dossier_id, lambda: requests.has_document(dossier_id, document_id)
            )
        return await requests.call(
            requests.post_citizen_message, dossier_id, principal.account_id, data.text,
            data.document_id,
        )

    @staticmethod
    async def _owned(requests: RequestsApplication, dossier_id: UUID, principal: Principal) -> None:
        dossier = await requests.call(requests.get_dossier, dossier_id)
        check_owner(dossier, principal)


__all__ = ["DossiersController", "Forbidden"]
