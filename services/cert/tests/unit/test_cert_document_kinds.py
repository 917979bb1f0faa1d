"""Reviews of every kind of supporting document: per-kind superseding, queue filter, contracts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from ants_events import cert as contracts
from cert_service.application import Agent, CertApplication
from cert_service.domain.errors import InvalidDecision
from cert_service.domain.review import Review
from cert_service.integration.outbound import to_contract

ALICE = Agent(uuid4(), "Alice Agent")
CITIZEN = uuid4()


@pytest.fixture
def cert() -> CertApplication:
    return CertApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def mandate_case(cert: CertApplication) -> UUID:
    dossier_id = uuid4()
    cert.save(*cert.on_request_started(
        dossier_id, f"DUP-2025-{dossier_id.hex[:8].upper()}", CITIZEN, "perte", "mandataire",
        False, {"plate": "GH-321-JK", "vin": "VF1TEST", "make": "RENAULT", "model": "CAPTUR"},
        {"given_name": "Lucie", "family_name": "ROUX", "address": ""},
    ))
    return dossier_id


def upload(cert: CertApplication, dossier_id: UUID, kind: str) -> UUID:
    document_id = uuid4()
    cert.save(*cert.on_document_uploaded(
        dossier_id, kind, document_id, CITIZEN, "a" * 64, "application/pdf", 2048,
        datetime.now(UTC),
    ))
    return document_id


def reviews_of(cert: CertApplication, dossier_id: UUID, status: str = "all", kind: str | None = None) -> dict[str, str]:
    return {r["kind"]: r["status"] for r in cert.reviews(status, kind) if r["dossier_id"] == str(dossier_id)}


def test_a_new_mandate_closes_the_old_mandates_review_not_the_identity_documents(cert) -> None:
    dossier_id = mandate_case(cert)
    upload(cert, dossier_id, "mandat")
    upload(cert, dossier_id, "piece_identite_titulaire")
    upload(cert, dossier_id, "mandat")
    rows = [r for r in cert.reviews("all") if r["dossier_id"] == str(dossier_id)]
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("mandat", "closed"), ("piece_identite_titulaire", "pending"), ("mandat", "pending"),
    ]


def test_the_queue_filters_by_kind_of_document(cert) -> None:
    dossier_id = mandate_case(cert)
    upload(cert, dossier_id, "mandat")
    upload(cert, dossier_id, "piece_identite_titulaire")
    assert reviews_of(cert, dossier_id, "pending", "mandat") == {"mandat": "pending"}
    assert reviews_of(cert, dossier_id, "pending", "certificat_cession") == {}
    with pytest.raises(InvalidDecision):
        cert.reviews("pending", "passeport")


def test_decisions_on_other_kinds_are_published_in_v2_and_theft_declarations_stay_v1(cert) -> None:
    dossier_id = mandate_case(cert)
    mandate = upload(cert, dossier_id, "mandat")
    declaration = upload(cert, dossier_id, "declaration_vol")
    by_document = {r["document_id"]: r["review_id"] for r in cert.reviews("pending")}
    cert.reject(UUID(by_document[str(mandate)]), ALICE, "incomplet", "La signature manque.")
    cert.accept(UUID(by_document[str(declaration)]), ALICE)
    published = [
        c for review_id in (by_document[str(mandate)], by_document[str(declaration)])
        for c in map(to_contract, cert.events.get(UUID(review_id))) if c
    ]
    assert [type(c) for c in published] == [contracts.AttachmentRejectedV2, contracts.AttachmentAcceptedV1]
    rejected = published[0]
    assert isinstance(rejected, contracts.AttachmentRejectedV2)
    assert rejected.kind == "mandat" and rejected.note == "La signature manque."


def test_a_review_stored_before_kinds_existed_replays_as_a_theft_declaration(cert) -> None:
    dossier_id = mandate_case(cert)
    document_id = upload(cert, dossier_id, "declaration_vol")
    opened = next(iter(cert.events.get(UUID(cert.reviews("pending")[0]["review_id"]))))
    stored = cert.mapper.to_stored_event(opened)
    state = json.loads(stored.state)
    state.pop("kind")
    state.pop("class_version", None)  # as version 1 wrote it
    old = type(stored)(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=json.dumps(state).encode(),
    )
    replayed = cert.mapper.to_domain_event(old)
    assert isinstance(replayed, Review.Opened)
    review = replayed.mutate(None)
    assert review is not None
    assert review.kind == "declaration_vol" and review.document_id == document_id
