"""A cancelled request releases the amount authorised on the card, or refunds a payment
recorded as it was being cancelled, once, through the real inbound runtime (tracking,
duplicates, parking) with the application in memory."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest

from ants_events import IntegrationEvent
from ants_events.requests import RequestCancelledV1
from ants_stack.testing import consumed_record, trusted_test_producers
from ants_runtime.inbound import InboundEvents
from ants_runtime.settings import ServiceSettings
from payment_service.adapters.psp import ProviderUnavailable, SimulatedPaymentProvider
from payment_service.application import PaymentApplication
from payment_service.domain.model import Money, Payment, PaymentVoided
from payment_service.integration import inbound
from payment_service.integration.outbound import to_contract

CARD = "4970 1000 0006 0000"
LINES = [
    {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
    {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"},
]


class CountingProvider(SimulatedPaymentProvider):
    """The simulated provider, counting voids and refunds; `down` makes it unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.void_calls: list[str] = []
        self.refund_calls: list[str] = []
        self.down = False

    def refund(self, psp_reference: str, amount: Money) -> None:
        if self.down:
            raise ProviderUnavailable("timeout")
        self.refund_calls.append(psp_reference)
        super().refund(psp_reference, amount)

    def void(self, psp_reference: str) -> None:
        if self.down:
            raise ProviderUnavailable("timeout")
        self.void_calls.append(psp_reference)
        super().void(psp_reference)


@pytest.fixture
def provider() -> CountingProvider:
    return CountingProvider()


@pytest.fixture
def app(provider: CountingProvider) -> PaymentApplication:
    return PaymentApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, provider=provider,
        today=lambda: date(2026, 11, 27),
    )


@pytest.fixture
def consumer(app: PaymentApplication) -> InboundEvents:
    events = InboundEvents(app, ServiceSettings(service_name="payment"))
    events.trusted = trusted_test_producers()
    inbound.subscribe(events, app)
    return events


_offsets = iter(range(1, 10_000))


def record_of(event: IntegrationEvent) -> SimpleNamespace:
    return consumed_record(event, next(_offsets))


def cancelled(dossier_id: UUID) -> RequestCancelledV1:
    return RequestCancelledV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        reason="annulée par l'usager",
    )


def authorised(app: PaymentApplication) -> tuple[UUID, Payment]:
    account, dossier_id = uuid4(), uuid4()
    app.save(*app.open_dossier(dossier_id, account, "13.76", "EUR", LINES))
    payment, _ = app.authorise_payment(account, dossier_id, CARD, "12/30", "123")
    return account, payment


def stored_event_names(app: PaymentApplication, aggregate_id: UUID) -> list[str]:
    return [type(e).__name__ for e in app.events.get(aggregate_id)]


async def test_cancelling_a_request_voids_its_authorised_payment_once(
    app: PaymentApplication, provider: CountingProvider, consumer: InboundEvents
) -> None:
    account, payment = authorised(app)
    cancellation = cancelled(payment.dossier_id)

    await consumer.handle_batch([record_of(cancellation)])
    await consumer.handle_batch([record_of(cancellation)])  # delivered again
    await consumer.handle_batch([record_of(cancelled(payment.dossier_id))])  # a second event

    assert provider.void_calls == [payment.psp_reference]
    assert app.get_payment(account, payment.id).status == "voided"
    assert app.get_dossier(account, payment.dossier_id).status == "withdrawn"
    assert stored_event_names(app, payment.id) == ["Authorised", "Voided", "Released"]
    with pytest.raises(PaymentVoided, match="aucun montant ne sera prélevé"):
        app.record_payment(account, payment.id)
    published = [to_contract(app.mapper.to_domain_event(n))
                 for n in app.recorder.select_notifications(1, 1000)]
    assert [c for c in published if c is not None] == []


async def test_a_provider_that_cannot_void_now_is_asked_again_later(
    app: PaymentApplication, provider: CountingProvider, consumer: InboundEvents
) -> None:
    account, payment = authorised(app)
    provider.down = True
    await consumer.handle_batch([record_of(cancelled(payment.dossier_id))])

    # Voided here at once (it can no longer be recorded); the cancellation waits, parked.
    assert app.get_payment(account, payment.id).status == "voided"
    assert provider.void_calls == []
    assert [p.subject for p in consumer.inbox.parked()] == [str(payment.dossier_id)]

    provider.down = False
    await consumer.retry_parked()
    assert provider.void_calls == [payment.psp_reference]
    assert stored_event_names(app, payment.id) == ["Authorised", "Voided", "Released"]
    assert consumer.inbox.parked() == []


async def test_a_payment_recorded_as_the_request_was_cancelled_is_refunded_once(
    app: PaymentApplication, provider: CountingProvider, consumer: InboundEvents
) -> None:
    """The citizen's « enregistrer » and the cancellation raced: requests kept the dossier
    cancelled, so the money taken goes back to the card."""
    account, payment = authorised(app)
    app.record_payment(account, payment.id)
    cancellation = cancelled(payment.dossier_id)

    await consumer.handle_batch([record_of(cancellation)])
    await consumer.handle_batch([record_of(cancellation)])  # delivered again
    await consumer.handle_batch([record_of(cancelled(payment.dossier_id))])  # a second event

    assert provider.void_calls == []
    assert provider.refund_calls == [payment.psp_reference]
    assert provider.refunded == {payment.psp_reference: Money(Decimal("13.76"), "EUR")}
    assert app.get_payment(account, payment.id).status == "refunded"
    assert stored_event_names(app, payment.id) == [
        "Authorised", "Recorded", "Refunded", "RefundConfirmed",
    ]


async def test_a_provider_that_cannot_refund_now_is_asked_again_later(
    app: PaymentApplication, provider: CountingProvider, consumer: InboundEvents
) -> None:
    account, payment = authorised(app)
    app.record_payment(account, payment.id)
    provider.down = True
    await consumer.handle_batch([record_of(cancelled(payment.dossier_id))])

    assert app.get_payment(account, payment.id).status == "refunded"
    assert provider.refund_calls == []
    assert [p.subject for p in consumer.inbox.parked()] == [str(payment.dossier_id)]

    provider.down = False
    await consumer.retry_parked()
    assert provider.refund_calls == [payment.psp_reference]
    assert consumer.inbox.parked() == []


async def test_a_cancelled_dossier_without_payment_is_only_withdrawn(
    app: PaymentApplication, provider: CountingProvider, consumer: InboundEvents
) -> None:
    account, dossier_id = uuid4(), uuid4()
    app.save(*app.open_dossier(dossier_id, account, "13.76", "EUR", LINES))
    await consumer.handle_batch([record_of(cancelled(dossier_id))])
    assert app.get_dossier(account, dossier_id).status == "withdrawn"
    assert provider.void_calls == []
