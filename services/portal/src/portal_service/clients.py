"""Clients of the services' public HTTP APIs: the portal's only way to know or change anything."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import structlog

from ants_runtime.tracing import inject_headers
from portal_service.once import FORM_KEY
from portal_service.settings import Settings

log = structlog.get_logger(__name__)

SERVICE_DOWN = (
    "Le service est momentanément indisponible. Réessayez dans quelques instants."
)


class ServiceUnavailable(Exception):
    """A service did not answer (down, restarting, or too slow)."""

    def __init__(self, service: str) -> None:
        super().__init__(SERVICE_DOWN)
        self.service = service


class SessionExpired(Exception):
    """A service refused the bearer token (401): the person must log in again."""


@dataclass
class ApiError(Exception):
    """A refusal from a service, with its French message and the fields it concerns."""

    status: int
    message: str
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    retry_after: str | None = None  # the service's Retry-After (429, 503), passed on

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = str(body.get("message") or body.get("detail") or SERVICE_DOWN)
        errors = [
            (str(item.get("field") or "") or None, str(item.get("message") or message))
            for item in body.get("errors") or []
            if isinstance(item, dict)
        ]
        return cls(
            response.status_code, message, errors or [(None, message)],
            response.headers.get("retry-after"),
        )


@dataclass(frozen=True)
class DossierPage:
    """A page of the person's dossiers, newest first, and the cursors of the pages around it
    (taken from the requests service's `Link` header; None: no such page)."""

    dossiers: list[dict[str, Any]]
    next_cursor: str | None = None
    previous_cursor: str | None = None


def link_cursor(response: httpx.Response, rel: str) -> str | None:
    url = response.links.get(rel, {}).get("url")
    if not url:
        return None
    return parse_qs(urlsplit(url).query).get("cursor", [None])[0]


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    disposition: str | None


class Services:
    """One HTTP client for the five services; every call carries the person's bearer token."""

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(
            timeout=settings.portal_service_timeout_seconds, transport=transport
        )
        self._turns: dict[str, itertools.count[int]] = {}

    def _replicas(self, service: str) -> list[str]:
        """The service's replicas, starting with the next one in turn (calls are spread)."""
        urls = self.settings.service_urls(service)
        turn = next(self._turns.setdefault(service, itertools.count()))
        start = turn % len(urls)
        return urls[start:] + urls[:start]

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, service: str, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = inject_headers(dict(kwargs.pop("headers", None) or {}))  # the trace goes on
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method in ("POST", "PUT", "PATCH", "DELETE") and (form_key := FORM_KEY.get()):
            headers.setdefault("Idempotency-Key", form_key)  # a second copy of the form: see once.py
        response: httpx.Response | None = None
        for base in self._replicas(service):
            try:
                response = await self.http.request(method, f"{base}{path}", headers=headers, **kwargs)
                break
            except httpx.ConnectError as error:
                # Nothing was sent: another replica can take the call, whatever its method.
                log.warning("service.unreachable", service=service, path=path, error=type(error).__name__)
            except httpx.TransportError as error:
                log.warning("service.unreachable", service=service, path=path, error=type(error).__name__)
                raise ServiceUnavailable(service) from None
        if response is None:
            raise ServiceUnavailable(service)
        if response.status_code == 401 and token:
            raise SessionExpired
        if response.status_code in (502, 503, 504):
            raise ServiceUnavailable(service)
        return response

    async def json(
        self, service: str, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> Any:
        response = await self.call(service, method, path, token, **kwargs)
        if response.is_error:
            raise ApiError.from_response(response)
        return response.json()

    async def fetched(self, service: str, path: str, token: str) -> httpx.Response:
        """A GET whose body is passed on as it is (a file, a bundle), errors raised."""
        response = await self.call(service, "GET", path, token)
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    # --- identity ------------------------------------------------------------------------

    async def register(
        self, email: str, password: str, given_name: str, family_name: str,
        client: str | None = None,
    ) -> Any:
        """`client`: the person's address, counted by identity as for logins."""
        headers = {"X-Forwarded-For": client} if client else {}
        return await self.json("identity", "POST", "/accounts", json={
            "email": email, "password": password,
            "given_name": given_name, "family_name": family_name,
        }, headers=headers)

    async def login(self, email: str, password: str, client: str | None = None) -> str:
        """`client`: the person's address, so that identity counts failed logins per client
        (it trusts the portal's X-Forwarded-For, see FORWARDED_ALLOW_IPS)."""
        headers = {"X-Forwarded-For": client} if client else {}
        session = await self.json(
            "identity", "POST", "/sessions", json={"email": email, "password": password},
            headers=headers,
        )
        return str(session["access_token"])

    async def franceconnect_start(self) -> dict[str, str]:
        """Where to send the person to sign in with the identity provider, and the `state`
        to recognise their return by."""
        return dict(await self.json("identity", "POST", "/franceconnect/authorizations"))

    async def franceconnect_finish(self, state: str, code: str) -> str:
        session = await self.json(
            "identity", "POST", "/franceconnect/sessions", json={"state": state, "code": code}
        )
        return str(session["access_token"])

    async def me(self, token: str) -> dict[str, Any]:
        return await self.json("identity", "GET", "/me", token)

    # --- requests ------------------------------------------------------------------------

    async def start_dossier(self, token: str, form: dict[str, Any]) -> dict[str, Any]:
        return await self.json("requests", "POST", "/dossiers", token, json=form)

    async def dossier(
        self, token: str, dossier_id: str, wait_version: int | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The dossier; with `wait_version`, as soon as it changed from that version."""
        query = f"?wait_version={wait_version}&timeout={timeout:.1f}" if wait_version is not None else ""
        return await self.json("requests", "GET", f"/dossiers/{dossier_id}{query}", token)

    async def basket(
        self, token: str, everything: bool = False, cursor: str | None = None
    ) -> DossierPage:
        """One page of the basket (the first without a cursor), newest first."""
        params = {"all": "true"} if everything else {}
        if cursor:
            params["cursor"] = cursor
        response = await self.call("requests", "GET", "/dossiers", token, params=params)
        if response.is_error:
            raise ApiError.from_response(response)
        return DossierPage(
            response.json(), link_cursor(response, "next"), link_cursor(response, "prev")
        )

    async def declare(self, token: str, dossier_id: str, sworn: bool, legal: bool) -> Any:
        return await self.json(
            "requests", "POST", f"/dossiers/{dossier_id}/declarations", token,
            json={"sworn_statement": sworn, "legal_terms": legal},
        )

    async def submit(self, token: str, dossier_id: str) -> dict[str, Any]:
        return await self.json("requests", "POST", f"/dossiers/{dossier_id}/submit", token)

    async def cancel(self, token: str, dossier_id: str) -> dict[str, Any]:
        return await self.json("requests", "POST", f"/dossiers/{dossier_id}/cancel", token)

    async def messages(self, token: str, dossier_id: str) -> list[dict[str, Any]]:
        return await self.json("requests", "GET", f"/dossiers/{dossier_id}/messages", token)

    async def post_message(
        self, token: str, dossier_id: str, text: str, document_id: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if document_id:
            body["document_id"] = document_id
        return await self.json(
            "requests", "POST", f"/dossiers/{dossier_id}/messages", token, json=body
        )

    # --- vehicles and their certificat de situation administrative -----------------------

    async def vehicles(self, token: str) -> dict[str, Any]:
        """The vehicles the SIV gives to the person as holder or co-holder (`more` when
        there are others than those listed)."""
        return await self.json("requests", "GET", "/vehicles", token)

    async def situation(self, token: str, plate: str) -> Download:
        """The vehicle's CSA as a PDF; an ApiError when the person may not have it."""
        response = await self.call(
            "requests", "GET", f"/vehicles/{quote(plate, safe='')}/situation", token
        )
        if response.is_error:
            raise ApiError.from_response(response)
        return Download(
            response.content,
            response.headers.get("content-type", "application/pdf"),
            response.headers.get("content-disposition"),
        )

    # --- payment -------------------------------------------------------------------------

    async def authorise(
        self, token: str, dossier_id: str, card: dict[str, str], idempotency_key: str
    ) -> httpx.Response:
        """The raw answer: the caller tells "already paid" (409) from a refusal of the card."""
        return await self.call(
            "payment", "POST", "/payments", token,
            json={"dossier_id": dossier_id, **card},
            headers={"Idempotency-Key": idempotency_key},
        )

    async def record(self, token: str, payment_id: str) -> dict[str, Any]:
        return await self.json("payment", "POST", f"/payments/{payment_id}/record", token)

    async def payment(self, token: str, payment_id: str) -> dict[str, Any]:
        return await self.json("payment", "GET", f"/payments/{payment_id}", token)

    async def payment_status(self, token: str, dossier_id: str) -> dict[str, Any] | None:
        """The payment service's view of the dossier; None while it has not heard of it."""
        response = await self.call("payment", "GET", f"/dossiers/{dossier_id}", token)
        if response.status_code == 404:
            return None
        if response.is_error:
            raise ApiError.from_response(response)
        return response.json()

    # --- the auditor's view (requests) ----------------------------------------------------

    async def audit_state(self, token: str, dossier_id: str) -> dict[str, Any]:
        return await self.json("requests", "GET", f"/dossiers/{dossier_id}/audit/state", token)

    async def audit_history(self, token: str, dossier_id: str) -> list[dict[str, Any]]:
        return await self.json("requests", "GET", f"/dossiers/{dossier_id}/audit", token)

    async def audit_bundle(self, token: str, dossier_id: str) -> bytes:
        return (await self.fetched("requests", f"/dossiers/{dossier_id}/audit/bundle", token)).content

    # --- documents -----------------------------------------------------------------------

    async def documents(self, token: str, dossier_id: str) -> list[dict[str, Any]]:
        return await self.json("documents", "GET", f"/dossiers/{dossier_id}/documents", token)

    async def download(self, token: str, document_id: str) -> Download:
        response = await self.fetched("documents", f"/documents/{document_id}", token)
        return Download(
            response.content,
            response.headers.get("content-type", "application/octet-stream"),
            response.headers.get("content-disposition"),
        )

    async def upload_declaration(
        self, token: str, dossier_id: str, filename: str, content: bytes, media_type: str,
        kind: str = "declaration_vol",
    ) -> httpx.Response:
        """The raw answer: the caller waits while the documents service catches up."""
        return await self.call(
            "documents", "POST", f"/dossiers/{dossier_id}/attachments", token,
            files={"file": (filename or kind, content, media_type)}, data={"kind": kind},
        )

    # --- cert ----------------------------------------------------------------------------

    async def reviews(
        self, token: str, status: str, kind: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"status": status, **({"kind": kind} if kind else {})}
        return await self.json("cert", "GET", "/reviews", token, params=params)

    async def review(self, token: str, review_id: str) -> dict[str, Any]:
        return await self.json("cert", "GET", f"/reviews/{review_id}", token)

    async def claim(self, token: str, review_id: str) -> dict[str, Any]:
        return await self.json("cert", "POST", f"/reviews/{review_id}/claim", token)

    async def reject(self, token: str, review_id: str, reason: str, note: str) -> dict[str, Any]:
        return await self.json(
            "cert", "POST", f"/reviews/{review_id}/reject", token,
            json={"reason": reason, "note": note},
        )

    async def accept(self, token: str, review_id: str, note: str) -> dict[str, Any]:
        return await self.json(
            "cert", "POST", f"/reviews/{review_id}/accept", token, json={"note": note}
        )

    async def agent_message(self, token: str, review_id: str, text: str) -> dict[str, Any]:
        return await self.json(
            "cert", "POST", f"/reviews/{review_id}/messages", token, json={"text": text}
        )
