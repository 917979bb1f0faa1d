"""Private domain events -> public contracts."""

from __future__ import annotations

from typing import Any

from ants_events.base import IntegrationEvent
from ants_events.identity import AccountRegisteredV1
from ants_runtime.store import event_id_of
from identity_service.domain.model import Account


def to_contract(domain_event: Any) -> IntegrationEvent | None:
    if isinstance(domain_event, Account.Registered):
        return AccountRegisteredV1(
            event_id=event_id_of(domain_event),
            occurred_at=domain_event.timestamp,
            account_id=domain_event.originator_id,
            email=domain_event.email,
            given_name=domain_event.given_name,
            family_name=domain_event.family_name,
            roles=tuple(domain_event.roles),
        )
    return None
