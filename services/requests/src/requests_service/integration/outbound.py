"""Private dossier events -> public contracts (what other services and agencies see)."""

from __future__ import annotations

from typing import Any

from ants_events import requests as contracts
from ants_events.base import AmountDue, IntegrationEvent
from ants_runtime.store import event_id_of
from requests_service.domain.dossier import Dossier


def to_contract(e: Any) -> IntegrationEvent | None:
    common = {
        "event_id": event_id_of(e),
        "occurred_at": e.timestamp,
        "dossier_id": e.originator_id,
    }
    if isinstance(e, Dossier.Started):
        return contracts.RequestStartedV1(
            **common,
            dossier_number=e.dossier_number,
            account_id=e.account_id,
            reason=e.reason,
            person=e.person,
            special_case=e.special_case,
            vehicle=contracts.Vehicle(**e.vehicle),
            holder=contracts.Holder(**e.holder),
            requester=contracts.Requester(**e.requester) if e.requester else None,
        )
    if isinstance(e, Dossier.Submitted) and e.next_step == "documents":
        return contracts.RequestSubmittedV2(
            **common, account_id=e.account_id, sworn_statement=e.sworn_statement,
            legal_terms=e.legal_terms, next_step=e.next_step,
        )
    if isinstance(e, Dossier.Submitted):  # v1 says the loss and theft cases, as before
        return contracts.RequestSubmittedV1(
            **common, account_id=e.account_id, sworn_statement=e.sworn_statement,
            legal_terms=e.legal_terms, next_step=e.next_step,
        )
    if isinstance(e, Dossier.TheftDeclarationRequested):
        return contracts.TheftDeclarationRequestedV1(**common, account_id=e.account_id, plate=e.plate)
    if isinstance(e, Dossier.DocumentsRequested):
        return contracts.DocumentsRequestedV1(
            **common, account_id=e.account_id, kinds=tuple(e.kinds)
        )
    if isinstance(e, Dossier.ReadyForPayment):
        return contracts.RequestReadyForPaymentV1(
            **common, account_id=e.account_id, amount_due=AmountDue(**e.amount_due)
        )
    if isinstance(e, Dossier.MessagePosted) and e.author_role == "citizen":
        return contracts.CitizenMessagePostedV1(
            **common, message_id=e.message_id, author_id=e.author_id, text=e.text,
            document_id=e.document_id,
        )
    if isinstance(e, Dossier.Completed):
        return contracts.RequestCompletedV1(**common, certificate_number=e.certificate_number)
    if isinstance(e, Dossier.Cancelled):
        return contracts.RequestCancelledV1(**common, reason=e.reason)
    return None
