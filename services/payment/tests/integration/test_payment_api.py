"""The payment service process over HTTP, fed and read through a real Kafka-protocol broker."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import httpx
import pytest

CARD = "4970 1000 0006 0000"
CARD_DIGITS = CARD.replace(" ", "")
NOT_PAYABLE = "Ce dossier n'est pas en attente de paiement."
DECLINED = "Paiement refusé par la banque émettrice."


def body(dossier_id: UUID, card_number: str = CARD, expiry: str = "12/30", cvv: str = "123") -> dict:
    return {"dossier_id": str(dossier_id), "card_number": card_number, "expiry": expiry, "cvv": cvv}


def payments_of(records: list, dossier_id: UUID) -> list:
    return [r for r in records if r.key == str(dossier_id).encode()]


async def test_a_citizen_pays_then_records_and_one_payment_recorded_is_published(
    payment_service, new_citizen, publish, read_payment_topic, eventually
) -> None:
    from ants_events import AmountDue  # noqa: F401 - the contract the fixture publishes

    marie = new_citizen()
    dossier_id = uuid4()
    async with payment_service.client(marie) as http:
        early = await http.post("/payments", json=body(dossier_id))
        assert early.status_code == 409
        assert early.json()["message"] == NOT_PAYABLE

        from_fixture = __import__("conftest")  # noqa: F841 - see below
