"""Private domain events -> public contracts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ants_events.base import IntegrationEvent
from ants_events.identity import AccountRegisteredV2
from ants_runtime.sealed import Sealer
from ants_runtime.store import event_id_of
from identity_service.domain.model import Account


def contracts_sealing_for(sealer: Sealer | None) -> Callable[[Any], IntegrationEvent | None]:
    """The mapping, with the e-mail address sealed for the notifications service when its
    public key is configured: that service alone can read it (see ants_runtime.sealed)."""
    return lambda domain_event: to_contract(domain_event, sealer)


def to_contract(domain_event: Any, sealer: Sealer | None = None) -> IntegrationEvent | None:
    """AccountRegistered v2 only: v1 put the e-mail address on a topic other agencies read.

    An account stored before v2 existed is republished as v2 under the same ce_id, so a
    consumer that already handled its v1 recognises it.
    """
    if isinstance(domain_event, Account.Registered):
        event_id = event_id_of(domain_event)
        return AccountRegisteredV2(
            event_id=event_id,
            occurred_at=domain_event.timestamp,
            account_id=domain_event.originator_id,
            given_name=domain_event.given_name,
            family_name=domain_event.family_name,
            roles=tuple(domain_event.roles),
            contact=sealer.seal(domain_event.email, str(event_id)) if sealer else None,
        )
    return None
