"""Wiring of the requests service."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.di import Provide

from ants_runtime.audit_trail import AuditTrail
from ants_runtime.fees import FeeSchedule
from ants_runtime.projection import Projector
from ants_runtime.service import ServiceRuntime, serve
from requests_service.adapters.siv import SeededSiv
from requests_service.application import RequestsApplication
from requests_service.domain import errors
from requests_service.http.audit import AuditController
from requests_service.http.controllers import DossiersController
from requests_service.http.situation import SituationController
from requests_service.rendering.situation import SituationRenderer
from requests_service.integration import inbound
from requests_service.integration.outbound import to_contract
from requests_service.settings import Settings, get_settings

DOMAIN_ERRORS = {
    errors.InvalidRequest: 422,
    errors.VehicleNotFound: 422,
    errors.NotHolder: 403,
    errors.NotYourDossier: 403,
    errors.DossierNotFound: 404,
    errors.RequestAlreadyOpen: 409,
    errors.WrongState: 409,
    errors.Busy: 503,
}


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    requests = RequestsApplication(
        env=settings.eventsourcing_env(),
        siv=SeededSiv.load(settings.siv_dataset_file),
        fees=FeeSchedule.load(settings.fee_schedule_file),
    )
    runtime = ServiceRuntime(settings, requests, to_contract)
    inbound.register(runtime.inbound, requests)
    dossier_list = Projector(requests, requests.dossier_list)
    runtime.also_run(dossier_list)
    trail = AuditTrail(requests.recorder.datastore, settings)  # type: ignore[attr-defined]
    runtime.also_run(trail)
    situation_renderer = SituationRenderer(ZoneInfo(settings.time_zone))
    return runtime.http_app(
        [DossiersController, AuditController, SituationController],
        title="Requests",
        description="Duplicate registration certificate requests (dossiers), rebuilt from "
        "their event streams.",
        domain_errors=DOMAIN_ERRORS,
        dependencies={
            "requests": Provide(lambda: requests, sync_to_thread=False),
            "dossier_list": Provide(lambda: dossier_list, sync_to_thread=False),
            "trail": Provide(lambda: trail, sync_to_thread=False),
            "situation_renderer": Provide(lambda: situation_renderer, sync_to_thread=False),
            "situation_base_url": Provide(
                lambda: settings.requests_public_base_url.rstrip("/"), sync_to_thread=False
            ),
        },
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings)
