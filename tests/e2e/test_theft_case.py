"""Theft, iterative mode (the seed's second scenario): on hold, CERT review loop, messages, basket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from ants_stack.stack import Stack
from tests.e2e import files
from tests.e2e.client import Api, User, eventually, fleet_plate, read_topic


def upload(api: Api, user: User, dossier_id: str, content: bytes, name: str, media_type: str) -> httpx.Response:
    return api.call("POST", "documents", f"/dossiers/{dossier_id}/attachments", user,
                    files={"file": (name, content, media_type)})


def pending_review_for(api: Api, agent: User, document_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        queue = api.call("GET", "cert", "/reviews?status=pending", agent).json()
        return next((r for r in queue if r["document_id"] == document_id), None)

    return eventually(find)


def theft_dossier_on_hold(api: Api, citizen: User, plate: str = "EF-456-GH") -> str:
    dossier = api.start_and_submit(citizen, plate, reason="vol")
    assert dossier["status"] == "awaiting_declaration"
    assert dossier["next_action"]["code"] == "send_declaration"
    return dossier["dossier_id"]


def test_julien_gets_his_duplicate_after_the_cert_rejected_then_accepted_his_declaration(
    api: Api, stack: Stack
) -> None:
    julien = api.login("julien.paul@example.fr")
    agent = api.login("agent.cert@example.fr")
    dossier_id = theft_dossier_on_hold(api, julien)

    # Payment before the CERT accepted the declaration is refused.
    early = api.call("POST", "payment", "/payments", julien,
                     json={"dossier_id": dossier_id, "card_number": "4970 1000 0600 0000", "expiry": "12/30", "cvv": "123"})
    assert early.status_code == 409

    # He sends his police declaration: a blurred scan.
    sent = upload(api, julien, dossier_id, files.png(), "declaration.png", "image/png")
    first_document = sent.json()["document_id"]
    api.wait_status(julien, dossier_id, "under_review")

    # The CERT rejects it as illegible, with a note.
    review = pending_review_for(api, agent, first_document)
    detail = api.call("GET", "cert", f"/reviews/{review['review_id']}", agent).json()
    assert detail["dossier"]["vehicle"]["plate"] == "EF-456-GH"
    assert detail["document"]["document_url"] == f"/documents/{first_document}"
    scan = api.call("GET", "documents", detail["document"]["document_url"], agent)
    assert scan.status_code == 200 and scan.headers["content-type"] == "image/png"
    assert scan.content.startswith(b"\x89PNG") and scan.content.endswith(b"IEND\xaeB`\x82")
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/claim", agent).status_code == 200
    note = "La déclaration est illisible : merci de renvoyer un scan net du récépissé."
    rejected = api.call("POST", "cert", f"/reviews/{review['review_id']}/reject", agent,
                        json={"reason": "illisible", "note": note})
    assert rejected.status_code == 200, rejected.text

    # Julien reads the note from his basket and replies with a new file.
    on_hold = api.wait_status(julien, dossier_id, "awaiting_declaration")
    assert on_hold["latest_cert_note"]["note"] == note
    assert on_hold["latest_cert_note"]["reason"] == "illisible"
    assert on_hold["latest_cert_decision"]["reason_label"] == "Document illisible"
    basket = api.call("GET", "requests", "/dossiers", julien).json()
    mine = next(d for d in basket if d["dossier_id"] == dossier_id)
    assert mine["next_action"]["code"] == "send_declaration" and mine["latest_cert_note"]["note"] == note
    resent = upload(api, julien, dossier_id, files.pdf(), "recepisse.pdf", "application/pdf")
    assert resent.status_code == 201, resent.text
    second_document = resent.json()["document_id"]
    reply = api.call("POST", "requests", f"/dossiers/{dossier_id}/messages", julien,
                     json={"text": "Voici un nouveau scan, bien lisible.", "document_id": second_document})
    assert reply.status_code == 201, reply.text

    # The agent sees the thread with the new review and accepts.
    review = pending_review_for(api, agent, second_document)
    thread = eventually(lambda: (t := api.call("GET", "cert", f"/reviews/{review['review_id']}", agent).json()["thread"])
                        and any(e.get("text") == "Voici un nouveau scan, bien lisible." for e in t) and t)
    assert any(e.get("text") == note for e in thread)
    accepted = api.call("POST", "cert", f"/reviews/{review['review_id']}/accept", agent, json={"note": "Pièce conforme."})
    assert accepted.status_code == 200, accepted.text

    # Julien resumes from the basket, pays, records and downloads the CPI.
    ready = api.wait_status(julien, dossier_id, "ready_for_payment")
    assert ready["next_action"]["code"] == "pay"
    assert ready["latest_cert_decision"]["decision"] == "accepted"
    payment = api.pay(julien, dossier_id)
    assert payment.status_code == 201, payment.text
    assert api.record(julien, payment.json()["payment_id"]).status_code == 200
    api.wait_status(julien, dossier_id, "completed")
    documents = eventually(lambda: (r := api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", julien).json())
                           and {"cpi", "recapitulatif"} <= {d["kind"] for d in r} and r)
    cpi = next(d for d in documents if d["kind"] == "cpi")
    assert api.call("GET", "documents", f"/documents/{cpi['document_id']}", julien).content.startswith(b"%PDF")

    # The dossier's event stream tells that story, in order.
    history = [e["type"] for e in api.call("GET", "requests", f"/dossiers/{dossier_id}/history", julien).json()]
    # Then the definitive certificate is made and sent, on its own schedule.
    history = history[: history.index("Completed") + 1]
    assert history == [
        "Started", "DeclarationsAccepted", "Submitted", "TheftDeclarationRequested",
        "DeclarationReceived", "DeclarationRejected", "DeclarationReceived", "MessagePosted",
        "DeclarationAccepted", "ReadyForPayment", "Paid", "Completed",
    ] or history == [
        "Started", "DeclarationsAccepted", "Submitted", "TheftDeclarationRequested",
        "DeclarationReceived", "DeclarationRejected", "MessagePosted", "DeclarationReceived",
        "DeclarationAccepted", "ReadyForPayment", "Paid", "Completed",
    ]
    published = [r.ce_type.split(".")[3] for r in read_topic(stack.config, "ants.requests.v1") if r.key == dossier_id.encode()]
    assert published == ["RequestStarted", "RequestSubmitted", "TheftDeclarationRequested", "MessagePosted",
                         "RequestReadyForPayment", "RequestCompleted"]
    decisions = [r.ce_type.split(".")[3] for r in read_topic(stack.config, "ants.cert.v1") if r.key == dossier_id.encode()]
    assert decisions == ["AttachmentRejected", "AttachmentAccepted"]


def test_a_theft_already_recorded_in_siv_is_not_put_on_hold(api: Api) -> None:
    julien = api.new_citizen("Julien", "PAUL")
    dossier = api.start_and_submit(julien, "IJ-789-KL", reason="vol")
    assert dossier["status"] == "ready_for_payment"
    payment = api.pay(julien, dossier["dossier_id"])
    assert payment.status_code == 201
    assert api.record(julien, payment.json()["payment_id"]).status_code == 200
    api.wait_status(julien, dossier["dossier_id"], "completed")


def test_uploads_are_checked_and_reserved_to_the_owner_of_a_waiting_dossier(api: Api) -> None:
    julien = api.new_citizen("Flotte", "ESSAI")
    stranger = api.new_citizen("Jean", "DUPONT")
    loss = api.start_and_submit(julien, fleet_plate())  # loss: no declaration awaited
    not_awaiting = upload(api, julien, loss["dossier_id"], files.pdf(), "d.pdf", "application/pdf")
    assert not_awaiting.status_code == 409
    api.call("POST", "requests", f"/dossiers/{loss['dossier_id']}/cancel", julien)

    dossier_id = theft_dossier_on_hold(api, julien, fleet_plate())
    stranger_upload = upload(api, stranger, dossier_id, files.pdf(), "d.pdf", "application/pdf")
    assert stranger_upload.status_code == 403, stranger_upload.text
    cases = [
        (b"%!PS-Adobe-3.0 not a pdf", "d.pdf", "application/pdf", 422, "Format non accepté"),
        (b"", "d.pdf", "application/pdf", 422, "vide"),
        (files.pdf()[:-30], "d.pdf", "application/pdf", 422, "illisible"),
        (b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 10), "gros.pdf", "application/pdf", 413, "taille maximale"),
    ]
    for content, name, media_type, status, message in cases:
        response = upload(api, julien, dossier_id, content, name, media_type)
        assert response.status_code == status, (name, response.text)
        assert message in response.json()["message"]
    assert api.dossier(julien, dossier_id)["status"] == "awaiting_declaration"


def test_the_cert_api_is_for_agents_and_a_review_is_decided_once(api: Api, stack: Stack) -> None:
    julien = api.new_citizen("Flotte", "ESSAI")
    agent, other_agent = api.login("agent.cert@example.fr"), api.login("agent2.cert@example.fr")
    auditor = api.login("auditeur@example.fr")
    dossier_id = theft_dossier_on_hold(api, julien, fleet_plate())
    sent = upload(api, julien, dossier_id, files.pdf(), "d.pdf", "application/pdf")
    review = pending_review_for(api, agent, sent.json()["document_id"])
    review_path = f"/reviews/{review['review_id']}"

    for method, path in [("GET", "/reviews"), ("GET", review_path), ("POST", f"{review_path}/claim"),
                         ("POST", f"{review_path}/accept")]:
        assert api.call(method, "cert", path, julien, json={}).status_code == 403
    assert api.call("GET", "cert", review_path, auditor).status_code == 200
    assert api.call("POST", "cert", f"{review_path}/accept", auditor, json={}).status_code == 403
    assert api.call("GET", "requests", f"/dossiers/{dossier_id}", auditor).status_code == 200
    assert api.call("GET", "requests", f"/dossiers/{dossier_id}", api.new_citizen("Jean", "DUPONT")).status_code == 403

    async def both_accept() -> list[int]:
        async with httpx.AsyncClient(timeout=15) as client:
            responses = await asyncio.gather(*[
                client.post(api.url("cert", f"{review_path}/accept"), json={"note": ""}, headers=who.headers)
                for who in (agent, other_agent)
            ])
        return sorted(r.status_code for r in responses)

    assert asyncio.run(both_accept()) == [200, 409]
    again = api.call("POST", "cert", f"{review_path}/reject", agent, json={"reason": "illisible", "note": "Trop tard"})
    assert again.status_code == 409
    api.wait_status(julien, dossier_id, "ready_for_payment")
    decisions = [json.loads(r.value) for r in read_topic(stack.config, "ants.cert.v1") if r.key == dossier_id.encode()]
    assert len(decisions) == 1


@pytest.mark.parametrize("reason", ["", "flou"])
def test_a_rejection_needs_a_known_reason_and_a_note(api: Api, reason: str) -> None:
    julien = api.new_citizen("Flotte", "ESSAI")
    agent = api.login("agent.cert@example.fr")
    dossier_id = theft_dossier_on_hold(api, julien, fleet_plate())
    sent = upload(api, julien, dossier_id, files.pdf(), "d.pdf", "application/pdf")
    review = pending_review_for(api, agent, sent.json()["document_id"])
    response = api.call("POST", "cert", f"/reviews/{review['review_id']}/reject", agent,
                        json={"reason": reason or "illisible", "note": "" if not reason else "Photo floue"})
    assert response.status_code == 422
    assert response.json()["message"]
