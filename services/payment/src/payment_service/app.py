"""Wiring of the payment service."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from ants_runtime.fees import FeeSchedule
from ants_runtime.service import ServiceRuntime, serve
from payment_service.adapters.psp import PaymentProvider, SimulatedPaymentProvider
from payment_service.application import PaymentApplication
from payment_service.domain.cards import InvalidCard
from payment_service.domain.model import (
    DossierNotFound,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    NotPayable,
    NotYourDossier,
    NotYourPayment,
    PaymentDeclined,
    PaymentNotFound,
)
from payment_service.http.controllers import FeesController, NoFeeSchedule, PaymentsController
from payment_service.integration import inbound
from payment_service.integration.outbound import to_contract
from payment_service.settings import Settings, get_settings

DOMAIN_ERRORS = {
    NotYourDossier: 403,
    NotYourPayment: 403,
    DossierNotFound: 404,
    PaymentNotFound: 404,
    NotPayable: 409,
    InvalidCard: 422,
    PaymentDeclined: 422,
    IdempotencyKeyReused: 422,
    InvalidIdempotencyKey: 422,
    NoFeeSchedule: 503,
}

PROVIDERS = {"simulated": SimulatedPaymentProvider}


def create_app(
    settings: Settings | None = None, provider: PaymentProvider | None = None
) -> Litestar:
    settings = settings or get_settings()
    fee_schedule = FeeSchedule.load(settings.fee_schedule_file)
    payment = PaymentApplication(
        env=settings.eventsourcing_env(),
        provider=provider or PROVIDERS[settings.payment_provider](),
    )
    runtime = ServiceRuntime(settings, payment, to_contract)
    # An authorisation tells a replay (200) from a key reused for another card (422) itself.
    runtime.own_idempotency.add("/payments")
    inbound.subscribe(runtime.inbound, payment)
    return runtime.http_app(
        [PaymentsController, FeesController],
        title="Payment",
        description="Taxes of a duplicate: fee schedule, card payment (authorise, then record). "
        "Card numbers and CVV are checked and sent to the payment provider, never kept.",
        domain_errors=DOMAIN_ERRORS,
        dependencies={
            "payments": Provide(lambda: payment, sync_to_thread=False),
            "fee_schedule": Provide(lambda: fee_schedule, sync_to_thread=False),
        },
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings)
