"""Supporting documents reviewed by the CERT: a mandate, a vehicle sold to the requester."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID, uuid4

import pytest

from ants_events import requests as contracts
from ants_runtime.inbound import NotReady
from requests_service.application import RequestsApplication
from requests_service.domain.dossier import Dossier
from requests_service.domain.errors import InvalidRequest
from requests_service.http.views import required_documents_view
from requests_service.integration.outbound import to_contract

PAUL = ("Paul", "ROUX")  # acts for Lucie ROUX, holder of GH-321-JK
KARIM = ("Karim", "BENALI")  # bought KL-654-MN from Hélène MOREAU


@pytest.fixture()
def app() -> RequestsApplication:
    return RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
                               today=lambda: date(2026, 11, 27))


def submitted(app: RequestsApplication, who: tuple[str, str], plate: str, person: str,
              special_case: bool = False, reason: str = "perte") -> UUID:
    dossier = app.start(uuid4(), *who, reason, person, special_case, plate)
    app.declare(dossier.id, True, True)
    return app.submit(dossier.id).id


def upload(app: RequestsApplication, dossier_id: UUID, kind: str) -> UUID:
    document_id = uuid4()
    app.save(*app.on_document_uploaded(dossier_id, kind, document_id, "a" * 64, "application/pdf"))
    return document_id


def statuses(app: RequestsApplication, dossier_id: UUID) -> dict[str, str]:
    return {d["kind"]: d["status"] for d in required_documents_view(app.get_dossier(dossier_id))}


def test_a_mandate_case_waits_for_the_mandate_and_the_holders_identity(app: RequestsApplication) -> None:
    dossier_id = submitted(app, PAUL, "GH-321-JK", "mandataire")
    dossier = app.get_dossier(dossier_id)
    assert dossier.status == "awaiting_documents"
    assert dossier.holder["family_name"] == "ROUX" and dossier.holder["given_name"] == "Lucie"
    assert dossier.requester == {"given_name": "Paul", "family_name": "ROUX"}
    assert statuses(app, dossier_id) == {"mandat": "awaited", "piece_identite_titulaire": "awaited"}

    mandate = upload(app, dossier_id, "mandat")
    assert app.get_dossier(dossier_id).status == "awaiting_documents"  # one still to send
    identity = upload(app, dossier_id, "piece_identite_titulaire")
    assert app.get_dossier(dossier_id).status == "under_review"

    app.save(*app.on_attachment_rejected(dossier_id, uuid4(), mandate, "incomplet", "Signature absente"))
    assert app.get_dossier(dossier_id).status == "awaiting_documents"
    assert statuses(app, dossier_id) == {"mandat": "rejected", "piece_identite_titulaire": "under_review"}
    second_mandate = upload(app, dossier_id, "mandat")
    app.save(*app.on_attachment_accepted(dossier_id, uuid4(), second_mandate, ""))
    assert app.get_dossier(dossier_id).status == "under_review"  # the identity is still checked
    app.save(*app.on_attachment_accepted(dossier_id, uuid4(), identity, ""))
    assert app.get_dossier(dossier_id).status == "ready_for_payment"


def test_a_decision_before_its_upload_is_parked_not_lost(app: RequestsApplication) -> None:
    dossier_id = submitted(app, PAUL, "GH-321-JK", "mandataire")
    with pytest.raises(NotReady):
        app.on_attachment_accepted(dossier_id, uuid4(), uuid4(), "")


def test_a_second_document_of_a_kind_under_review_waits_for_the_first_ones_rejection(
    app: RequestsApplication,
) -> None:
    dossier_id = submitted(app, PAUL, "GH-321-JK", "mandataire")
    upload(app, dossier_id, "mandat")
    with pytest.raises(NotReady):
        app.on_document_uploaded(dossier_id, "mandat", uuid4(), "b" * 64, "image/png")


def test_a_document_nobody_asked_for_changes_nothing(app: RequestsApplication) -> None:
    dossier_id = submitted(app, PAUL, "GH-321-JK", "mandataire")
    assert app.on_document_uploaded(dossier_id, "certificat_cession", uuid4(), "c" * 64, "image/png") == []


def test_a_buyer_is_not_the_holder_and_sends_the_deed_of_sale_and_his_identity(
    app: RequestsApplication,
) -> None:
    dossier_id = submitted(app, KARIM, "KL-654-MN", "titulaire", special_case=True)
    dossier = app.get_dossier(dossier_id)
    assert dossier.holder["family_name"] == "MOREAU"
    assert statuses(app, dossier_id) == {"certificat_cession": "awaited", "piece_identite_demandeur": "awaited"}
    for kind in ("certificat_cession", "piece_identite_demandeur"):
        document = upload(app, dossier_id, kind)
        app.save(*app.on_attachment_accepted(dossier_id, uuid4(), document, ""))
    assert app.get_dossier(dossier_id).status == "ready_for_payment"


def test_the_holder_cannot_tick_the_vehicle_sold_to_me_case(app: RequestsApplication) -> None:
    with pytest.raises(InvalidRequest) as refused:
        app.start(uuid4(), "Marie", "MARTIN", "perte", "titulaire", True, "AB-123-CD")
    assert refused.value.field == "special_case"


def test_a_stolen_title_under_mandate_needs_the_declaration_too(app: RequestsApplication) -> None:
    dossier_id = submitted(app, PAUL, "GH-321-JK", "mandataire", reason="vol")
    assert list(statuses(app, dossier_id)) == ["declaration_vol", "mandat", "piece_identite_titulaire"]
    published = [c for c in map(to_contract, app.events.get(dossier_id)) if c]
    assert [(c.type_name, c.version) for c in published] == [
        ("RequestStarted", 1), ("RequestSubmitted", 2), ("TheftDeclarationRequested", 1),
        ("DocumentsRequested", 1),
    ]
    started, requested = published[0], published[3]
    assert isinstance(started, contracts.RequestStartedV1) and started.requester is not None
    assert started.requester.family_name == "ROUX"
    assert isinstance(requested, contracts.DocumentsRequestedV1)
    assert requested.kinds == ("mandat", "piece_identite_titulaire")


def test_a_dossier_stored_before_requesters_were_recorded_still_replays(app: RequestsApplication) -> None:
    dossier = app.start(uuid4(), "Marie", "MARTIN", "perte", "titulaire", False, "AB-123-CD")
    started = next(iter(app.events.get(dossier.id)))
    stored = app.mapper.to_stored_event(started)
    state = json.loads(stored.state)
    assert state.pop("requester") is not None
    state.pop("class_version", None)  # as version 1 wrote it
    old = type(stored)(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=json.dumps(state).encode(),
    )
    replayed = app.mapper.to_domain_event(old)
    assert isinstance(replayed, Dossier.Started)
    assert replayed.requester is None
    rebuilt = replayed.mutate(None)
    assert rebuilt is not None and rebuilt.holder["family_name"] == "MARTIN"
