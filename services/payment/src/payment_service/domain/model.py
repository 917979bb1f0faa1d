"""Payable dossiers, payments and idempotency keys: what the payment service decides.

Event topics are explicit ("payment:..."), so moving or renaming this module cannot break
the replay of stored events. No card number nor CVV ever reaches an aggregate: a payment
keeps the card's last four digits and the provider's reference.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

PAYABLE, AUTHORISED, PAID = "payable", "authorised", "paid"
WITHDRAWN = "withdrawn"
RECORDED = "recorded"
VOIDED = "voided"
REFUNDED = "refunded"
MAX_IDEMPOTENCY_KEY_LENGTH = 255


class PaymentError(Exception):
    """A refusal with a message a person understands (French)."""


class NotPayable(PaymentError):
    def __init__(self, message: str = "Ce dossier n'est pas en attente de paiement.") -> None:
        super().__init__(message)


class AlreadyAuthorised(NotPayable):
    def __init__(self) -> None:
        super().__init__(
            "Un paiement a déjà été autorisé pour ce dossier : il reste à l'enregistrer."
        )


class AlreadyPaid(NotPayable):
    def __init__(self) -> None:
        super().__init__("Ce dossier n'est pas en attente de paiement : il a déjà été payé.")


class PaymentVoided(NotPayable):
    def __init__(self) -> None:
        super().__init__(
            "Ce paiement a été annulé avec la demande : aucun montant ne sera prélevé."
        )


class NotYourDossier(PaymentError):
    def __init__(self) -> None:
        super().__init__("Vous n'avez pas accès à ce dossier.")


class NotYourPayment(PaymentError):
    def __init__(self) -> None:
        super().__init__("Vous n'avez pas accès à ce paiement.")


class DossierNotFound(PaymentError):
    def __init__(self) -> None:
        super().__init__("Ce dossier n'est pas (ou pas encore) connu du service de paiement.")


class PaymentNotFound(PaymentError):
    def __init__(self) -> None:
        super().__init__("Paiement introuvable.")


class PaymentDeclined(PaymentError):
    """The issuing bank said no; `reason` is for operators, the message for the citizen."""

    def __init__(self, reason: str = "declined") -> None:
        super().__init__("Paiement refusé par la banque émettrice.")
        self.reason = reason


class IdempotencyKeyReused(PaymentError):
    def __init__(self) -> None:
        super().__init__("Cette clé d'idempotence a déjà servi pour une autre demande.")


class InvalidIdempotencyKey(PaymentError):
    def __init__(self) -> None:
        super().__init__(
            f"La clé d'idempotence doit comporter entre 1 et {MAX_IDEMPOTENCY_KEY_LENGTH} "
            "caractères imprimables."
        )


class InvalidAmountDue(ValueError):
    """A ready-for-payment event whose amount does not add up: never charge it."""


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


def check_amount_due(total: str, currency: str, lines: list[dict[str, str]]) -> None:
    try:
        amounts = [Decimal(line["amount"]) for line in lines]
        expected = Decimal(total)
    except (InvalidOperation, KeyError, TypeError) as error:
        raise InvalidAmountDue(f"unreadable amount: {error!r}") from None
    if not lines or any(a < 0 for a in amounts) or expected <= 0 or sum(amounts) != expected:
        raise InvalidAmountDue(f"total {total} is not the positive sum of {len(lines)} lines")
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidAmountDue(f"unknown currency {currency!r}")


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey()


def request_fingerprint(dossier_id: UUID, card_number: str, expiry: str) -> str:
    """What tells two payment requests apart, without keeping card data.

    The dossier, the card's last four digits and its expiry: a retry that differs only in
    digits the service must not keep (middle of the number, CVV) counts as the same request,
    which is harmless since a retry never authorises a second time.
    """
    last4 = card_number.replace(" ", "")[-4:]
    return hashlib.sha256(f"{dossier_id}|{last4}|{expiry.strip()}".encode()).hexdigest()


class PayableDossier(Aggregate):
    """A dossier the requests service declared ready for payment; its id is the dossier id."""

    TOPIC = "payment:PayableDossier"

    class Event(Aggregate.Event):
        TOPIC = "payment:PayableDossier.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "payment:PayableDossier.Created"

    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id

    @event("Opened", topic="payment:PayableDossier.Opened")
    def __init__(
        self, dossier_id: UUID, account_id: UUID, total: str, currency: str,
        lines: list[dict[str, str]],
    ) -> None:
        self.dossier_id = dossier_id
        self.account_id = account_id
        self.total = total
        self.currency = currency
        self.lines = lines
        self.status = PAYABLE
        self.payment_id: UUID | None = None

    @property
    def amount_due(self) -> Money:
        return Money(Decimal(self.total), self.currency)

    def check_owner(self, account_id: UUID) -> None:
        if account_id != self.account_id:
            raise NotYourDossier()

    def check_payable(self) -> None:
        if self.status == WITHDRAWN:
            raise NotPayable("Ce dossier a été annulé : il ne peut plus être payé.")
        if self.status == AUTHORISED:
            raise AlreadyAuthorised()
        if self.status == PAID:
            raise AlreadyPaid()

    def authorise_payment(self, payment_id: UUID) -> None:
        self.check_payable()
        self._payment_authorised(payment_id)

    @event("PaymentAuthorised", topic="payment:PayableDossier.PaymentAuthorised")
    def _payment_authorised(self, payment_id: UUID) -> None:
        self.status = AUTHORISED
        self.payment_id = payment_id

    def mark_paid(self, payment_id: UUID) -> None:
        if self.status != AUTHORISED or payment_id != self.payment_id:
            raise NotPayable()
        self._paid(payment_id)

    @event("Paid", topic="payment:PayableDossier.Paid")
    def _paid(self, payment_id: UUID) -> None:
        self.status = PAID

    def withdraw(self) -> bool:
        """The request was cancelled before payment. Idempotent: False when nothing changes."""
        if self.status in (PAID, WITHDRAWN):
            return False
        self._withdrawn()
        return True

    @event("Withdrawn", topic="payment:PayableDossier.Withdrawn")
    def _withdrawn(self) -> None:
        self.status = WITHDRAWN


class Payment(Aggregate):
    """An amount authorised on a card for a dossier, then recorded by the citizen's click."""

    TOPIC = "payment:Payment"

    class Event(Aggregate.Event):
        TOPIC = "payment:Payment.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "payment:Payment.Created"

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Recorded: ClassVar[type[Any]]

    @event("Authorised", topic="payment:Payment.Authorised")
    def __init__(
        self, dossier_id: UUID, account_id: UUID, total: str, currency: str,
        lines: list[dict[str, str]], card_last4: str, psp_reference: str,
    ) -> None:
        self.dossier_id = dossier_id
        self.account_id = account_id
        self.total = total
        self.currency = currency
        self.lines = lines
        self.card_last4 = card_last4
        self.psp_reference = psp_reference
        self.status = AUTHORISED

    @property
    def is_recorded(self) -> bool:
        return self.status == RECORDED

    @property
    def amount(self) -> Money:
        return Money(Decimal(self.total), self.currency)

    def check_owner(self, account_id: UUID) -> None:
        if account_id != self.account_id:
            raise NotYourPayment()

    def record(self) -> None:
        """The citizen's « enregistrer votre paiement »; a second call changes nothing."""
        if self.is_recorded:
            return
        if self.status == VOIDED:
            raise PaymentVoided()
        self._recorded(**self._receipt())

    def void(self) -> bool:
        """The request was cancelled before the payment was recorded: the authorisation will
        not be used. Idempotent: False when nothing changes (voided already, or recorded)."""
        if self.status != AUTHORISED:
            return False
        self._voided(self.psp_reference)
        return True

    @event("Voided", topic="payment:Payment.Voided")
    def _voided(self, psp_reference: str) -> None:
        self.status = VOIDED
        self.released = False

    @property
    def awaits_release(self) -> bool:
        """Voided here, and the provider not yet told to release the amount on the card."""
        return self.status == VOIDED and not self.released

    @event("Released", topic="payment:Payment.Released")
    def record_release(self, psp_reference: str) -> None:
        """The provider voided the authorisation: nothing is held on the card any more."""
        self.released = True

    def refund(self) -> bool:
        """The request was cancelled although this payment was recorded (the cancellation
        raced the citizen's « enregistrer »): the amount goes back to the card. Idempotent:
        False when nothing changes (not recorded, or refunded already)."""
        if self.status != RECORDED:
            return False
        self._refunded(self.psp_reference)
        return True

    @event("Refunded", topic="payment:Payment.Refunded")
    def _refunded(self, psp_reference: str) -> None:
        self.status = REFUNDED
        self.refund_confirmed = False

    @property
    def awaits_refund(self) -> bool:
        """Refunded here, and the provider not yet told to credit the card."""
        return self.status == REFUNDED and not self.refund_confirmed

    @event("RefundConfirmed", topic="payment:Payment.RefundConfirmed")
    def record_refund(self, psp_reference: str) -> None:
        """The provider credited the card back."""
        self.refund_confirmed = True

    def _receipt(self) -> dict[str, Any]:
        return {
            "dossier_id": self.dossier_id, "account_id": self.account_id, "total": self.total,
            "currency": self.currency, "lines": self.lines, "card_last4": self.card_last4,
            "psp_reference": self.psp_reference,
        }

    # The Recorded event carries the whole receipt: the outbox maps it to the public
    # PaymentRecorded contract without reading the aggregate again.
    @event("Recorded", topic="payment:Payment.Recorded")
    def _recorded(
        self, dossier_id: UUID, account_id: UUID, total: str, currency: str,
        lines: list[dict[str, str]], card_last4: str, psp_reference: str,
    ) -> None:
        self.status = RECORDED


class IdempotencyKey(Aggregate):
    """A client's Idempotency-Key, per account: its id derives from both, so it is unique."""

    TOPIC = "payment:IdempotencyKey"

    class Event(Aggregate.Event):
        TOPIC = "payment:IdempotencyKey.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "payment:IdempotencyKey.Created"

    @staticmethod
    def create_id(account_id: UUID, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:payment:idempotency-key:{account_id}:{key}")

    @event("Used", topic="payment:IdempotencyKey.Used")
    def __init__(self, account_id: UUID, key: str, fingerprint: str, payment_id: UUID) -> None:
        self.account_id = account_id
        self.fingerprint = fingerprint
        self.payment_id = payment_id

    def check_same_request(self, fingerprint: str) -> None:
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
