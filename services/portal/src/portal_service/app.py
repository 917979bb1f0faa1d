"""Wiring of the portal: pages, session cookie, CSRF, templates, error pages."""

from __future__ import annotations

import hashlib
import traceback
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, MediaType, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders, State
from litestar.di import Provide
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from ants_runtime.http import correlation_middleware
from ants_runtime.logging import configure_logging
from ants_runtime.observability import Observability, replica_id, run_server
from portal_service import formatting, labels
from portal_service.clients import ApiError, ServiceUnavailable, SessionExpired, Services
from portal_service.once import OnceGuard
from portal_service.settings import Settings, get_settings
from portal_service.web.accounts import AccountsController
from portal_service.web.audit import AuditController
from portal_service.web.cert import CertController
from portal_service.web.common import (
    NotLoggedIn,
    error_page,
    flash,
    login_redirect,
    provide_user,
    sign_out,
)
from portal_service.web.demo import DemoController
from portal_service.web.documents import DocumentsController
from portal_service.web.espace import EspaceController
from portal_service.web.procedure import ProcedureController
from portal_service.web.situation import SituationController

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
SESSION_HOURS = 8
SERVICE_RETRY_AFTER_SECONDS = 10
# Room for the multipart framing around a file of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'self'; frame-src 'self'; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
TITLES = {
    400: "Demande incorrecte",
    403: "Accès refusé",
    404: "Page introuvable",
    409: "Action impossible pour le moment",
    413: "Fichier trop volumineux",
    422: "Données refusées",
}


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        date=formatting.french_date,
        datetime=formatting.french_datetime,
        instant=formatting.french_instant,
        amount=formatting.amount,
        file_size=formatting.file_size,
        links=formatting.with_links,
    )
    env.globals["labels"] = labels
    return env


# --- error pages ---------------------------------------------------------------------------


def on_not_logged_in(request: Request[Any, Any, Any], _: NotLoggedIn) -> Response[Any]:
    flash(request, "Connectez-vous pour accéder à cette page.")
    return login_redirect(request)


def on_session_expired(request: Request[Any, Any, Any], _: SessionExpired) -> Response[Any]:
    sign_out(request)
    flash(request, "Votre session a expiré : connectez-vous de nouveau.", "warning")
    return login_redirect(request)


def on_api_error(request: Request[Any, Any, Any], error: ApiError) -> Response[Any]:
    """A refusal no page handled itself: a French page with the service's own words."""
    status = error.status if 400 <= error.status < 600 else 500
    title = TITLES.get(status, "Une erreur est survenue")
    response = _page(request, status, title, error.message)
    if error.retry_after and status in (429, 503):
        response.headers["Retry-After"] = error.retry_after
    return response


def on_service_unavailable(
    request: Request[Any, Any, Any], error: ServiceUnavailable
) -> Response[Any]:
    log.warning("page.service_unavailable", service=error.service, path=request.url.path)
    response = _page(request, 503, "Service momentanément indisponible", str(error))
    response.headers["Retry-After"] = str(SERVICE_RETRY_AFTER_SECONDS)
    return response


def on_not_found(request: Request[Any, Any, Any], _: NotFoundException) -> Response[Any]:
    return _page(request, 404, "Page introuvable",
                 "La page demandée n'existe pas ou n'existe plus. Vérifiez l'adresse.")


def on_permission_denied(
    request: Request[Any, Any, Any], _: PermissionDeniedException
) -> Response[Any]:
    # The only PermissionDeniedException the portal sees is the CSRF check's.
    return _page(request, 403, "Formulaire expiré",
                 "Ce formulaire a expiré ou ne provient pas de ce site. Revenez à la page "
                 "précédente, rechargez-la puis recommencez.")


def on_too_large(request: Request[Any, Any, Any], _: RequestEntityTooLarge) -> Response[Any]:
    size = formatting.file_size(request.app.state.max_upload_bytes)
    return _page(request, 413, "Fichier trop volumineux",
                 f"Le fichier dépasse la taille maximale de {size}. Revenez à la page "
                 "précédente et choisissez un fichier plus petit.", back=request.url.path)


def on_validation(request: Request[Any, Any, Any], _: ValidationException) -> Response[Any]:
    return _page(request, 400, "Demande incorrecte",
                 "Les informations envoyées sont incomplètes ou mal formées. Revenez à la page "
                 "précédente et recommencez.")


def on_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    title = TITLES.get(error.status_code, "Une erreur est survenue")
    response = _page(request, error.status_code, title,
                     "Votre demande n'a pas pu aboutir. Revenez à la page précédente et recommencez.")
    response.headers.update(error.headers or {})  # Allow on a 405, Retry-After on a 503
    return response


def on_internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    # No traceback with local variables: they may hold a card number or a token.
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    log.error(
        "page.unhandled_error", path=request.url.path, error=type(error).__name__, where=where
    )
    return _page(request, 500, "Une erreur est survenue",
                 "Une erreur inattendue nous empêche d'afficher cette page. Réessayez dans "
                 "quelques instants.")


def _page(request: Request[Any, Any, Any], status: int, title: str, message: str,
          back: str | None = None) -> Response[Any]:
    wants_json = "application/json" in request.headers.get("accept", "")
    if request.url.path.endswith("/etat") or wants_json:
        return Response({"message": message}, status_code=status, media_type=MediaType.JSON)
    return error_page(request, status, title, message, back=back)


# --- security headers ----------------------------------------------------------------------


# Browsers that once reached the portal over HTTPS keep to it for a year.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


async def security_headers(response: Response[Any]) -> Response[Any]:
    html = isinstance(response, Template) or str(getattr(response, "media_type", "")).startswith(
        "text/html"
    )
    if html:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def send_security_headers(message: Message, scope: Scope) -> None:
    """On every answer, pages, files, errors and refusals alike (a route's own stricter
    policy, as on documents, is kept). HSTS only when the client came over HTTPS, as the
    proxy says (`X-Forwarded-Proto`, believed from `FORWARDED_ALLOW_IPS`): a browser
    ignores it over plain HTTP, and it would lock a plain-HTTP demo out."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    defaults = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if scope.get("scheme") == "https":
        defaults["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    for name, value in defaults.items():
        if name not in headers:
            headers[name] = value


def create_app(settings: Settings | None = None, services: Services | None = None) -> Litestar:
    settings = settings or get_settings()
    services = services or Services(settings)
    guard = OnceGuard()
    observability = Observability("portal")
    key = settings.session_key
    session = CookieBackendConfig(
        secret=key, key="espace_session", max_age=SESSION_HOURS * 3600, httponly=True,
        samesite="lax", secure=settings.portal_cookie_secure,
    )
    csrf = CSRFConfig(
        secret=hashlib.sha256(b"csrf:" + key).hexdigest(), cookie_name="espace_csrf",
        cookie_httponly=True, cookie_samesite="lax", cookie_secure=settings.portal_cookie_secure,
        exclude=["/health"],
    )
    return Litestar(
        route_handlers=[
            # Ready as soon as it runs: the portal answers its own error page when a
            # service is down, so no check of the services (a cascade of restarts).
            *observability.routes({}, skip_session=True, exclude_from_csrf=True),
            create_static_files_router(path="/static", directories=[HERE / "static"],
                                       include_in_schema=False),
            EspaceController, AccountsController, ProcedureController, DocumentsController,
            CertController, AuditController, SituationController, DemoController,
        ],
        dependencies={
            "services": Provide(lambda: services, sync_to_thread=False),
            "guard": Provide(lambda: guard, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "user": Provide(provide_user),
        },
        middleware=[*observability.middleware(), correlation_middleware, session.middleware],
        csrf_config=csrf,
        template_config=TemplateConfig(
            engine=JinjaTemplateEngine.from_environment(template_environment())
        ),
        exception_handlers={
            NotLoggedIn: on_not_logged_in,
            SessionExpired: on_session_expired,
            ApiError: on_api_error,
            ServiceUnavailable: on_service_unavailable,
            NotFoundException: on_not_found,
            PermissionDeniedException: on_permission_denied,
            RequestEntityTooLarge: on_too_large,
            ValidationException: on_validation,
            HTTPException: on_http_exception,
            HTTP_500_INTERNAL_SERVER_ERROR: on_internal_error,
        },
        after_request=security_headers,
        before_send=[send_security_headers],
        on_shutdown=[services.close],
        request_max_body_size=settings.portal_max_upload_bytes + MULTIPART_OVERHEAD,
        state=State({"max_upload_bytes": settings.portal_max_upload_bytes}),
        openapi_config=None,
    )


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level, service="portal",
                      replica=replica_id())
    run_server(create_app(settings), settings.http_host, settings.http_port)

