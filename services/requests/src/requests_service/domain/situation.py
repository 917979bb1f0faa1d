"""The certificat de situation administrative (CSA): what the SIV says of a vehicle at one
moment (pledges, objections, thefts), issued to its holder or a co-holder.

Each CSA issued is recorded, so that its QR code can be checked later.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def situation_number(year: int, issue_id: UUID) -> str:
    """CSA-2026-XXXXXXXX: short, unambiguous to read aloud, derived from the issue's id."""
    value, letters = issue_id.int, []
    for _ in range(8):
        value, digit = divmod(value, len(NUMBER_ALPHABET))
        letters.append(NUMBER_ALPHABET[digit])
    return f"CSA-{year}-{''.join(letters)}"


class SituationCertificate(Aggregate):
    """One CSA issued; its id derives from its number (the verification address)."""

    # Explicit topics, registered at import: another replica reads what this one stored.
    TOPIC = "requests:SituationCertificate"

    class Event(Aggregate.Event):
        TOPIC = "requests:SituationCertificate.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "requests:SituationCertificate.Created"

    @staticmethod
    def create_id(number: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:requests:situation:{number}")

    @event("Issued", topic="requests:SituationCertificate.Issued")
    def __init__(
        self, number: str, plate: str, account_id: UUID, issued_at: str,
        facts: dict[str, Any],
    ) -> None:
        self.number = number
        self.plate = plate
        self.account_id = account_id
        self.issued_at = issued_at
        self.facts = facts  # counts and flags only: what the verification page may show
