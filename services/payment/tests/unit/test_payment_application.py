"""Use cases of the payment application, in memory: pay, retry, refuse, record, publish."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest

from ants_events import AmountDue, FeeLine, to_record
from ants_events.requests import RequestReadyForPaymentV1
from ants_stack.testing import consumed_record, trusted_test_producers
from ants_runtime.inbound import InboundEvents
from ants_runtime.settings import ServiceSettings
from payment_service.adapters.psp import SimulatedPaymentProvider
from payment_service.application import PaymentApplication
from payment_service.domain.cards import CardExpired, InvalidCard
from payment_service.domain.model import (
    AlreadyAuthorised,
    AlreadyPaid,
    DossierNotFound,
    IdempotencyKeyReused,
    InvalidAmountDue,
    NotPayable,
    NotYourDossier,
    NotYourPayment,
    Payment,
    PaymentDeclined,
    PaymentNotFound,
)
from payment_service.integration import inbound
from payment_service.integration.outbound import to_contract

TODAY = date(2026, 11, 27)
CARD = "4970 1000 0006 0000"
OTHER_CARD = "4111 1111 1111 1111"
LINES = [
    {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
    {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"},
]


class RacingProvider(SimulatedPaymentProvider):
    """Runs `race` (another request) while the first authorisation is at the bank."""

    def __init__(self) -> None:
        super().__init__()
        self.race: Callable[[], object] | None = None

    def authorise(self, amount, card):  # type: ignore[no-untyped-def]
        reference = super().authorise(amount, card)
        race, self.race = self.race, None
        if race is not None:
            race()
        return reference


@pytest.fixture
def provider() -> RacingProvider:
    return RacingProvider()


@pytest.fixture
def app(provider: RacingProvider) -> PaymentApplication:
    return PaymentApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, provider=provider, today=lambda: TODAY
    )


def open_dossier(app: PaymentApplication, account_id: UUID) -> UUID:
    dossier_id = uuid4()
    app.save(*app.open_dossier(dossier_id, account_id, "13.76", "EUR", LINES))
    return dossier_id


def stored_states(app: PaymentApplication) -> list[bytes]:
    return [n.state for n in app.recorder.select_notifications(1, 1000)]


def public_events(app: PaymentApplication) -> list:
    notifications = app.recorder.select_notifications(1, 1000)
    contracts = [to_contract(app.mapper.to_domain_event(n)) for n in notifications]
    return [c for c in contracts if c is not None]


def test_a_citizen_pays_the_amount_due_of_their_dossier(
    app: PaymentApplication, provider: RacingProvider
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    payment, created = app.authorise_payment(account, dossier_id, CARD, "12/28", "739")
    assert created
    assert (payment.status, payment.total, payment.currency) == ("authorised", "13.76", "EUR")
    assert payment.lines == LINES
    assert payment.card_last4 == "0000"
    assert list(provider.authorisations) == [payment.psp_reference]
    assert app.get_dossier(account, dossier_id).status == "authorised"


def test_the_card_number_and_cvv_are_never_stored(app: PaymentApplication) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    payment, _ = app.authorise_payment(account, dossier_id, CARD, "12/28", "739", "key-1")
    app.record_payment(account, payment.id)
    for state in stored_states(app):
        assert b"4970100000060000" not in state and b"4970 1000" not in state
        assert b"cvv" not in state.lower() and b"card_number" not in state


def test_a_dossier_unknown_here_is_not_payable(app: PaymentApplication) -> None:
    with pytest.raises(NotPayable) as refusal:
        app.authorise_payment(uuid4(), uuid4(), CARD, "12/28", "123")
    assert str(refusal.value) == "Ce dossier n'est pas en attente de paiement."
    with pytest.raises(DossierNotFound):
        app.get_dossier(uuid4(), uuid4())


def test_only_the_owner_pays_a_dossier(app: PaymentApplication) -> None:
    dossier_id = open_dossier(app, uuid4())
    with pytest.raises(NotYourDossier):
        app.authorise_payment(uuid4(), dossier_id, CARD, "12/28", "123")
    with pytest.raises(NotYourDossier):
        app.get_dossier(uuid4(), dossier_id)


@pytest.mark.parametrize("number", ["4000 0000 0000 0002", "4000 0000 0000 9995"])
def test_a_declined_card_keeps_no_payment_and_the_dossier_stays_payable(
    app: PaymentApplication, provider: RacingProvider, number: str
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    stored = len(stored_states(app))
    with pytest.raises(PaymentDeclined) as refusal:
        app.authorise_payment(account, dossier_id, number, "12/28", "123", "key-1")
    assert str(refusal.value) == "Paiement refusé par la banque émettrice."
    assert len(stored_states(app)) == stored
    assert app.get_dossier(account, dossier_id).status == "payable"
    # The same key may then be used with a card the bank accepts.
    payment, created = app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")
    assert created and list(provider.authorisations) == [payment.psp_reference]


@pytest.mark.parametrize(
    ("card", "refusal"),
    [((CARD, "10/26", "123"), CardExpired), ((CARD, "12/28", "12"), InvalidCard),
     (("4970 1000 0006 0001", "12/28", "123"), InvalidCard)],
)
def test_a_bad_card_never_reaches_the_bank(
    app: PaymentApplication, provider: RacingProvider, card: tuple[str, str, str], refusal: type
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    with pytest.raises(refusal):
        app.authorise_payment(account, dossier_id, *card)
    assert provider.authorisations == {}
    assert app.get_dossier(account, dossier_id).status == "payable"


def test_a_retry_with_the_same_key_returns_the_same_payment_without_a_new_authorisation(
    app: PaymentApplication, provider: RacingProvider
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    first, _ = app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")
    again, created = app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")
    assert not created
    assert again.id == first.id
    assert len(provider.authorisations) == 1


def test_a_second_payment_of_an_authorised_dossier_is_refused(
    app: PaymentApplication, provider: RacingProvider
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")
    with pytest.raises(AlreadyAuthorised):
        app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-2")
    with pytest.raises(AlreadyAuthorised):
        app.authorise_payment(account, dossier_id, CARD, "12/28", "123")
    assert len(provider.authorisations) == 1


def test_a_key_reused_for_another_request_is_refused(app: PaymentApplication) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")
    with pytest.raises(IdempotencyKeyReused):
        app.authorise_payment(account, dossier_id, OTHER_CARD, "12/28", "123", "key-1")
    with pytest.raises(IdempotencyKeyReused):
        app.authorise_payment(account, open_dossier(app, account), CARD, "12/28", "123", "key-1")


def test_idempotency_keys_belong_to_one_account(app: PaymentApplication) -> None:
    alice, bob = uuid4(), uuid4()
    app.authorise_payment(alice, open_dossier(app, alice), CARD, "12/28", "123", "same-key")
    bobs_dossier = open_dossier(app, bob)
    _, created = app.authorise_payment(bob, bobs_dossier, CARD, "12/28", "123", "same-key")
    assert created


def test_two_concurrent_retries_with_one_key_authorise_once(
    app: PaymentApplication, provider: RacingProvider
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    winner: list[Payment] = []
    provider.race = lambda: winner.append(
        app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")[0]
    )
    payment, created = app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "key-1")
    assert not created and payment.id == winner[0].id
    assert len(provider.voided) == 1 and winner[0].psp_reference not in provider.voided


def test_two_concurrent_payments_with_different_keys_leave_one_authorised(
    app: PaymentApplication, provider: RacingProvider
) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    provider.race = lambda: app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "b")
    with pytest.raises(AlreadyAuthorised):
        app.authorise_payment(account, dossier_id, CARD, "12/28", "123", "a")
    assert len(provider.authorisations) == 2 and len(provider.voided) == 1
    assert app.get_dossier(account, dossier_id).status == "authorised"


def test_recording_twice_publishes_one_payment_recorded(app: PaymentApplication) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    payment, _ = app.authorise_payment(account, dossier_id, CARD, "12/28", "739")
    first = app.record_payment(account, payment.id)
    second = app.record_payment(account, payment.id)
    assert first.status == second.status == "recorded"
    assert app.get_dossier(account, dossier_id).status == "paid"
    [recorded] = public_events(app)
    assert recorded.ce_type() == "fr.ants.payment.PaymentRecorded.v1"
    assert (recorded.payment_id, recorded.dossier_id, recorded.account_id) == (
        payment.id, dossier_id, account
    )
    assert recorded.amount == "13.76" and [line.model_dump() for line in recorded.lines] == LINES
    assert (recorded.card_last4, recorded.psp_reference) == ("0000", payment.psp_reference)
    record = to_record(recorded, sequence=1)
    assert record.key == str(dossier_id).encode()
    assert record.headers["ce_subject"] == str(dossier_id)
    assert b"4970100000060000" not in record.value and b"cvv" not in record.value.lower()
    with pytest.raises(AlreadyPaid):
        app.authorise_payment(account, dossier_id, CARD, "12/28", "123")


def test_only_the_owner_sees_or_records_a_payment(app: PaymentApplication) -> None:
    account = uuid4()
    dossier_id = open_dossier(app, account)
    payment, _ = app.authorise_payment(account, dossier_id, CARD, "12/28", "123")
    with pytest.raises(NotYourPayment):
        app.record_payment(uuid4(), payment.id)
    with pytest.raises(NotYourPayment):
        app.get_payment(uuid4(), payment.id)
    with pytest.raises(PaymentNotFound):
        app.record_payment(account, uuid4())
    with pytest.raises(PaymentNotFound):
        app.get_payment(account, dossier_id)  # a dossier id is not a payment id
    assert public_events(app) == []


def ready_record(event: RequestReadyForPaymentV1, sequence: int) -> SimpleNamespace:
    return consumed_record(event, sequence)


def ready_event(
    dossier_id: UUID, account_id: UUID, total: str = "13.76"
) -> RequestReadyForPaymentV1:
    lines = (FeeLine(code="Y4", label="Taxe fixe (Y.4)", amount=total),)
    return RequestReadyForPaymentV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        account_id=account_id, amount_due=AmountDue(total=total, lines=lines),
    )


async def test_a_ready_event_delivered_twice_or_republished_opens_the_dossier_once(
    app: PaymentApplication,
) -> None:
    events = InboundEvents(app, ServiceSettings(service_name="payment"))
    events.trusted = trusted_test_producers()
    inbound.subscribe(events, app)
    account, dossier_id = uuid4(), uuid4()
    ready = ready_event(dossier_id, account)
    await events.handle_batch([ready_record(ready, sequence=1)])
    await events.handle_batch([ready_record(ready, sequence=1)])
    assert events.processed == 1
    dossier = app.get_dossier(account, dossier_id)
    assert (dossier.status, dossier.total, dossier.version) == ("payable", "13.76", 1)

    # Another event about the same dossier (e.g. with another amount): it stays as it was.
    await events.handle_batch([ready_record(ready_event(dossier_id, account, "99.00"), sequence=2)])
    dossier = app.get_dossier(account, dossier_id)
    assert (dossier.status, dossier.total, dossier.version) == ("payable", "13.76", 1)


def test_a_ready_event_whose_amount_does_not_add_up_is_rejected(app: PaymentApplication) -> None:
    with pytest.raises(InvalidAmountDue):
        app.open_dossier(uuid4(), uuid4(), "13.76", "EUR", LINES[:1])


def test_a_cancelled_request_can_no_longer_be_paid() -> None:
    from uuid import uuid4

    from payment_service.application import PaymentApplication
    from payment_service.domain.model import NotPayable

    payment = PaymentApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    dossier_id, owner = uuid4(), uuid4()
    lines = [{"code": "Y4", "label": "Taxe fixe", "amount": "11.00"},
             {"code": "Y5", "label": "Redevance", "amount": "2.76"}]
    payment.save(*payment.open_dossier(dossier_id, owner, "13.76", "EUR", lines))
    payment.save(*payment.withdraw_dossier(dossier_id))
    assert payment.withdraw_dossier(dossier_id) == []
    assert payment.withdraw_dossier(uuid4()) == []
    with pytest.raises(NotPayable, match="annulé"):
        payment.authorise_payment(owner, dossier_id, "4970 1000 0600 0000", "12/30", "123")
