"""Payment use cases: open a payable dossier, authorise a card payment, record it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID

import structlog
from ants_runtime.fees import today_in_france
from ants_runtime.inbound import NotReady
from ants_runtime.store import ServiceApplication
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from payment_service.adapters.psp import (
    PaymentProvider,
    ProviderUnavailable,
    SimulatedPaymentProvider,
)
from payment_service.domain.cards import read_card
from payment_service.domain.model import (
    DossierNotFound,
    IdempotencyKey,
    NotPayable,
    PayableDossier,
    Payment,
    PaymentDeclined,
    PaymentNotFound,
    check_amount_due,
    check_idempotency_key,
    request_fingerprint,
)

log = structlog.get_logger(__name__)

class PaymentApplication(ServiceApplication):
    name = "payment"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        provider: PaymentProvider | None = None,
        today: Callable[[], date] = today_in_france,
    ) -> None:
        super().__init__(env)
        self.provider = provider or SimulatedPaymentProvider()
        self.today = today

    def open_dossier(
        self, dossier_id: UUID, account_id: UUID, total: str, currency: str,
        lines: list[dict[str, str]],
    ) -> list[PayableDossier]:
        """Inbound: a dossier is ready for payment. Idempotent by dossier id."""
        if dossier_id in self.repository:
            return []
        check_amount_due(total, currency, lines)
        return [PayableDossier(dossier_id, account_id, total, currency, lines)]

    def withdraw_dossier(self, dossier_id: UUID) -> list[Payment]:
        """Inbound: the request was cancelled. Idempotent by dossier id: the dossier is
        withdrawn once, and a payment authorised but not recorded is voided once, then
        released at the provider; a payment already recorded (the cancellation raced the
        citizen's « enregistrer ») is refunded once. A dossier never made payable is not
        known here."""
        if dossier_id not in self.repository:
            return []
        dossier: PayableDossier = self.repository.get(dossier_id)
        payment: Payment | None = (
            self.repository.get(dossier.payment_id) if dossier.payment_id else None
        )
        if dossier.withdraw():
            voided = [payment] if payment is not None and payment.void() else []
            # Saved before the provider is told: if the citizen's « enregistrer » was saved
            # first, this save fails, the handler runs again, finds the dossier paid and
            # refunds instead.
            self.save(dossier, *voided)
        elif payment is not None and payment.refund():
            self.save(payment)
        if payment is not None and payment.awaits_release:
            return [self._release(payment)]
        if payment is not None and payment.awaits_refund:
            return [self._refund(payment)]
        return []

    def _release(self, payment: Payment) -> Payment:
        """Ask the provider to void the authorisation. When it cannot now, the cancellation
        is parked and tried again later; the payment stays voided here meanwhile."""
        try:
            self.provider.void(payment.psp_reference)
        except ProviderUnavailable as unavailable:
            raise NotReady(f"the provider could not void {payment.psp_reference}") from unavailable
        payment.record_release(payment.psp_reference)
        log.info(
            "payment.voided", dossier_id=str(payment.dossier_id), payment_id=str(payment.id),
            psp_reference=payment.psp_reference,
        )
        return payment

    def _refund(self, payment: Payment) -> Payment:
        """Ask the provider to credit the card back; parked and retried while it cannot."""
        try:
            self.provider.refund(payment.psp_reference, payment.amount)
        except ProviderUnavailable as unavailable:
            raise NotReady(f"the provider could not refund {payment.psp_reference}") from unavailable
        payment.record_refund(payment.psp_reference)
        log.info(
            "payment.refunded", dossier_id=str(payment.dossier_id), payment_id=str(payment.id),
            psp_reference=payment.psp_reference,
        )
        return payment

    def knows(self, dossier_id: UUID) -> bool:
        """Whether the dossier's RequestReadyForPayment has been received here."""
        return dossier_id in self.repository

    def check_card(self, card_number: str, expiry: str, cvv: str) -> None:
        read_card(card_number, expiry, cvv, self.today())

    def authorise_payment(
        self, account_id: UUID, dossier_id: UUID, card_number: str, expiry: str, cvv: str,
        idempotency_key: str | None = None,
    ) -> tuple[Payment, bool]:
        """Authorise the amount due on the card. Returns the payment and whether it is new
        (False: a retry with the same Idempotency-Key, answered with the first payment)."""
        card = read_card(card_number, expiry, cvv, self.today())
        fingerprint = request_fingerprint(dossier_id, card_number, expiry)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
            earlier = self._payment_for_key(account_id, idempotency_key, fingerprint)
            if earlier is not None:
                return earlier, False
        dossier = self._payable_dossier(dossier_id)
        dossier.check_owner(account_id)
        dossier.check_payable()
        try:
            psp_reference = self.provider.authorise(dossier.amount_due, card)
        except PaymentDeclined as declined:
            log.info("payment.declined", dossier_id=str(dossier_id), reason=declined.reason)
            raise
        payment = Payment(
            dossier_id, account_id, dossier.total, dossier.currency, dossier.lines, card.last4,
            psp_reference,
        )
        dossier.authorise_payment(payment.id)
        used_key = (
            [IdempotencyKey(account_id, idempotency_key, fingerprint, payment.id)]
            if idempotency_key is not None else []
        )
        try:
            self.save(payment, dossier, *used_key)
        except IntegrityError:
            # A concurrent request authorised first: release ours and answer as a retry
            # would now be answered (the same payment for the same key, else 409).
            self.provider.void(psp_reference)
            log.info("payment.lost_race", dossier_id=str(dossier_id), psp_reference=psp_reference)
            if idempotency_key is not None:
                earlier = self._payment_for_key(account_id, idempotency_key, fingerprint)
                if earlier is not None:
                    return earlier, False
            self._payable_dossier(dossier_id).check_payable()
            raise
        log.info(
            "payment.authorised", dossier_id=str(dossier_id), payment_id=str(payment.id),
            psp_reference=psp_reference,
        )
        return payment, True

    def record_payment(self, account_id: UUID, payment_id: UUID) -> Payment:
        """The citizen's « enregistrer votre paiement »: recording twice records once."""
        payment = self.get_payment(account_id, payment_id)
        if payment.is_recorded:
            return payment
        dossier = self._payable_dossier(payment.dossier_id)
        payment.record()
        dossier.mark_paid(payment.id)
        try:
            self.save(payment, dossier)
        except IntegrityError:
            stored = self.get_payment(account_id, payment_id)
            if stored.is_recorded:  # recorded concurrently: the same answer, one event
                return stored
            raise
        log.info(
            "payment.recorded", dossier_id=str(payment.dossier_id), payment_id=str(payment.id)
        )
        return payment

    def get_payment(self, account_id: UUID, payment_id: UUID) -> Payment:
        try:
            payment: Payment = self.repository.get(payment_id)
        except AggregateNotFoundError:
            raise PaymentNotFound() from None
        if not isinstance(payment, Payment):
            raise PaymentNotFound()
        payment.check_owner(account_id)
        return payment

    def get_dossier(self, account_id: UUID, dossier_id: UUID) -> PayableDossier:
        try:
            dossier = self._payable_dossier(dossier_id)
        except NotPayable:
            raise DossierNotFound() from None
        dossier.check_owner(account_id)
        return dossier

    def _payable_dossier(self, dossier_id: UUID) -> PayableDossier:
        """The dossier, or NotPayable when it is unknown here (perhaps not arrived yet)."""
        try:
            dossier: object = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise NotPayable() from None
        if not isinstance(dossier, PayableDossier):
            raise NotPayable()
        return dossier

    def _payment_for_key(self, account_id: UUID, key: str, fingerprint: str) -> Payment | None:
        try:
            used: IdempotencyKey = self.repository.get(IdempotencyKey.create_id(account_id, key))
        except AggregateNotFoundError:
            return None
        used.check_same_request(fingerprint)
        return self.repository.get(used.payment_id)
