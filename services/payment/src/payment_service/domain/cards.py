"""Card checks done before asking the payment provider: number (Luhn), expiry, CVV.

A `Card` lives only for the time of one authorisation: it is never stored nor logged, and
its repr shows the last four digits only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from payment_service.domain.model import PaymentError

EXPIRY = re.compile(r"([0-9]{2})/([0-9]{2})")
DIGITS = re.compile(r"[0-9]+")
CVV = re.compile(r"[0-9]{3}")


class InvalidCard(PaymentError):
    """The card data cannot be sent to the bank as it is; `field` says which input is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class CardExpired(InvalidCard):
    def __init__(self) -> None:
        super().__init__("La carte est expirée.", "expiry")


@dataclass(frozen=True)
class Card:
    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int
    cvv: str = field(repr=False)

    @property
    def last4(self) -> str:
        return self.number[-4:]


def read_card(number: str, expiry: str, cvv: str, today: date) -> Card:
    """The card as typed by the citizen, checked; raises InvalidCard with a French message."""
    digits = card_digits(number)
    month, year = read_expiry(expiry)
    check_not_expired(month, year, today)
    check_cvv(cvv)
    return Card(digits, month, year, cvv.strip())


def card_digits(number: str) -> str:
    """The card number without its spaces (as printed on the card), or InvalidCard."""
    digits = number.replace(" ", "")
    if not DIGITS.fullmatch(digits):
        raise InvalidCard("Le numéro de carte ne doit contenir que des chiffres.", "card_number")
    if not 13 <= len(digits) <= 19:
        raise InvalidCard(
            "Le numéro de carte doit comporter entre 13 et 19 chiffres.", "card_number"
        )
    if not luhn_valid(digits):
        raise InvalidCard("Le numéro de carte n'est pas valide : vérifiez-le.", "card_number")
    return digits


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number carries in its last digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def read_expiry(expiry: str) -> tuple[int, int]:
    """"MM/YY" -> (month, four-digit year)."""
    match = EXPIRY.fullmatch(expiry.strip())
    if match is None:
        raise InvalidCard(
            "La date d'expiration doit être au format MM/AA (par exemple 09/28).", "expiry"
        )
    month, year = int(match.group(1)), 2000 + int(match.group(2))
    if not 1 <= month <= 12:
        raise InvalidCard(
            "Le mois de la date d'expiration doit être compris entre 01 et 12.", "expiry"
        )
    return month, year


def check_not_expired(month: int, year: int, today: date) -> None:
    """A card is valid until the last day of its expiry month included."""
    if (year, month) < (today.year, today.month):
        raise CardExpired()


def check_cvv(cvv: str) -> None:
    if not CVV.fullmatch(cvv.strip()):
        raise InvalidCard("Le cryptogramme visuel doit comporter exactement 3 chiffres.", "cvv")
