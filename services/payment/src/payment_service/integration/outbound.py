"""Private domain events -> public contracts: only a recorded payment is published."""

from __future__ import annotations

from typing import Any

from ants_events.base import FeeLine, IntegrationEvent
from ants_events.payment import PaymentRecordedV1
from ants_runtime.store import event_id_of
from payment_service.domain.model import Payment


def to_contract(domain_event: Any) -> IntegrationEvent | None:
    if isinstance(domain_event, Payment.Recorded):
        return PaymentRecordedV1(
            event_id=event_id_of(domain_event),
            occurred_at=domain_event.timestamp,
            payment_id=domain_event.originator_id,
            dossier_id=domain_event.dossier_id,
            account_id=domain_event.account_id,
            amount=domain_event.total,
            currency=domain_event.currency,
            lines=tuple(FeeLine(**line) for line in domain_event.lines),
            psp_reference=domain_event.psp_reference,
            card_last4=domain_event.card_last4,
        )
    return None
