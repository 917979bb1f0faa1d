"""Public contracts consumed by the payment service -> application commands."""

from __future__ import annotations

from ants_events.requests import RequestCancelledV1, RequestReadyForPaymentV1
from ants_runtime.inbound import InboundEvents
from payment_service.application import PaymentApplication
from payment_service.domain.model import PayableDossier, Payment


def subscribe(inbound: InboundEvents, payment: PaymentApplication) -> None:
    def ready_for_payment(event: RequestReadyForPaymentV1) -> list[PayableDossier]:
        """Idempotent by dossier id: a dossier already known here is left as it is."""
        amount = event.amount_due
        return payment.open_dossier(
            event.dossier_id, event.account_id, amount.total, amount.currency,
            [line.model_dump() for line in amount.lines],
        )

    def cancelled(event: RequestCancelledV1) -> list[Payment]:
        """Idempotent by dossier id: withdrawn once; an authorised payment voided once."""
        return payment.withdraw_dossier(event.dossier_id)

    inbound.on(RequestReadyForPaymentV1, ready_for_payment)
    inbound.on(RequestCancelledV1, cancelled)
