"""Events published by the payment service."""

from typing import ClassVar
from uuid import UUID

from ants_events.base import FeeLine, IntegrationEvent


class PaymentRecordedV1(IntegrationEvent):
    """A payment was authorised and then recorded by the citizen. Card: last 4 digits only."""

    producer: ClassVar[str] = "payment"
    type_name: ClassVar[str] = "PaymentRecorded"

    payment_id: UUID
    dossier_id: UUID
    account_id: UUID
    amount: str
    currency: str = "EUR"
    lines: tuple[FeeLine, ...]
    psp_reference: str
    card_last4: str
