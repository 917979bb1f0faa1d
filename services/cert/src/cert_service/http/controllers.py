"""The CERT back-office API: the review queue, one review, claim, reject, accept, write."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from litestar import Controller, get, post
from msgspec import Struct

from ants_runtime.auth import Principal
from ants_runtime.http import Forbidden
from cert_service.application import Agent, CertApplication
from cert_service.http.views import review_view

CERT_ONLY = "Cet espace est réservé aux agents du CERT."
READ_ONLY = "Les auditeurs peuvent consulter les pièces mais pas les traiter."


class Rejection(Struct):
    reason: str = ""
    note: str = ""


class Acceptance(Struct):
    note: str = ""


class AgentMessage(Struct):
    text: str = ""


def reader(principal: Principal) -> None:
    if not principal.has_role("cert_agent", "auditor"):
        raise Forbidden(detail=CERT_ONLY)


def agent(principal: Principal) -> Agent:
    if principal.has_role("cert_agent"):
        return Agent(principal.account_id, f"{principal.given_name} {principal.family_name}")
    raise Forbidden(detail=READ_ONLY if principal.has_role("auditor") else CERT_ONLY)


class ReviewsController(Controller):
    path = "/reviews"
    tags = ["reviews"]

    @get("/", summary="The queue, oldest first (status: pending, claimed, accepted, rejected, "
         "closed or all)")
    async def queue(
        self, principal: Principal, cert: CertApplication, status: str = "pending"
    ) -> list[dict[str, Any]]:
        reader(principal)
        return await asyncio.to_thread(cert.reviews, status)

    @get("/{review_id:uuid}", summary="One review: document, dossier facts, thread, decisions")
    async def read(
        self, review_id: UUID, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        reader(principal)
        return review_view(await asyncio.to_thread(cert.review_file, review_id))

    @post("/{review_id:uuid}/claim", status_code=200, summary="Take the review")
    async def claim(
        self, review_id: UUID, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        await asyncio.to_thread(cert.claim, review_id, agent(principal))
        return review_view(await asyncio.to_thread(cert.review_file, review_id))

    @post("/{review_id:uuid}/reject", status_code=200, summary="Reject the document, with a note")
    async def reject(
        self, review_id: UUID, data: Rejection, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        await asyncio.to_thread(cert.reject, review_id, agent(principal), data.reason, data.note)
        return review_view(await asyncio.to_thread(cert.review_file, review_id))

    @post("/{review_id:uuid}/accept", status_code=200, summary="Accept the document")
    async def accept(
        self, review_id: UUID, principal: Principal, cert: CertApplication,
        data: Acceptance | None = None,
    ) -> dict[str, Any]:
        note = data.note if data else ""
        await asyncio.to_thread(cert.accept, review_id, agent(principal), note)
        return review_view(await asyncio.to_thread(cert.review_file, review_id))

    @post("/{review_id:uuid}/messages", summary="Write to the citizen about the dossier")
    async def post_message(
        self, review_id: UUID, data: AgentMessage, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        author = agent(principal)
        return await asyncio.to_thread(cert.post_agent_message, review_id, author, data.text)
