"""The CERT back office: the queue of supporting documents, one review, the decision."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from portal_service.clients import ApiError, Services
from portal_service.labels import REJECTION_REASONS, SUPPORTING_DOCUMENTS
from portal_service.web.common import FormErrors, User, error_page, flash, new_form_token, render
from portal_service.web.deps import GuardDep, HttpRequest, PathUUID, ServicesDep, UserDep

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
REJECT_FIELDS = ("reason", "note")
ACCEPT_FIELDS = ("note",)
MESSAGE_FIELDS = ("text",)
NOT_AN_AGENT = "Cet espace est réservé aux agents du CERT."


class CertController(Controller):
    path = "/cert"

    @get("/", name="cert.queue")
    async def queue(
        self, request: HttpRequest, user: UserDep, services: ServicesDep,
        piece: FromQuery[str | None] = None,
    ) -> Template:
        """The reviews to do, of every kind of document or of the one the agent chose."""
        if not user.is_agent:
            return error_page(request, 403, "Accès refusé", NOT_AN_AGENT, back="/mon-espace")
        kind = piece if piece in SUPPORTING_DOCUMENTS else None
        pending = await services.reviews(user.token, "pending", kind)
        claimed = await services.reviews(user.token, "claimed", kind)
        return render(
            request, "cert/queue.html", pending=pending, claimed=claimed, kind=kind or ""
        )

    @get("/revues/{review_id:uuid}", name="cert.review")
    async def review(
        self, request: HttpRequest, review_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template:
        if not user.is_agent:
            return error_page(request, 403, "Accès refusé", NOT_AN_AGENT, back="/mon-espace")
        return await self._page(request, user, services, str(review_id))

    async def _page(
        self, request: Request[Any, Any, Any], user: User, services: Services, review_id: str,
        status: int = 200, **forms: Any,
    ) -> Template:
        review = await services.review(user.token, review_id)
        context: dict[str, Any] = {
            "reject_errors": FormErrors(fields=REJECT_FIELDS),
            "accept_errors": FormErrors(fields=ACCEPT_FIELDS, prefix="accept-"),
            "message_errors": FormErrors(fields=MESSAGE_FIELDS, prefix="message-"),
            "reject_values": {}, "accept_values": {}, "message_values": {},
        }
        context.update(forms)
        return render(
            request, "cert/review.html", status=status, review=review,
            reasons=review.get("rejection_reasons")
            or [{"code": c, "label": label} for c, label in REJECTION_REASONS.items()],
            form_token=new_form_token(), **context,
        )

    @post("/revues/{review_id:uuid}/prise-en-charge")
    async def claim(
        self, request: HttpRequest, review_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        try:
            await services.claim(user.token, str(review_id))
        except ApiError as error:
            flash(request, error.message, "error")
        return Redirect(f"/cert/revues/{review_id}")

    @post("/revues/{review_id:uuid}/refus")
    async def reject(
        self, request: HttpRequest, review_id: PathUUID, data: Form, user: UserDep,
        services: ServicesDep, guard: GuardDep,
    ) -> Template | Redirect:
        values = {"reason": str(data.get("reason", "")), "note": str(data.get("note", ""))}
        async with guard.once(f"{user.account_id}:reject", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            try:
                review = await services.reject(
                    user.token, str(review_id), values["reason"], values["note"]
                )
            except ApiError as error:
                return await self._page(
                    request, user, services, str(review_id), status=error.status,
                    reject_errors=FormErrors.of(error, REJECT_FIELDS), reject_values=values,
                )
            label = (review.get("decision") or {}).get("reason_label") or REJECTION_REASONS.get(
                values["reason"], values["reason"]
            )
            flash(request, f"Pièce refusée ({label}) pour le dossier "
                  f"{review['dossier'].get('dossier_number') or ''} : le demandeur est prévenu.",
                  "success")
            outcome.result = "/cert"
            return Redirect(outcome.result)

    @post("/revues/{review_id:uuid}/acceptation")
    async def accept(
        self, request: HttpRequest, review_id: PathUUID, data: Form, user: UserDep,
        services: ServicesDep, guard: GuardDep,
    ) -> Template | Redirect:
        values = {"note": str(data.get("note", ""))}
        async with guard.once(f"{user.account_id}:accept", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            try:
                review = await services.accept(user.token, str(review_id), values["note"])
            except ApiError as error:
                return await self._page(
                    request, user, services, str(review_id), status=error.status,
                    accept_errors=FormErrors.of(error, ACCEPT_FIELDS, "accept-"),
                    accept_values=values,
                )
            flash(request, "Pièce acceptée pour le dossier "
                  f"{review['dossier'].get('dossier_number') or ''} : le demandeur peut payer.",
                  "success")
            outcome.result = "/cert"
            return Redirect(outcome.result)

    @post("/revues/{review_id:uuid}/message")
    async def message(
        self, request: HttpRequest, review_id: PathUUID, data: Form, user: UserDep,
        services: ServicesDep, guard: GuardDep,
    ) -> Template | Redirect:
        values = {"text": str(data.get("text", ""))}
        key = f"{user.account_id}:agent-message"
        async with guard.once(key, data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            try:
                await services.agent_message(user.token, str(review_id), values["text"])
            except ApiError as error:
                return await self._page(
                    request, user, services, str(review_id), status=error.status,
                    message_errors=FormErrors.of(error, MESSAGE_FIELDS, "message-"),
                    message_values=values,
                )
            flash(request, "Votre message a été envoyé au demandeur.", "success")
            outcome.result = f"/cert/revues/{review_id}#fil"
            return Redirect(outcome.result)
