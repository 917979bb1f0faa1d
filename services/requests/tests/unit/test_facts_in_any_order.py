"""Facts from different topics arrive in any order: none is lost, the dossier never sticks.

The records go through the same inbound runtime as from Kafka (decode, track by event id,
park what comes too early), with the application's events in memory.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from ants_events import IntegrationEvent
from ants_events.base import FeeLine
from ants_events.cert import AttachmentAcceptedV1, AttachmentRejectedV1
from ants_events.documents import CertificateIssuedV1, DeclarationUploadedV1, DocumentRef
from ants_events.payment import PaymentRecordedV1
from ants_stack.testing import consumed_record, trusted_test_producers
from ants_runtime.inbound import InboundEvents
from ants_runtime.settings import ServiceSettings
from requests_service.application import RequestsApplication
from requests_service.integration import inbound

FLEET = ("Flotte", "ESSAI")
_offsets = iter(range(1, 10_000))


@pytest.fixture()
def app() -> RequestsApplication:
    return RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
                               today=lambda: date(2026, 11, 27))


@pytest.fixture()
def events(app: RequestsApplication) -> InboundEvents:
    consumer = InboundEvents(app, ServiceSettings(service_name="requests"))
    consumer.trusted = trusted_test_producers()
    inbound.register(consumer, app)
    return consumer


async def deliver(events: InboundEvents, *contracts: IntegrationEvent) -> None:
    for contract in contracts:
        await events.handle_batch([consumed_record(contract, next(_offsets), next(_offsets))])


def payable(app: RequestsApplication, reason: str = "perte", plate: str = "ZZ-001-AA") -> UUID:
    dossier = app.start(uuid4(), *FLEET, reason, "titulaire", False, plate)
    app.declare(dossier.id, True, True)
    return app.submit(dossier.id).id


def paid(dossier_id: UUID) -> PaymentRecordedV1:
    return PaymentRecordedV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), payment_id=uuid4(),
        dossier_id=dossier_id, account_id=uuid4(), amount="13.76",
        lines=(FeeLine(code="Y4", label="Taxe fixe", amount="11.00"),
               FeeLine(code="Y5", label="Redevance", amount="2.76")),
        psp_reference="PSP-1", card_last4="0000",
    )


def issued(dossier_id: UUID) -> CertificateIssuedV1:
    return CertificateIssuedV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        certificate_number="CPI-2026-00000001", valid_until=date(2026, 12, 27),
        documents=(DocumentRef(document_id=uuid4(), kind="cpi"),),
    )


def uploaded(dossier_id: UUID, document_id: UUID) -> DeclarationUploadedV1:
    return DeclarationUploadedV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        document_id=document_id, account_id=uuid4(), sha256=hashlib.sha256(b"x").hexdigest(),
        media_type="application/pdf", size=1,
    )


def accepted(dossier_id: UUID, document_id: UUID) -> AttachmentAcceptedV1:
    return AttachmentAcceptedV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        review_id=uuid4(), document_id=document_id, agent_id=uuid4(), note="Conforme.",
    )


def rejected(dossier_id: UUID, document_id: UUID) -> AttachmentRejectedV1:
    return AttachmentRejectedV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        review_id=uuid4(), document_id=document_id, agent_id=uuid4(), reason="illisible",
        note="Illisible.",
    )


async def test_a_certificate_seen_before_its_payment_completes_the_dossier(
    app: RequestsApplication, events: InboundEvents
) -> None:
    dossier_id = payable(app)
    await deliver(events, issued(dossier_id))
    assert app.get_dossier(dossier_id).status == "ready_for_payment"
    assert [p.subject for p in events.inbox.parked()] == [str(dossier_id)]

    await deliver(events, paid(dossier_id))
    dossier = app.get_dossier(dossier_id)
    assert dossier.status == "completed"
    assert dossier.certificate is not None
    assert dossier.certificate["certificate_number"] == "CPI-2026-00000001"
    assert events.inbox.parked() == []
    # The vehicle is free again.
    assert app.vehicle_lock("ZZ-001-AA").open_dossier_id is None


async def test_an_acceptance_seen_before_its_upload_makes_the_dossier_payable(
    app: RequestsApplication, events: InboundEvents
) -> None:
    dossier_id = payable(app, reason="vol")
    document_id = uuid4()
    await deliver(events, accepted(dossier_id, document_id))
    assert app.get_dossier(dossier_id).status == "awaiting_declaration"
    await deliver(events, uploaded(dossier_id, document_id))
    dossier = app.get_dossier(dossier_id)
    assert dossier.status == "ready_for_payment"
    assert dossier.latest_cert_decision is not None
    assert dossier.latest_cert_decision["decision"] == "accepted"


async def test_a_second_upload_seen_before_the_rejection_of_the_first_is_kept(
    app: RequestsApplication, events: InboundEvents
) -> None:
    dossier_id = payable(app, reason="vol")
    first, second = uuid4(), uuid4()
    await deliver(events, uploaded(dossier_id, first), uploaded(dossier_id, second),
                  accepted(dossier_id, second))
    assert app.get_dossier(dossier_id).status == "under_review"
    await deliver(events, rejected(dossier_id, first))
    dossier = app.get_dossier(dossier_id)
    assert dossier.declaration_documents == [str(first), str(second)]
    assert [d["decision"] for d in dossier.review_decisions] == ["rejected", "accepted"]
    assert dossier.status == "ready_for_payment"


async def test_a_payment_recorded_after_the_cancellation_is_kept_on_the_dossier(
    app: RequestsApplication, events: InboundEvents
) -> None:
    dossier_id = payable(app)
    app.cancel(dossier_id)
    payment = paid(dossier_id)
    await deliver(events, payment)
    dossier = app.get_dossier(dossier_id)
    assert dossier.status == "cancelled"
    assert dossier.payment is not None
    assert dossier.payment["payment_id"] == str(payment.payment_id)
    assert events.inbox.parked() == []
