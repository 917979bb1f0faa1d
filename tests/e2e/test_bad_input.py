"""Bad input and access: clear refusals, nothing half-written."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.client import GOOD_CARD, Api, User, fleet_plate


@pytest.fixture()
def fleet_owner(api: Api) -> User:
    return api.new_citizen("Flotte", "ESSAI")


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        ("AB-12-CD", "format attendu est AB-123-CD"),
        ("", "Renseignez le numéro"),
        ("1234 AB 56", "ancien format (FNI)"),
        ("ZY-987-XW", "Aucun véhicule immatriculé ZY-987-XW"),
    ],
)
def test_a_plate_that_cannot_get_a_duplicate_is_refused_with_a_reason(
    api: Api, fleet_owner: User, plate: str, expected: str
) -> None:
    response = api.start(fleet_owner, plate)
    assert response.status_code == 422
    assert expected in response.json()["message"]
    assert response.json()["errors"][0]["field"] == "plate"
    assert api.call("GET", "requests", "/dossiers", fleet_owner).json() == []


def test_only_the_holder_may_ask_for_a_duplicate(api: Api) -> None:
    stranger = api.new_citizen("Jean", "DUPONT")
    response = api.start(stranger, "RS-567-TV")
    assert response.status_code == 403
    assert "pas titulaire" in response.json()["message"]


def test_a_co_holder_may_ask_for_a_duplicate(api: Api) -> None:
    marie = api.new_citizen("Marie", "Martin")
    response = api.start(marie, "MN-234-PQ", person="cotitulaire")
    assert response.status_code == 201, response.text


def test_a_second_open_request_for_the_same_vehicle_is_refused(api: Api, fleet_owner: User) -> None:
    plate = fleet_plate()
    assert api.start(fleet_owner, plate).status_code == 201
    second = api.start(fleet_owner, plate)
    assert second.status_code == 409
    assert "déjà en cours" in second.json()["message"]
    assert len(api.call("GET", "requests", "/dossiers", fleet_owner).json()) == 1


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        ({"card_number": "4970 1000 0600 0000", "expiry": "01/21", "cvv": "123"}, "expirée"),
        ({"card_number": "4000 0000 0000 0002", "expiry": "12/30", "cvv": "123"}, "refusé"),
        ({"card_number": "4970 1000 0600 0000", "expiry": "12/30", "cvv": "12"}, "cryptogramme"),
        ({"card_number": "4970 1000 0000 0001", "expiry": "12/30", "cvv": "123"}, "numéro de carte"),
    ],
)
def test_a_bad_card_is_refused_and_the_dossier_stays_payable(
    api: Api, fleet_owner: User, card: dict[str, str], expected: str
) -> None:
    dossier = api.start_and_submit(fleet_owner, fleet_plate())
    response = api.pay(fleet_owner, dossier["dossier_id"], card)
    assert response.status_code == 422, response.text
    assert expected in response.json()["message"].lower()
    assert card["card_number"].replace(" ", "") not in response.text
    assert api.pay(fleet_owner, dossier["dossier_id"]).status_code == 201
    assert api.dossier(fleet_owner, dossier["dossier_id"])["status"] == "ready_for_payment"


def test_recording_a_payment_twice_records_one_payment(api: Api, fleet_owner: User) -> None:
    dossier = api.start_and_submit(fleet_owner, fleet_plate())
    payment_id = api.pay(fleet_owner, dossier["dossier_id"]).json()["payment_id"]
    first, second = api.record(fleet_owner, payment_id), api.record(fleet_owner, payment_id)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    done = api.wait_status(fleet_owner, dossier["dossier_id"], "completed")
    assert done["payment"]["payment_id"] == payment_id
    another = api.pay(fleet_owner, dossier["dossier_id"])
    assert another.status_code == 409


def test_a_dossier_that_is_not_payable_cannot_be_paid(api: Api, fleet_owner: User) -> None:
    draft = api.start(fleet_owner, fleet_plate()).json()
    response = api.call("POST", "payment", "/payments", fleet_owner,
                        json={"dossier_id": draft["dossier_id"], **GOOD_CARD})
    assert response.status_code == 409
    assert response.json()["message"]
    unknown = api.call("POST", "payment", "/payments", fleet_owner,
                       json={"dossier_id": str(uuid.uuid4()), **GOOD_CARD})
    assert unknown.status_code in (404, 409)


def test_someone_elses_dossier_and_documents_are_out_of_reach(api: Api, fleet_owner: User) -> None:
    dossier = api.start_and_submit(fleet_owner, fleet_plate())
    dossier_id = dossier["dossier_id"]
    payment_id = api.pay(fleet_owner, dossier_id).json()["payment_id"]
    api.record(fleet_owner, payment_id)
    api.wait_status(fleet_owner, dossier_id, "completed")
    documents = api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", fleet_owner).json()

    intruder = api.new_citizen("Flotte", "ESSAI")
    assert api.call("GET", "requests", f"/dossiers/{dossier_id}", intruder).status_code == 403
    assert api.call("POST", "requests", f"/dossiers/{dossier_id}/submit", intruder).status_code == 403
    assert api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", intruder).status_code == 403
    for document in documents:
        response = api.call("GET", "documents", f"/documents/{document['document_id']}", intruder)
        assert response.status_code == 403
        assert response.json()["message"]
    assert api.record(intruder, payment_id).status_code == 403
    assert api.call("GET", "requests", f"/dossiers/{dossier_id}").status_code == 401
    assert api.call("GET", "requests", f"/dossiers/{uuid.uuid4()}", intruder).status_code == 404


def test_an_empty_person_is_refused_on_that_field_before_the_holder_is_looked_up(
    api: Api, fleet_owner: User
) -> None:
    response = api.start(fleet_owner, fleet_plate(), person="")
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "person", "message": "Choisissez la personne concernée par la demande."}
    ]


def test_a_message_may_only_point_at_a_document_of_its_dossier(
    api: Api, fleet_owner: User
) -> None:
    started = api.start(fleet_owner, fleet_plate())
    assert started.status_code == 201, started.text
    dossier_id = started.json()["dossier_id"]
    message = {"text": "Voici ma déclaration.", "document_id": str(uuid.uuid4())}
    refused = api.call("POST", "requests", f"/dossiers/{dossier_id}/messages", fleet_owner,
                       json=message)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "document_id"
    thread = api.call("GET", "requests", f"/dossiers/{dossier_id}/messages", fleet_owner)
    assert thread.json() == []
