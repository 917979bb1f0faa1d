"""The payment service provider (PSP) port, and the simulated provider used by default.

A real provider (a bank's acquiring API) plugs in by implementing `PaymentProvider`; the
card object it receives must not be logged nor kept once the call returns.
"""

from __future__ import annotations

import threading
from typing import Protocol
from uuid import uuid4

from payment_service.domain.cards import Card
from payment_service.domain.model import Money, PaymentDeclined


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a temporary error: try again later."""


class PaymentProvider(Protocol):
    def authorise(self, amount: Money, card: Card) -> str:
        """Reserve the amount on the card; return the provider's reference.

        Raises PaymentDeclined when the issuing bank refuses.
        """

    def void(self, psp_reference: str) -> None:
        """Release an authorisation the service will not use (a concurrent race lost, or the
        request cancelled). Idempotent: voiding a voided reference succeeds.

        Raises ProviderUnavailable on a temporary failure.
        """

    def refund(self, psp_reference: str, amount: Money) -> None:
        """Credit back a captured payment (its request was cancelled). Idempotent per
        reference: refunding a refunded reference succeeds without crediting twice.

        Raises ProviderUnavailable on a temporary failure.
        """


# Documented test cards (any other Luhn-valid number is accepted, e.g. 4970 1000 0000 0000).
DECLINED_TEST_CARDS = {
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
}


class SimulatedPaymentProvider:
    """Accepts every card except the documented declined test cards. Keeps no card data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.authorisations: dict[str, Money] = {}
        self.voided: set[str] = set()
        self.refunded: dict[str, Money] = {}

    def authorise(self, amount: Money, card: Card) -> str:
        reason = DECLINED_TEST_CARDS.get(card.number)
        if reason is not None:
            raise PaymentDeclined(reason)
        reference = f"SIM-{uuid4().hex[:20].upper()}"
        with self._lock:
            self.authorisations[reference] = amount
        return reference

    def void(self, psp_reference: str) -> None:
        with self._lock:
            self.voided.add(psp_reference)

    def refund(self, psp_reference: str, amount: Money) -> None:
        with self._lock:
            self.refunded.setdefault(psp_reference, amount)
