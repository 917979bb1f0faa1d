"""Wiring of the CERT service."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from ants_runtime.service import ServiceRuntime, serve
from cert_service.application import CertApplication
from cert_service.domain import errors
from cert_service.http.controllers import ReviewsController
from cert_service.integration import inbound
from cert_service.integration.outbound import to_contract
from cert_service.settings import Settings, get_settings

DOMAIN_ERRORS = {
    errors.InvalidDecision: 422,
    errors.ReviewNotFound: 404,
    errors.AlreadyDecided: 409,
    errors.ClaimedByAnother: 409,
    errors.ReviewClosed: 409,
    errors.ConcurrentChange: 409,
}


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    cert = CertApplication(env=settings.eventsourcing_env())
    runtime = ServiceRuntime(settings, cert, to_contract)
    inbound.register(runtime.inbound, cert)
    return runtime.http_app(
        [ReviewsController],
        title="CERT",
        description="The CERT back office: agents check the police theft declarations sent "
        "by citizens, accept them or reject them with a note, and write to the citizen.",
        domain_errors=DOMAIN_ERRORS,
        dependencies={"cert": Provide(lambda: cert, sync_to_thread=False)},
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings)
