"""The duplicate request, step by step, as the user guide shows it.

Each step is a page of its own; which step a dossier is at comes from the requests service
(`next_action`), so « Reprendre la demande en cours » always lands on the right page and a
page opened out of turn sends the person to the right one.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from portal_service.clients import ApiError, Services
from portal_service.settings import Settings
from portal_service.web.common import FormErrors, User, flash, new_form_token, render
from portal_service.web.deps import (
    GuardDep,
    HttpRequest,
    PathUUID,
    ServicesDep,
    SettingsDep,
    UserDep,
)

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

REQUEST_FIELDS = ("reason", "person", "special_case", "plate")
DECLARATION_FIELDS = ("declarations", "sworn_statement", "legal_terms")
CARD_FIELDS = ("card_number", "expiry", "cvv")
UPLOAD_FIELDS = ("file",)
REPLY_FIELDS = ("text", "file")
DOCUMENT_FIELDS = ("file", "text")

# next_action.code (requests service) -> the page of that step
STEPS = {
    "declare": "declarations",
    "submit": "declarations",
    "send_declaration": "declaration-de-vol",
    "send_documents": "pieces",
    "wait_cert": "controle",
    "pay": "recapitulatif",
    "wait_certificate": "fin",
    "download": "fin",
}


def step_of(dossier: dict[str, Any]) -> str:
    action = dossier.get("next_action") or {}
    return STEPS.get(action.get("code", ""), "fin")


def step_url(dossier: dict[str, Any]) -> str:
    return f"/dossiers/{dossier['dossier_id']}/{step_of(dossier)}"


def payment_step(dossier_id: str, status: dict[str, Any] | None) -> str | None:
    """Where a payment already under way continues: recording it, or the end page."""
    if status and status.get("status") == "authorised" and status.get("payment_id"):
        return f"/dossiers/{dossier_id}/paiement/{status['payment_id']}"
    if status and status.get("status") == "paid":
        return f"/dossiers/{dossier_id}/fin"
    return None


def thread_of(dossier: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages, with the CERT's latest decision note where it was written."""
    note = dossier.get("latest_cert_note")
    entries = list(messages)
    if note and note.get("note"):
        entries.append({
            "kind": "decision", "author_role": "cert_agent", "text": note["note"],
            "at": note.get("at") or "", "decision": note.get("decision"),
            "reason": note.get("reason"), "document_id": None,
        })
    return sorted(entries, key=lambda entry: str(entry.get("at") or ""))


def documents_received(dossier: dict[str, Any]) -> list[str]:
    """The documents the dossier shows as received, of every kind."""
    received = list(dossier.get("declaration_documents") or [])
    for required in dossier.get("required_documents") or []:
        received += required.get("document_ids") or []
    return received


def notice_of(documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The definitive certificate's dispatch notice, shown with the certificate's progress."""
    return next((d for d in documents if d.get("kind") == "avis_expedition"), None)


def checked(data: dict[str, Any], name: str) -> bool:
    return str(data.get(name, "")).lower() in {"oui", "on", "true", "1"}


def upload_of(data: dict[str, Any], name: str = "file") -> UploadFile | None:
    upload = data.get(name)
    return upload if isinstance(upload, UploadFile) and upload.filename else None


class ProcedureController(Controller):
    # --- 1. the request ------------------------------------------------------------------

    @get("/demarches/duplicata", name="procedure.new")
    async def new_request(self, request: HttpRequest, user: UserDep) -> Template:
        return render(request, "procedure/new.html", values={}, form_token=new_form_token())

    @post("/demarches/duplicata")
    async def start(
        self, request: HttpRequest, data: Form, user: UserDep, services: ServicesDep,
        guard: GuardDep,
    ) -> Template | Redirect:
        values = {
            "reason": str(data.get("reason", "")),
            "person": str(data.get("person", "")),
            "special_case": checked(data, "special_case"),
            "plate": str(data.get("plate", "")).strip(),
        }
        async with guard.once(f"{user.account_id}:start", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            try:
                dossier = await services.start_dossier(user.token, values)
            except ApiError as error:
                return render(
                    request, "procedure/new.html", status=error.status, values=values,
                    errors=FormErrors.of(error, REQUEST_FIELDS), form_token=new_form_token(),
                )
            outcome.result = f"/dossiers/{dossier['dossier_id']}/declarations"
            return Redirect(outcome.result)

    @get("/dossiers/{dossier_id:uuid}", name="procedure.resume")
    async def resume(self, dossier_id: PathUUID, user: UserDep, services: ServicesDep) -> Redirect:
        """« Reprendre la demande en cours »: the page of the dossier's current step."""
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) == "recapitulatif":
            already = await self._payment_in_progress(services, user, str(dossier_id))
            if already:
                return Redirect(already)
        return Redirect(step_url(dossier))

    @get("/dossiers/{dossier_id:uuid}/etat", name="procedure.state")
    async def state(
        self, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> dict[str, Any]:
        """What the waiting pages poll: they reload when the dossier changes."""
        dossier = await services.dossier(user.token, str(dossier_id))
        return {"status": dossier["status"], "version": dossier["version"]}

    # --- 2. the legal declarations, « Valider » ----------------------------------------

    @get("/dossiers/{dossier_id:uuid}/declarations", name="procedure.declarations")
    async def declarations(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) != "declarations":
            return Redirect(step_url(dossier))
        return render(
            request, "procedure/declarations.html", dossier=dossier,
            values=dossier.get("declarations") or {}, form_token=new_form_token(),
        )

    @post("/dossiers/{dossier_id:uuid}/declarations")
    async def validate(
        self, request: HttpRequest, dossier_id: PathUUID, data: Form, user: UserDep,
        services: ServicesDep, guard: GuardDep,
    ) -> Template | Redirect:
        sworn, legal = checked(data, "sworn_statement"), checked(data, "legal_terms")
        async with guard.once(f"{user.account_id}:validate", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            dossier = await services.dossier(user.token, str(dossier_id))
            if step_of(dossier) != "declarations":
                return Redirect(step_url(dossier))
            try:
                if not dossier.get("declarations"):
                    await services.declare(user.token, str(dossier_id), sworn, legal)
                dossier = await services.submit(user.token, str(dossier_id))
            except ApiError as error:
                return render(
                    request, "procedure/declarations.html", status=error.status, dossier=dossier,
                    values={"sworn_statement": sworn, "legal_terms": legal},
                    errors=FormErrors.of(error, DECLARATION_FIELDS), form_token=new_form_token(),
                )
            outcome.result = step_url(dossier)
            return Redirect(outcome.result)

    # --- 3. the summary and the payment -------------------------------------------------

    @get("/dossiers/{dossier_id:uuid}/recapitulatif", name="procedure.summary")
    async def summary(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) != "recapitulatif":
            return Redirect(step_url(dossier))
        return render(request, "procedure/summary.html", dossier=dossier)

    @get("/dossiers/{dossier_id:uuid}/paiement", name="procedure.payment")
    async def payment_form(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) != "recapitulatif":
            return Redirect(step_url(dossier))
        already = await self._payment_in_progress(services, user, str(dossier_id))
        if already:
            return Redirect(already)
        return render(
            request, "procedure/payment.html", dossier=dossier, values={},
            form_token=new_form_token(),
        )

    @post("/dossiers/{dossier_id:uuid}/paiement")
    async def pay(
        self, request: HttpRequest, dossier_id: PathUUID, data: Form, user: UserDep,
        services: ServicesDep, guard: GuardDep, settings: SettingsDep,
    ) -> Template | Redirect:
        card = {name: str(data.get(name, "")).strip() for name in CARD_FIELDS}
        token = str(data.get("form_token") or new_form_token())
        async with guard.once(f"{user.account_id}:pay", token) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            dossier = await services.dossier(user.token, str(dossier_id))
            if step_of(dossier) != "recapitulatif":
                return Redirect(step_url(dossier))
            response = await services.authorise(user.token, str(dossier_id), card, token)
            if response.status_code in (200, 201):
                outcome.result = f"/dossiers/{dossier_id}/paiement/{response.json()['payment_id']}"
                return Redirect(outcome.result)
            if response.status_code == 409:  # a payment already exists: go on with it
                already = payment_step(
                    str(dossier_id), await services.payment_status(user.token, str(dossier_id))
                )
                if already:
                    outcome.result = already
                    return Redirect(already)
            errors = FormErrors.of(ApiError.from_response(response), CARD_FIELDS)
            card["cvv"] = ""  # never shown back
            return render(
                request, "procedure/payment.html", status=response.status_code, dossier=dossier,
                values=card, errors=errors, form_token=new_form_token(),
            )

    @staticmethod
    async def _payment_in_progress(services: Services, user: User, dossier_id: str) -> str | None:
        return payment_step(dossier_id, await services.payment_status(user.token, dossier_id))

    @get("/dossiers/{dossier_id:uuid}/paiement/{payment_id:uuid}", name="procedure.record")
    async def record_form(
        self, request: HttpRequest, dossier_id: PathUUID, payment_id: PathUUID, user: UserDep,
        services: ServicesDep,
    ) -> Template | Redirect:
        payment = await services.payment(user.token, str(payment_id))
        if str(payment["dossier_id"]) != str(dossier_id):
            return Redirect(f"/dossiers/{payment['dossier_id']}")
        if payment["status"] == "recorded":
            return Redirect(f"/dossiers/{dossier_id}/fin")
        dossier = await services.dossier(user.token, str(dossier_id))
        return render(
            request, "procedure/record.html", dossier=dossier, payment=payment,
            form_token=new_form_token(),
        )

    @post("/dossiers/{dossier_id:uuid}/paiement/{payment_id:uuid}")
    async def record(
        self, request: HttpRequest, dossier_id: PathUUID, payment_id: PathUUID, data: Form,
        user: UserDep, services: ServicesDep, guard: GuardDep,
    ) -> Template | Redirect:
        async with guard.once(f"{user.account_id}:record", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            try:
                await services.record(user.token, str(payment_id))
            except ApiError as error:
                payment = await services.payment(user.token, str(payment_id))
                dossier = await services.dossier(user.token, str(dossier_id))
                return render(
                    request, "procedure/record.html", status=error.status, dossier=dossier,
                    payment=payment, errors=FormErrors.of(error, ()), form_token=new_form_token(),
                )
            outcome.result = f"/dossiers/{dossier_id}/fin"
            return Redirect(outcome.result)

    # --- 4. the end: the provisional certificate and the summary -----------------------

    @get("/dossiers/{dossier_id:uuid}/fin", name="procedure.end")
    async def end(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        status = dossier["status"]
        if status == "completed":
            documents = await self._certificate_documents(services, user, dossier)
            return render(
                request, "procedure/done.html", dossier=dossier, notice=notice_of(documents),
                documents=[d for d in documents if d is not notice_of(documents)],
            )
        if status == "cancelled":
            return render(request, "procedure/cancelled.html", dossier=dossier)
        if status == "ready_for_payment":
            payment = await services.payment_status(user.token, str(dossier_id))
            if not (payment and payment.get("status") == "paid"):
                return Redirect(f"/dossiers/{dossier_id}")
        elif status != "paid":
            return Redirect(step_url(dossier))
        return render(request, "procedure/preparing.html", dossier=dossier)

    @get("/dossiers/{dossier_id:uuid}/certificat-definitif", name="procedure.definitive")
    async def definitive(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template:
        """The end page's part on the definitive certificate, which it reloads alone when
        the dossier changes (the rest of the page, download links, stays put)."""
        dossier = await services.dossier(user.token, str(dossier_id))
        documents = await self._certificate_documents(services, user, dossier)
        return render(
            request, "procedure/definitive.html", dossier=dossier, notice=notice_of(documents)
        )

    @staticmethod
    async def _certificate_documents(
        services: Services, user: User, dossier: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The CPI first, then the summary, then the definitive certificate's dispatch notice
        once posted, with their size when the documents service says."""
        wanted = ("cpi", "recapitulatif", "avis_expedition")
        try:
            listed = {
                d["document_id"]: d
                for d in await services.documents(user.token, dossier["dossier_id"])
                if d.get("kind") in wanted
            }
        except ApiError:  # the links work without the sizes
            listed = {}
        refs = (dossier.get("certificate") or {}).get("documents") or []
        found = {ref["document_id"]: listed.get(ref["document_id"], ref) for ref in refs}
        found.update(listed)  # the notice is only known to the documents service
        return sorted(
            (d for d in found.values() if d.get("kind") in wanted),
            key=lambda d: wanted.index(d["kind"]),
        )

    # --- theft: the police declaration, the CERT's note, the reply ---------------------

    @get("/dossiers/{dossier_id:uuid}/declaration-de-vol", name="procedure.theft")
    async def theft_declaration(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep,
        settings: SettingsDep,
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) != "declaration-de-vol":
            return Redirect(step_url(dossier))
        return await self._theft_page(request, dossier, user, services, settings)

    async def _theft_page(
        self, request: Request[Any, Any, Any], dossier: dict[str, Any], user: User,
        services: Services, settings: Settings, status: int = 200,
        errors: FormErrors | None = None, values: dict[str, Any] | None = None,
    ) -> Template:
        note = dossier.get("latest_cert_note")
        rejected = bool(note and note.get("decision") == "rejected")
        template = "procedure/cert_note.html" if rejected else "procedure/theft_upload.html"
        messages = await services.messages(user.token, dossier["dossier_id"]) if rejected else []
        return render(
            request, template, status=status, dossier=dossier, note=note, messages=messages,
            max_upload=settings.portal_max_upload_bytes, values=values or {},
            errors=errors or FormErrors(), form_token=new_form_token(),
        )

    @post("/dossiers/{dossier_id:uuid}/declaration-de-vol")
    async def send_declaration(
        self, request: HttpRequest, dossier_id: PathUUID, data: Multipart, user: UserDep,
        services: ServicesDep, guard: GuardDep, settings: SettingsDep,
    ) -> Template | Redirect:
        async with guard.once(f"{user.account_id}:theft", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            dossier = await services.dossier(user.token, str(dossier_id))
            if step_of(dossier) != "declaration-de-vol":
                return Redirect(step_url(dossier))
            try:
                document_id = await self._upload(services, user, dossier, upload_of(data), settings)
            except ApiError as error:
                return await self._theft_page(
                    request, dossier, user, services, settings, status=error.status,
                    errors=FormErrors.of(error, UPLOAD_FIELDS),
                )
            await self._until_received(services, user, dossier, document_id, settings)
            flash(request, "Votre déclaration de vol a bien été transmise au CERT.", "success")
            outcome.result = f"/dossiers/{dossier_id}/controle"
            return Redirect(outcome.result)

    @post("/dossiers/{dossier_id:uuid}/reponse")
    async def reply(
        self, request: HttpRequest, dossier_id: PathUUID, data: Multipart, user: UserDep,
        services: ServicesDep, guard: GuardDep, settings: SettingsDep,
    ) -> Template | Redirect:
        """The reply to the CERT's note: a text, and a new document when one is needed."""
        text = str(data.get("text", ""))
        upload = upload_of(data)
        async with guard.once(f"{user.account_id}:reply", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            dossier = await services.dossier(user.token, str(dossier_id))
            if step_of(dossier) in ("controle", "pieces"):  # a question: text only
                return await self._reply_while_under_review(
                    request, dossier, user, services, text, outcome
                )
            if step_of(dossier) != "declaration-de-vol":
                return Redirect(step_url(dossier))
            document_id = None
            try:
                if upload is not None:
                    document_id = await self._upload(services, user, dossier, upload, settings)
                await services.post_message(user.token, str(dossier_id), text, document_id)
                sent = "Votre réponse a été envoyée au CERT."
            except ApiError as error:
                if document_id is None:
                    return await self._theft_page(
                        request, dossier, user, services, settings, status=error.status,
                        errors=FormErrors.of(error, REPLY_FIELDS), values={"text": text},
                    )
                sent = f"Votre nouveau document a été transmis, mais pas votre message : {error}"
            if document_id is None:
                flash(request, sent, "success")
                outcome.result = f"/dossiers/{dossier_id}/declaration-de-vol"
                return Redirect(outcome.result)
            await self._until_received(services, user, dossier, document_id, settings)
            flash(request, f"{sent} Votre nouveau document est en attente de contrôle.", "success")
            outcome.result = f"/dossiers/{dossier_id}/controle"
            return Redirect(outcome.result)

    async def _upload(
        self, services: Services, user: User, dossier: dict[str, Any],
        upload: UploadFile | None, settings: Settings, kind: str = "declaration_vol",
    ) -> str:
        """Send the file to the documents service (which waits, if need be, for the news that
        the dossier awaits a document of that kind)."""
        if upload is None:
            content, filename, media_type = b"", "", "application/octet-stream"
        else:
            content, filename = await upload.read(), upload.filename
            media_type = upload.content_type or "application/octet-stream"
        response = await services.upload_declaration(
            user.token, dossier["dossier_id"], filename, content, media_type, kind
        )
        if response.status_code == 201:
            return str(response.json()["document_id"])
        error = ApiError.from_response(response)
        raise ApiError(error.status, error.message, [("file", error.message)])

    @staticmethod
    async def _until_received(
        services: Services, user: User, dossier: dict[str, Any], document_id: str,
        settings: Settings,
    ) -> None:
        """Wait (each call returns at the dossier's next change) until the dossier shows the
        new document, so that the next page tells the truth."""
        deadline = time.monotonic() + settings.portal_catch_up_seconds
        while document_id not in documents_received(dossier):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            dossier = await services.dossier(
                user.token, dossier["dossier_id"], wait_version=dossier["version"],
                timeout=remaining,
            )

    # --- supporting documents: a mandate, a deed of sale, identity documents -----------

    @get("/dossiers/{dossier_id:uuid}/pieces", name="procedure.documents")
    async def documents_page(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep,
        settings: SettingsDep,
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) != "pieces":
            return Redirect(step_url(dossier))
        return await self._documents_page(request, dossier, user, services, settings)

    async def _documents_page(
        self, request: Request[Any, Any, Any], dossier: dict[str, Any], user: User,
        services: Services, settings: Settings, status: int = 200, kind: str = "",
        errors: FormErrors | None = None, values: dict[str, Any] | None = None,
    ) -> Template:
        kind_errors = {
            d["kind"]: FormErrors(fields=DOCUMENT_FIELDS, prefix=f"{d['kind']}-")
            for d in dossier.get("required_documents") or []
        }
        if errors is not None and kind in kind_errors:
            kind_errors[kind] = FormErrors(errors.items, DOCUMENT_FIELDS, f"{kind}-")
        messages = await services.messages(user.token, dossier["dossier_id"])
        return render(
            request, "procedure/documents.html", status=status, dossier=dossier,
            messages=thread_of(dossier, messages), max_upload=settings.portal_max_upload_bytes,
            errors=kind_errors.get(kind) or errors or FormErrors(), kind_errors=kind_errors,
            values={"kind": kind, **(values or {})}, form_token=new_form_token(),
        )

    @post("/dossiers/{dossier_id:uuid}/pieces")
    async def send_document(
        self, request: HttpRequest, dossier_id: PathUUID, data: Multipart, user: UserDep,
        services: ServicesDep, guard: GuardDep, settings: SettingsDep,
    ) -> Template | Redirect:
        """One supporting document, with a word for the CERT when it replaces a refused one."""
        kind, text = str(data.get("kind", "")), str(data.get("text", "")).strip()
        async with guard.once(f"{user.account_id}:document", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            dossier = await services.dossier(user.token, str(dossier_id))
            if step_of(dossier) != "pieces":
                return Redirect(step_url(dossier))
            try:
                document_id = await self._upload(
                    services, user, dossier, upload_of(data), settings, kind
                )
            except ApiError as error:
                return await self._documents_page(
                    request, dossier, user, services, settings, status=error.status, kind=kind,
                    errors=FormErrors.of(error, DOCUMENT_FIELDS), values={"text": text},
                )
            sent = "Votre document a bien été transmis au CERT."
            if text:
                try:
                    await services.post_message(user.token, str(dossier_id), text, document_id)
                except ApiError as error:
                    sent = f"Votre document a été transmis, mais pas votre message : {error}"
            await self._until_received(services, user, dossier, document_id, settings)
            flash(request, sent, "success")
            outcome.result = f"/dossiers/{dossier_id}"
            return Redirect(outcome.result)

    @get("/dossiers/{dossier_id:uuid}/controle", name="procedure.review")
    async def under_review(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template | Redirect:
        dossier = await services.dossier(user.token, str(dossier_id))
        if step_of(dossier) != "controle":
            return Redirect(step_url(dossier))
        return await self._under_review_page(request, dossier, user, services)

    async def _under_review_page(
        self, request: Request[Any, Any, Any], dossier: dict[str, Any], user: User,
        services: Services, status: int = 200, errors: FormErrors | None = None,
        values: dict[str, Any] | None = None,
    ) -> Template:
        messages = await services.messages(user.token, dossier["dossier_id"])
        return render(
            request, "procedure/under_review.html", status=status, dossier=dossier,
            messages=thread_of(dossier, messages), values=values or {},
            errors=errors or FormErrors(), form_token=new_form_token(),
        )

    async def _reply_while_under_review(
        self, request: Request[Any, Any, Any], dossier: dict[str, Any], user: User,
        services: Services, text: str, outcome: Any,
    ) -> Template | Redirect:
        try:
            await services.post_message(user.token, dossier["dossier_id"], text, None)
        except ApiError as error:
            return await self._under_review_page(
                request, dossier, user, services, status=error.status,
                errors=FormErrors.of(error, REPLY_FIELDS), values={"text": text},
            )
        flash(request, "Votre réponse a été envoyée au CERT.", "success")
        outcome.result = f"/dossiers/{dossier['dossier_id']}/controle"
        return Redirect(outcome.result)

    # --- giving up ------------------------------------------------------------------------

    @get("/dossiers/{dossier_id:uuid}/abandon", name="procedure.cancel")
    async def cancel_form(
        self, request: HttpRequest, dossier_id: PathUUID, user: UserDep, services: ServicesDep
    ) -> Template:
        dossier = await services.dossier(user.token, str(dossier_id))
        return render(
            request, "procedure/cancel.html", dossier=dossier, form_token=new_form_token()
        )

    @post("/dossiers/{dossier_id:uuid}/abandon")
    async def cancel(
        self, request: HttpRequest, dossier_id: PathUUID, data: Form, user: UserDep,
        services: ServicesDep, guard: GuardDep,
    ) -> Template | Redirect:
        async with guard.once(f"{user.account_id}:cancel", data.get("form_token")) as outcome:
            if outcome.previous:
                return Redirect(outcome.previous)
            try:
                dossier = await services.cancel(user.token, str(dossier_id))
            except ApiError as error:
                dossier = await services.dossier(user.token, str(dossier_id))
                return render(
                    request, "procedure/cancel.html", status=error.status, dossier=dossier,
                    errors=FormErrors.of(error, ()), form_token=new_form_token(),
                )
            flash(request, f"La demande {dossier['dossier_number']} est abandonnée.", "success")
            outcome.result = "/panier"
            return Redirect(outcome.result)
