"""The dossier API: start, declare, submit, read, the basket, the thread and the history."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import Parameter
from msgspec import Struct

from ants_runtime.auth import Principal
from ants_runtime.http import Forbidden, require_role
from ants_runtime.service import ServiceRuntime
from requests_service.application import RequestsApplication
from requests_service.domain.dossier import Dossier
from requests_service.domain.errors import NotYourDossier
from requests_service.http.views import dossier_view, history_view

STAFF_READERS = ("cert_agent", "auditor")


class NewDossier(Struct):
    reason: str
    person: str
    plate: str
    special_case: bool = False


class Declarations(Struct):
    sworn_statement: bool = False
    legal_terms: bool = False


class NewMessage(Struct):
    text: str
    document_id: UUID | None = None


def check_owner(dossier: Dossier, principal: Principal) -> None:
    if dossier.account_id != principal.account_id:
        raise NotYourDossier


def check_reader(dossier: Dossier, principal: Principal) -> None:
    if dossier.account_id != principal.account_id and not principal.has_role(*STAFF_READERS):
        raise NotYourDossier


class DossiersController(Controller):
    path = "/dossiers"
    tags = ["dossiers"]

    @post("/", summary="Start a duplicate request")
    async def start(
        self, data: NewDossier, principal: Principal, requests: RequestsApplication
    ) -> dict[str, Any]:
        require_role(principal, "citizen")
        dossier = await asyncio.to_thread(
            requests.start, principal.account_id, principal.given_name, principal.family_name,
            data.reason, data.person, data.special_case, data.plate,
        )
        return dossier_view(dossier, requests)

    @get("/", summary="The caller's basket: dossiers in progress (all with ?all=true)")
    async def basket(
        self, principal: Principal, requests: RequestsApplication, all: bool = False
    ) -> list[dict[str, Any]]:
        dossiers = await asyncio.to_thread(requests.dossiers_of, principal.account_id)
        shown = [d for d in dossiers if all or d.is_open]
        return [dossier_view(d, requests) for d in reversed(shown)]

    @get(
        "/{dossier_id:uuid}", summary="One dossier, rebuilt from its events",
        description="With `wait_version=N`, answers as soon as the dossier's version is above "
        "N (at once if it already is), or after `timeout` seconds with the dossier as it is: "
        "a client waits for the next change without polling.",
    )
    async def read(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication,
        runtime: ServiceRuntime,
        wait_version: Annotated[int | None, Parameter(ge=0)] = None,
        timeout: Annotated[float, Parameter(gt=0, le=60)] = 10.0,
    ) -> dict[str, Any]:
        dossier = await asyncio.to_thread(requests.get_dossier, dossier_id)
        check_reader(dossier, principal)
        if wait_version is not None and dossier.version <= wait_version:
            dossier = await runtime.wait_for_change(
                dossier_id, lambda: requests.get_dossier(dossier_id),
                lambda found: found.version > wait_version, timeout,
            )
        return dossier_view(dossier, requests)

    @post("/{dossier_id:uuid}/declarations", status_code=200, summary="Tick the legal declarations")
    async def declare(
        self, dossier_id: UUID, data: Declarations, principal: Principal,
        requests: RequestsApplication,
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        dossier = await asyncio.to_thread(
            requests.declare, dossier_id, data.sworn_statement, data.legal_terms
        )
        return dossier_view(dossier, requests)

    @post("/{dossier_id:uuid}/submit", status_code=200, summary="Validate the request")
    async def submit(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        dossier = await asyncio.to_thread(requests.submit, dossier_id)
        return dossier_view(dossier, requests)

    @post("/{dossier_id:uuid}/cancel", status_code=200, summary="Give up a request before payment")
    async def cancel(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        dossier = await asyncio.to_thread(requests.cancel, dossier_id)
        return dossier_view(dossier, requests)

    @get("/{dossier_id:uuid}/history", summary="The dossier's events, in order (audit)")
    async def history(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> list[dict[str, Any]]:
        dossier = await asyncio.to_thread(requests.get_dossier, dossier_id)
        check_reader(dossier, principal)
        return history_view(await asyncio.to_thread(requests.history, dossier_id))

    @get("/{dossier_id:uuid}/messages", summary="The thread between the citizen and the CERT")
    async def messages(
        self, dossier_id: UUID, principal: Principal, requests: RequestsApplication
    ) -> list[dict[str, Any]]:
        dossier = await asyncio.to_thread(requests.get_dossier, dossier_id)
        check_reader(dossier, principal)
        return dossier.messages

    @post("/{dossier_id:uuid}/messages", summary="Reply to the CERT")
    async def post_message(
        self, dossier_id: UUID, data: NewMessage, principal: Principal,
        requests: RequestsApplication,
    ) -> dict[str, Any]:
        await self._owned(requests, dossier_id, principal)
        return await asyncio.to_thread(
            requests.post_citizen_message, dossier_id, principal.account_id, data.text,
            data.document_id,
        )

    @staticmethod
    async def _owned(requests: RequestsApplication, dossier_id: UUID, principal: Principal) -> None:
        dossier = await asyncio.to_thread(requests.get_dossier, dossier_id)
        check_owner(dossier, principal)


__all__ = ["DossiersController", "Forbidden"]
