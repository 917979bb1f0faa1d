"""The dossier's rules, in memory: plates, holders, one open request per vehicle, states."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from ants_events import requests as contracts
from ants_runtime.projection import Projector
from requests_service.adapters.siv import SeededSiv
from requests_service.application import RequestsApplication
from requests_service.domain.dossier import Dossier
from requests_service.domain.errors import (
    InvalidRequest,
    NotHolder,
    RequestAlreadyOpen,
    VehicleNotFound,
    WrongState,
)
from requests_service.domain.plates import normalise_plate
from requests_service.integration.outbound import to_contract

MARIE = ("Marie", "MARTIN")
JULIEN = ("Julien", "PAUL")


@pytest.fixture()
def app() -> RequestsApplication:
    return RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: date(2026, 11, 27))


def start(
    app: RequestsApplication, who: tuple[str, str] = MARIE, plate: str = "AB-123-CD",
    reason: str = "perte", person: str = "titulaire", account: UUID | None = None,
) -> Dossier:
    return app.start(account or uuid4(), *who, reason, person, False, plate)


@pytest.mark.parametrize("raw", ["AB-123-CD", "ab123cd", " AB 123 CD ", "ab-123 cd"])
def test_siv_numbers_are_accepted_in_any_usual_spelling(raw: str) -> None:
    assert normalise_plate(raw) == "AB-123-CD"


@pytest.mark.parametrize("raw", ["1234 AB 56", "123 ABC 75", "56 A 2A", "1234AB56"])
def test_fni_numbers_are_told_they_need_a_conversion(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="ancien format"):
        normalise_plate(raw)


@pytest.mark.parametrize("raw", ["AB-12-CD", "A-123-CD", "AB-000-CD", "hello", "AB-1234-CD"])
def test_malformed_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        normalise_plate(raw)


def test_loss_goes_straight_to_payment_with_the_fees_in_force(app: RequestsApplication) -> None:
    dossier = start(app)
    app.declare(dossier.id, True, True)
    dossier = app.submit(dossier.id)
    assert dossier.status == "ready_for_payment"
    assert dossier.amount_due == {
        "total": "13.76", "currency": "EUR",
        "lines": [
            {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
            {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"},
        ],
    }


def test_submitting_requires_the_legal_declarations(app: RequestsApplication) -> None:
    dossier = start(app)
    with pytest.raises(WrongState):
        app.submit(dossier.id)
    with pytest.raises(InvalidRequest):
        app.declare(dossier.id, True, False)


def test_theft_not_recorded_in_siv_puts_the_request_on_hold(app: RequestsApplication) -> None:
    dossier = start(app, JULIEN, "EF-456-GH", reason="vol")
    app.declare(dossier.id, True, True)
    assert app.submit(dossier.id).status == "awaiting_declaration"


def test_theft_already_recorded_in_siv_is_not_blocked(app: RequestsApplication) -> None:
    dossier = start(app, JULIEN, "IJ-789-KL", reason="vol")
    app.declare(dossier.id, True, True)
    assert app.submit(dossier.id).status == "ready_for_payment"


def test_the_iterative_theft_loop(app: RequestsApplication) -> None:
    dossier = start(app, JULIEN, "EF-456-GH", reason="vol")
    app.declare(dossier.id, True, True)
    app.submit(dossier.id)
    first_doc, second_doc, review1, review2 = uuid4(), uuid4(), uuid4(), uuid4()
    app.save(*app.on_document_uploaded(dossier.id, "declaration_vol", first_doc, "a" * 64, "application/pdf"))
    assert app.get_dossier(dossier.id).status == "under_review"
    app.save(*app.on_attachment_rejected(dossier.id, review1, first_doc, "illisible", "Document illisible"))
    rejected = app.get_dossier(dossier.id)
    assert rejected.status == "awaiting_declaration"
    note = rejected.latest_cert_note
    assert note is not None and note["note"] == "Document illisible"
    assert app.on_attachment_rejected(dossier.id, review1, first_doc, "illisible", "x") == []
    app.save(*app.on_document_uploaded(dossier.id, "declaration_vol", second_doc, "b" * 64, "image/png"))
    app.save(*app.on_attachment_accepted(dossier.id, review2, second_doc, ""))
    assert app.get_dossier(dossier.id).status == "ready_for_payment"


def test_the_requester_must_hold_the_vehicle(app: RequestsApplication) -> None:
    with pytest.raises(NotHolder):
        start(app, JULIEN, "AB-123-CD")
    with pytest.raises(NotHolder):
        start(app, MARIE, "MN-234-PQ", person="titulaire")
    assert start(app, ("marie", "Martin"), "MN-234-PQ", person="cotitulaire").status == "draft"


def test_an_unknown_vehicle_is_refused(app: RequestsApplication) -> None:
    with pytest.raises(VehicleNotFound):
        start(app, plate="ZY-987-XW")


def test_one_open_request_per_vehicle_until_it_is_finished(app: RequestsApplication) -> None:
    first = start(app)
    with pytest.raises(RequestAlreadyOpen):
        start(app)
    app.cancel(first.id)
    assert start(app).status == "draft"


def test_payment_and_certificate_complete_the_dossier_once(app: RequestsApplication) -> None:
    dossier = start(app)
    app.declare(dossier.id, True, True)
    app.submit(dossier.id)
    payment_id = uuid4()
    app.save(*app.on_payment_recorded(dossier.id, payment_id, "13.76", "EUR"))
    assert app.on_payment_recorded(dossier.id, payment_id, "13.76", "EUR") == []
    app.save(*app.on_certificate_issued(dossier.id, "CPI-2026-X", date(2026, 12, 27), []))
    done = app.get_dossier(dossier.id)
    assert done.status == "completed"
    assert not done.is_open
    assert start(app).status == "draft"  # the vehicle is free again


def test_public_events_tell_the_dossier_story(app: RequestsApplication) -> None:
    dossier = start(app)
    app.declare(dossier.id, True, True)
    app.submit(dossier.id)
    published = [c for c in map(to_contract, app.events.get(dossier.id)) if c]
    assert [c.type_name for c in published] == ["RequestStarted", "RequestSubmitted", "RequestReadyForPayment"]
    started = published[0]
    assert isinstance(started, contracts.RequestStartedV1)
    assert started.vehicle.vin == "VF1RJA00067123456"


def test_the_test_fleet_has_valid_siv_numbers() -> None:
    siv = SeededSiv.load()
    fleet = [p for p in siv.vehicles if p.startswith("ZZ-")]
    assert len(fleet) == 5000
    assert all(normalise_plate(p) == p for p in fleet)


def test_stored_events_carry_explicit_topics_that_survive_a_module_rename(app: RequestsApplication) -> None:
    from eventsourcing.utils import get_topic

    dossier = start(app)
    app.declare(dossier.id, True, True)
    app.submit(dossier.id)
    topics = [get_topic(type(e)) for e in app.events.get(dossier.id)]
    assert topics == ["requests:Dossier.Started", "requests:Dossier.DeclarationsAccepted",
                      "requests:Dossier.Submitted", "requests:Dossier.ReadyForPayment"]


def test_one_citizen_starting_many_requests_at_once_gets_them_all(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    app = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                   "SQLITE_DBNAME": str(tmp_path / "r.sqlite")})
    account = uuid4()
    plates = [f"ZZ-{n:03d}-AA" for n in range(1, 17)]
    with ThreadPoolExecutor(8) as pool:
        started = list(pool.map(lambda p: app.start(account, "Flotte", "ESSAI", "perte", "titulaire", False, p), plates))
    assert len({d.id for d in started}) == 16
    Projector(app, app.dossier_list).catch_up()
    assert len(app.dossiers_page(account, limit=100).dossiers) == 16


def test_concurrent_changes_to_one_dossier_are_all_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    app = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                   "SQLITE_DBNAME": str(tmp_path / "r.sqlite")})
    account = uuid4()
    dossier = app.start(account, "Julien", "PAUL", "vol", "titulaire", False, "EF-456-GH")
    texts = [f"message {n}" for n in range(12)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda t: app.post_citizen_message(dossier.id, account, t), texts))
    assert sorted(m["text"] for m in app.get_dossier(dossier.id).messages) == sorted(texts)
