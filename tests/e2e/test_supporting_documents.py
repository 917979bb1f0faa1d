"""Supporting documents reviewed by the CERT: a request under a mandate, a vehicle sold to the
requester, and a dossier that cannot be paid while a required document is missing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ants_stack.stack import Stack
from tests.e2e import files
from tests.e2e.client import Api, User, eventually, fleet_plate, read_topic
from tests.e2e.test_loss_case import pdf_text


def start(api: Api, user: User, plate: str, person: str, special_case: bool = False) -> httpx.Response:
    return api.call("POST", "requests", "/dossiers", user, json={
        "reason": "perte", "person": person, "special_case": special_case, "plate": plate})


def start_and_submit(api: Api, user: User, plate: str, person: str, special_case: bool = False) -> dict[str, Any]:
    started = start(api, user, plate, person, special_case)
    assert started.status_code == 201, started.text
    dossier_id = started.json()["dossier_id"]
    declared = api.call("POST", "requests", f"/dossiers/{dossier_id}/declarations", user,
                        json={"sworn_statement": True, "legal_terms": True})
    assert declared.status_code == 200, declared.text
    submitted = api.call("POST", "requests", f"/dossiers/{dossier_id}/submit", user)
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


def send(api: Api, user: User, dossier_id: str, kind: str, content: bytes | None = None) -> httpx.Response:
    return api.call("POST", "documents", f"/dossiers/{dossier_id}/attachments", user,
                    files={"file": ("piece.pdf", content or files.pdf(kind), "application/pdf")},
                    data={"kind": kind})


def sent(api: Api, user: User, dossier_id: str, kind: str) -> str:
    response = send(api, user, dossier_id, kind)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == kind
    return response.json()["document_id"]


def documents_by_kind(dossier: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in dossier["required_documents"]}


def wait_dossier(api: Api, user: User, dossier_id: str, until: Callable[[dict[str, Any]], bool],
                 timeout: float = 30) -> dict[str, Any]:
    """The dossier once `until` holds, each read answering at the dossier's next change."""
    deadline = time.monotonic() + timeout
    dossier = api.dossier(user, dossier_id)
    while not until(dossier):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"not reached within {timeout} s: {dossier['required_documents']}"
        response = api.call("GET", "requests", f"/dossiers/{dossier_id}?wait_version="
                            f"{dossier['version']}&timeout={min(remaining, 30):.1f}", user)
        assert response.status_code == 200, response.text
        dossier = response.json()
    return dossier


def document_state(kind: str, status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda dossier: documents_by_kind(dossier)[kind]["status"] == status


def review_of(api: Api, agent: User, document_id: str, kind: str) -> dict[str, Any]:
    """The pending review of a document, found in the CERT queue filtered by its kind."""
    def find() -> dict[str, Any] | None:
        queue = api.call("GET", "cert", f"/reviews?status=pending&kind={kind}", agent).json()
        assert all(r["kind"] == kind for r in queue)
        return next((r for r in queue if r["document_id"] == document_id), None)

    return eventually(find)


def accept(api: Api, agent: User, document_id: str, kind: str) -> None:
    review = review_of(api, agent, document_id, kind)
    accepted = api.call("POST", "cert", f"/reviews/{review['review_id']}/accept", agent, json={"note": ""})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["kind"] == kind


def pay_and_complete(api: Api, user: User, dossier_id: str) -> dict[str, Any]:
    payment = api.pay(user, dossier_id)
    assert payment.status_code == 201, payment.text
    assert api.record(user, payment.json()["payment_id"]).status_code == 200
    return api.wait_status(user, dossier_id, "completed")


def certificate_texts(api: Api, user: User, dossier_id: str, tmp_path: Path) -> dict[str, str]:
    documents = eventually(lambda: (r := api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", user).json())
                           and {"cpi", "recapitulatif"} <= {d["kind"] for d in r} and r)
    return {
        d["kind"]: " ".join(pdf_text(api.call("GET", "documents", f"/documents/{d['document_id']}", user).content,
                                     tmp_path, f"{d['kind']}.pdf").split())
        for d in documents if d["kind"] in {"cpi", "recapitulatif"}
    }


def test_paul_gets_a_duplicate_for_lucie_under_a_mandate_the_cert_first_found_incomplete(
    api: Api, stack: Stack, tmp_path: Path
) -> None:
    paul = api.login("paul.roux@example.fr")
    agent = api.login("agent.cert@example.fr")
    dossier = start_and_submit(api, paul, "GH-321-JK", "mandataire")
    dossier_id = dossier["dossier_id"]
    assert dossier["status"] == "awaiting_documents"
    assert dossier["next_action"]["code"] == "send_documents"
    assert dossier["holder"] == {"given_name": "Lucie", "family_name": "ROUX"}
    assert dossier["requester"] == {"given_name": "Paul", "family_name": "ROUX"}
    assert {k: d["status"] for k, d in documents_by_kind(dossier).items()} == {
        "mandat": "awaited", "piece_identite_titulaire": "awaited"}

    # The mandate first: the CERT finds it incomplete and says why.
    first_mandate = sent(api, paul, dossier_id, "mandat")
    review = review_of(api, agent, first_mandate, "mandat")
    detail = api.call("GET", "cert", f"/reviews/{review['review_id']}", agent).json()
    assert detail["kind"] == "mandat" and detail["dossier"]["person"] == "mandataire"
    note = "Le mandat n'est pas signé par Mme Lucie ROUX : renvoyez-le signé."
    rejected = api.call("POST", "cert", f"/reviews/{review['review_id']}/reject", agent,
                        json={"reason": "incomplet", "note": note})
    assert rejected.status_code == 200, rejected.text
    on_hold = wait_dossier(api, paul, dossier_id, document_state("mandat", "rejected"))
    assert on_hold["status"] == "awaiting_documents"
    decision = documents_by_kind(on_hold)["mandat"]["decision"]
    assert decision["note"] == note and decision["reason_label"] == "Document incomplet"

    # Paul re-sends a signed mandate with a word for the agent, who accepts it.
    second_mandate = sent(api, paul, dossier_id, "mandat")
    reply = api.call("POST", "requests", f"/dossiers/{dossier_id}/messages", paul,
                     json={"text": "Voici le mandat signé par ma mère.", "document_id": second_mandate})
    assert reply.status_code == 201, reply.text
    accept(api, agent, second_mandate, "mandat")
    waiting = wait_dossier(api, paul, dossier_id, document_state("mandat", "accepted"))
    assert waiting["status"] == "awaiting_documents"  # Lucie's identity document is still due

    # Then Lucie's identity document; once accepted, the dossier can be paid.
    identity = sent(api, paul, dossier_id, "piece_identite_titulaire")
    accept(api, agent, identity, "piece_identite_titulaire")
    ready = api.wait_status(paul, dossier_id, "ready_for_payment")
    assert ready["next_action"]["code"] == "pay"
    pay_and_complete(api, paul, dossier_id)

    texts = certificate_texts(api, paul, dossier_id, tmp_path)
    cpi = texts["cpi"]
    assert "CERTIFICAT PROVISOIRE D'IMMATRICULATION" in cpi and "GH-321-JK" in cpi
    assert cpi.index("ROUX Lucie") > cpi.index("TITULAIRE")
    assert "Demandée par ROUX Paul, mandataire du titulaire" in cpi
    assert "Mandat du titulaire (cerfa n° 13757 ou lettre signée), reçu le" in cpi
    summary = texts["recapitulatif"]
    assert "Demandée par ROUX Paul, mandataire du titulaire" in summary and "ROUX Lucie" in summary
    assert "Pièce d'identité du titulaire" in summary

    # On the topics: v1 where v1 can say it, v2 and DocumentsRequested for the new case.
    key = dossier_id.encode()
    published = [r.ce_type for r in read_topic(stack.config, "ants.requests.v1") if r.key == key]
    assert published == [
        "fr.ants.requests.RequestStarted.v1", "fr.ants.requests.RequestSubmitted.v2",
        "fr.ants.requests.DocumentsRequested.v1", "fr.ants.requests.MessagePosted.v1",
        "fr.ants.requests.RequestReadyForPayment.v1", "fr.ants.requests.RequestCompleted.v1",
    ]
    decisions = [(r.ce_type, r.value) for r in read_topic(stack.config, "ants.cert.v1") if r.key == key]
    assert [t for t, _ in decisions] == [
        "fr.ants.cert.AttachmentRejected.v2", "fr.ants.cert.AttachmentAccepted.v2",
        "fr.ants.cert.AttachmentAccepted.v2",
    ]
    assert [b'"kind":"mandat"' in v for _, v in decisions] == [True, True, False]


def test_karim_bought_a_car_whose_certificate_he_lost_before_registering_it(
    api: Api, tmp_path: Path
) -> None:
    karim = api.login("karim.benali@example.fr")
    agent = api.login("agent.cert@example.fr")
    not_holder = start(api, karim, "KL-654-MN", "titulaire")
    assert not_holder.status_code == 403  # Hélène MOREAU holds it in the SIV
    dossier = start_and_submit(api, karim, "KL-654-MN", "titulaire", special_case=True)
    dossier_id = dossier["dossier_id"]
    assert dossier["special_case"] is True and dossier["status"] == "awaiting_documents"
    assert list(documents_by_kind(dossier)) == ["certificat_cession", "piece_identite_demandeur"]

    for kind in ("certificat_cession", "piece_identite_demandeur"):
        accept(api, agent, sent(api, karim, dossier_id, kind), kind)
    api.wait_status(karim, dossier_id, "ready_for_payment")
    pay_and_complete(api, karim, dossier_id)

    cpi = certificate_texts(api, karim, dossier_id, tmp_path)["cpi"]
    assert cpi.index("MOREAU Hélène") > cpi.index("TITULAIRE")
    assert "Demandée par BENALI Karim, acquéreur du véhicule" in cpi
    assert "Certificat de cession (cerfa n° 15776), reçu le" in cpi


def test_a_mandate_case_without_the_holders_identity_document_cannot_be_paid(api: Api) -> None:
    proxy = api.new_citizen("Nadia", "FONTAINE")
    agent = api.login("agent.cert@example.fr")
    dossier_id = start_and_submit(api, proxy, fleet_plate(), "mandataire")["dossier_id"]

    unknown = send(api, proxy, dossier_id, "passeport")
    assert unknown.status_code == 422 and "Type de pièce inconnu" in unknown.json()["message"]
    not_asked = send(api, proxy, dossier_id, "certificat_cession")
    assert not_asked.status_code == 409 and "n'attend pas" in not_asked.json()["message"]

    accept(api, agent, sent(api, proxy, dossier_id, "mandat"), "mandat")
    dossier = wait_dossier(api, proxy, dossier_id, document_state("mandat", "accepted"))
    assert dossier["status"] == "awaiting_documents"
    assert documents_by_kind(dossier)["piece_identite_titulaire"]["status"] == "awaited"
    refused = api.pay(proxy, dossier_id)
    assert refused.status_code == 409, refused.text
    assert api.dossier(proxy, dossier_id)["payment"] is None
