"""HTTP conventions shared by the services: JSON errors people understand, auth, health."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import structlog
from eventsourcing.persistence import IntegrityError
from litestar import Request, Response, get
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import KwargDefinition
from litestar.status_codes import (
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from msgspec import Meta, Struct

from ants_runtime import provenance
from ants_runtime.auth import InvalidToken, Principal, TokenVerifier

log = structlog.get_logger(__name__)

UNAUTHENTICATED = "Vous devez être connecté : jeton d'accès absent, invalide ou expiré."
FORBIDDEN = "Vous n'avez pas accès à cette ressource."
CONCURRENT_CHANGE = "Le dossier vient d'être modifié par ailleurs : rechargez la page et réessayez."


class FieldError(Struct):
    field: str
    message: Annotated[str, Meta(description="What is wrong with this field, in French")]


class ErrorBody(Struct, omit_defaults=True):
    """Every error answer of every service (see `error_body`)."""

    status_code: int
    message: Annotated[str, Meta(description="What went wrong and what to do, in French")]
    errors: list[FieldError] | None = None


WHY = {
    400: "The body cannot be decoded (malformed JSON or form)",
    401: "Not logged in, or the token is invalid or expired",
    403: "The caller's role or account may not do this",
    404: "No such resource",
    409: "Not possible in the resource's current state, or changed concurrently",
    413: "The body is larger than the service accepts",
    415: "This content type is not accepted",
    422: "Invalid input: `errors` names each field at fault",
    429: "Too many attempts: wait for the seconds of the Retry-After header",
    503: "Not available yet: retry after the seconds of the Retry-After header",
}


def error_responses(*codes: int, why: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The `responses` of a route: each status it may answer, with the real error body.

    A route with parameters or a body should list 400 (the body or a parameter cannot be
    decoded); Litestar otherwise documents its own error shape for it."""
    why = {**WHY, **(why or {})}
    return {
        code: ResponseSpec(ErrorBody, description=why[code], generate_examples=False)
        for code in codes
    }


NON_BLANK = r"\S"  # at least one character that is not a space


def rule(**constraints: Any) -> KwargDefinition:
    """What the domain refuses in a request field, said in the OpenAPI schema (`pattern`,
    `min_length`, `max_length`, `schema_extra={"enum": [...]}`...), for
    `Annotated[str, rule(...)]` in a msgspec Struct.

    Documentation only: the domain keeps the refusal and its precise French message, so the
    schema must say no more and no less than what the domain checks."""
    return KwargDefinition(**constraints)


def error_body(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    content: dict[str, Any] = {"status_code": status, "message": message}
    if errors:
        content["errors"] = errors
    return Response(content=content, status_code=status)


# msgspec's refusals, said in French (the rest is passed on as it is).
FRENCH_VALIDATION = [
    (re.compile(r"Expected `(str|array|object)` of length >= 1"), "Ce champ doit être renseigné."),
    (re.compile(r"Expected `str` of length <= (\d+)"), "Ce texte dépasse {0} caractères."),
    (re.compile(r"Expected `str` matching regex .*"), "Ce champ n'a pas le format attendu."),
    (re.compile(r"Invalid enum value .*"), "Cette valeur ne fait pas partie des choix possibles."),
    (re.compile(r"Object missing required field .*"), "Ce champ est obligatoire."),
    (re.compile(r"Expected `(\w+)`, got `(\w+)`"), "Cette valeur n'est pas du type attendu."),
    (re.compile(r"Expected `int` (>|>=|<|<=) .*"), "Ce nombre est hors des limites acceptées."),
    (re.compile(r"Missing required .*"), "Ce champ est obligatoire."),
]


def in_french(message: str) -> str:
    for pattern, french in FRENCH_VALIDATION:
        if found := pattern.match(message):
            return french.format(*found.groups())
    return message


MISSING_FIELD = re.compile(r"Object missing required field `(\w+)`")


def _field_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            field = str(item.get("key") or item.get("source") or "")
            if missing := MISSING_FIELD.match(message):  # Litestar names the body, not the field
                field = missing.group(1)
            errors.append({"field": field, "message": in_french(message)})
    return errors


def validation_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response:
    errors = _field_errors(exc)
    fields = ", ".join(sorted({e["field"] for e in errors if e["field"]}))
    message = "Les données envoyées sont invalides"
    message += f" (champ(s) : {fields})." if fields else "."
    return error_body(HTTP_422_UNPROCESSABLE_ENTITY, message, errors)


FRENCH_DEFAULTS = {
    400: "La requête est mal formée.",
    404: "Ressource introuvable.",
    405: "Cette opération n'est pas permise ici.",
    413: "Le fichier ou la requête dépasse la taille maximale acceptée.",
    415: "Ce type de contenu n'est pas accepté.",
}


def http_exception_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response:
    from http import HTTPStatus

    detail = exc.detail
    with contextlib.suppress(ValueError):
        if detail == HTTPStatus(exc.status_code).phrase:  # Litestar's default English text
            detail = FRENCH_DEFAULTS.get(exc.status_code, detail)
    response = error_body(exc.status_code, detail)
    response.headers.update(exc.headers or {})
    return response


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response:
    log.exception("http.unhandled_error", path=request.url.path)
    return error_body(HTTP_500_INTERNAL_SERVER_ERROR, "Une erreur interne est survenue. Réessayez plus tard.")


def exception_handlers(domain_errors: Mapping[type[Exception], int]) -> dict[Any, Any]:
    """Domain errors carry a French message; each maps to one HTTP status."""

    def domain_handler(_: Request[Any, Any, Any], exc: Exception) -> Response:
        status = next(code for cls, code in domain_errors.items() if isinstance(exc, cls))
        field = getattr(exc, "field", None)
        errors = [{"field": field, "message": str(exc)}] if field else None
        response = error_body(status, str(exc), errors)
        if status == HTTP_503_SERVICE_UNAVAILABLE:
            response.headers["Retry-After"] = "1"
        return response

    def conflict_handler(_: Request[Any, Any, Any], exc: IntegrityError) -> Response:
        return error_body(409, CONCURRENT_CHANGE)

    handlers: dict[Any, Any] = {cls: domain_handler for cls in domain_errors}
    handlers[IntegrityError] = conflict_handler
    handlers |= {
        ValidationException: validation_handler,
        HTTPException: http_exception_handler,
        HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
    }
    return handlers


class Forbidden(HTTPException):
    status_code = HTTP_403_FORBIDDEN


def bearer_principal(verifier: TokenVerifier, request: Request[Any, Any, Any]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthorizedException(detail=UNAUTHENTICATED)
    try:
        principal = verifier.verify(token.strip())
    except InvalidToken:
        raise NotAuthorizedException(detail=UNAUTHENTICATED) from None
    structlog.contextvars.bind_contextvars(account_id=str(principal.account_id))
    provenance.note_caller(principal.account_id, principal.roles)
    return principal


def require_role(principal: Principal, *roles: str) -> None:
    if not principal.has_role(*roles):
        raise Forbidden(detail=FORBIDDEN)


HealthCheck = Callable[[], Awaitable[bool | str]]


async def assess(
    checks: Mapping[str, HealthCheck],
    details: Callable[[], Mapping[str, Any]] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Response:
    """Every check ok: 200; otherwise 503 with what is down. A check may answer a reason (a
    string) instead of False; `details` adds what an operator wants to see (delivery
    positions, recent recoveries); a process that is `stopping` is never ready."""
    results: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for name, check in checks.items():
        try:
            outcome = await check()
        except Exception as error:  # noqa: BLE001 - a failing check is a "down" answer
            outcome = f"{type(error).__name__}"
        results[name] = "ok" if outcome is True else "down"
        if isinstance(outcome, str):
            reasons[name] = outcome
    if stopping is not None and stopping():
        results["shutdown"] = "down"
        reasons["shutdown"] = "the process is shutting down: it finishes what it started"
    healthy = all(v == "ok" for v in results.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "down", "checks": results}
    if reasons:
        body["reasons"] = reasons
    if details is not None:
        body |= details()
    return Response(body, status_code=200 if healthy else HTTP_503_SERVICE_UNAVAILABLE)


def health_route(
    checks: Mapping[str, HealthCheck],
    details: Callable[[], Mapping[str, Any]] | None = None,
    stopping: Callable[[], bool] | None = None,
    path: str = "/health",
    **opt: Any,
) -> Any:
    """Readiness (see `assess`) at `path`."""

    @get(path, tags=["operations"], summary="Store, broker and event delivery are working",
         **opt)
    async def health() -> Response:
        return await assess(checks, details, stopping)

    return health


class FactNotYetKnown(HTTPException):
    """A fact another service published has not reached this one within the bounded wait."""

    status_code = HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self) -> None:
        super().__init__(
            detail="Votre démarche est en cours de transmission entre nos services : "
            "réessayez dans un instant.",
            headers={"Retry-After": "1"},
        )


__all__ = [
    "HTTP_401_UNAUTHORIZED",
    "ErrorBody",
    "Forbidden",
    "bearer_principal",
    "error_body",
    "error_responses",
    "exception_handlers",
    "health_route",
    "require_role",
    "rule",
]


def correlation_middleware(app: Any) -> Any:
    """Bind a correlation id to every log line of a request, and the dossier id when the
    route names one. The correlation id is the caller's X-Request-ID, else the trace id (the
    same id then follows the events the request stored into the other services' logs), else
    a new one; it is sent back in X-Request-ID."""
    import time
    import uuid

    from ants_runtime.tracing import current_trace_id

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = (
            headers.get(b"x-request-id", b"").decode(errors="replace")[:64]
            or current_trace_id() or uuid.uuid4().hex
        )
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=request_id)
        if dossier_id := (scope.get("path_params") or {}).get("dossier_id"):
            structlog.contextvars.bind_contextvars(dossier_id=str(dossier_id))
        caused_by = provenance.begin_request(request_id)
        began = time.perf_counter()
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            if not scope["path"].startswith(QUIET_PATHS):
                log.info(
                    "http.request", method=scope["method"], path=scope["path"], status=status,
                    ms=round((time.perf_counter() - began) * 1000, 1),
                )
            structlog.contextvars.clear_contextvars()
            provenance.end_request(caused_by)

    return middleware


# Probes and scrapes: not worth a log line each.
QUIET_PATHS = ("/health", "/metrics")
