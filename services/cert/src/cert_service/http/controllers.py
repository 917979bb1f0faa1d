"""The CERT back-office API: the review queue, one review, claim, reject, accept, write."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import Parameter
from msgspec import Struct

from ants_runtime.auth import Principal
from ants_runtime.http import NON_BLANK, Forbidden, error_responses, rule
from cert_service.application import Agent, CertApplication
from cert_service.domain.review import DOCUMENT_KINDS, MAX_TEXT_LENGTH, REJECTION_REASONS
from cert_service.http.views import DOCUMENT_LABELS, review_view
from cert_service.queue import STATUS_FILTERS

CERT_ONLY = "Cet espace est réservé aux agents du CERT."
READ_ONLY = "Les auditeurs peuvent consulter les pièces mais pas les traiter."


Text = Annotated[str, rule(pattern=NON_BLANK, max_length=MAX_TEXT_LENGTH)]


class Rejection(Struct):
    reason: Annotated[str, rule(schema_extra={"enum": list(REJECTION_REASONS)})]
    note: Text  # read by the citizen: what to send instead


class Acceptance(Struct):
    note: Annotated[str, rule(max_length=MAX_TEXT_LENGTH)] = ""


class AgentMessage(Struct):
    text: Text


WHY = {
    403: "Not a CERT agent (auditors may read, not act)",
    404: "No such review",
    409: "Already decided, claimed by another agent, closed, or changed concurrently",
}


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

    @get(
        "/", summary="The queue, oldest first; each review says the kind of its document",
        responses=error_responses(400, 401, 403, 422, why=WHY),
    )
    async def queue(
        self, principal: Principal, cert: CertApplication,
        status: Annotated[str, Parameter(schema_extra={"enum": list(STATUS_FILTERS)})] = "pending",
        kind: Annotated[str | None, Parameter(
            description="Only the reviews of this kind of supporting document.",
            schema_extra={"enum": list(DOCUMENT_KINDS)},
        )] = None,
    ) -> list[dict[str, Any]]:
        reader(principal)
        rows = await cert.call(cert.reviews, status, kind)
        return [{**row, "kind_label": DOCUMENT_LABELS.get(row["kind"])} for row in rows]

    @get(
        "/{review_id:uuid}", summary="One review: document, dossier facts, thread, decisions",
        responses=error_responses(400, 401, 403, 404, why=WHY),
    )
    async def read(
        self, review_id: UUID, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        reader(principal)
        return review_view(await cert.call(cert.review_file, review_id))

    @post(
        "/{review_id:uuid}/claim", status_code=200, summary="Take the review",
        responses=error_responses(400, 401, 403, 404, 409, why=WHY),
    )
    async def claim(
        self, review_id: UUID, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        await cert.call(cert.claim, review_id, agent(principal))
        return review_view(await cert.call(cert.review_file, review_id))

    @post(
        "/{review_id:uuid}/reject", status_code=200, summary="Reject the document, with a note",
        responses=error_responses(400, 401, 403, 404, 409, 422, why=WHY),
    )
    async def reject(
        self, review_id: UUID, data: Rejection, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        await cert.call(cert.reject, review_id, agent(principal), data.reason, data.note)
        return review_view(await cert.call(cert.review_file, review_id))

    @post(
        "/{review_id:uuid}/accept", status_code=200, summary="Accept the document",
        responses=error_responses(400, 401, 403, 404, 409, 422, why=WHY),
    )
    async def accept(
        self, review_id: UUID, principal: Principal, cert: CertApplication,
        data: Acceptance | None = None,
    ) -> dict[str, Any]:
        note = data.note if data else ""
        await cert.call(cert.accept, review_id, agent(principal), note)
        return review_view(await cert.call(cert.review_file, review_id))

    @post(
        "/{review_id:uuid}/messages", summary="Write to the citizen about the dossier",
        responses=error_responses(400, 401, 403, 404, 409, 422, why=WHY),
    )
    async def post_message(
        self, review_id: UUID, data: AgentMessage, principal: Principal, cert: CertApplication
    ) -> dict[str, Any]:
        author = agent(principal)
        return await cert.call(cert.post_agent_message, review_id, author, data.text)
