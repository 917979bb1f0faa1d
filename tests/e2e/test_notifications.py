"""E-mails to the citizen: sent over SMTP from the notifications service's queue, one per
event even when events are delivered twice, late but never lost while the server is away."""

from __future__ import annotations

import re
import uuid

import httpx

from ants_stack.stack import Stack
from tests.e2e import files
from tests.e2e.client import PASSWORD, Api, eventually, fleet_plate, read_topic, republish
from tests.e2e.mails import about, html_of, received, text_of
from tests.e2e.test_theft_case import pending_review_for, theft_dossier_on_hold, upload

# The types the notifications service handles (others it skips without a tracking row).
HANDLED = {
    "fr.ants.requests.RequestStarted.v1", "fr.ants.requests.RequestSubmitted.v1",
    "fr.ants.requests.RequestReadyForPayment.v1", "fr.ants.cert.AttachmentRejected.v1",
    "fr.ants.cert.MessagePosted.v1",
    "fr.ants.documents.CertificateIssued.v1", "fr.ants.documents.CertificateDispatched.v1",
}
THEFT_SUBJECTS = [
    "est enregistrée", "une pièce est à renvoyer", "le CERT vous a écrit", "vous pouvez payer",
    "votre certificat provisoire est prêt", "votre certificat d'immatriculation est expédié",
]


def consumed_duplicates(api: Api) -> int:
    metrics = api.call("GET", "notifications", "/metrics").text
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines()
        if line.startswith("ants_events_consumed_total{") and 'outcome="duplicate"' in line
    )


def test_julien_is_told_by_mail_at_each_step_of_the_theft_case_once_per_event(
    api: Api, stack: Stack
) -> None:
    julien = api.login("julien.paul@example.fr")
    agent = api.login("agent.cert@example.fr")
    dossier_id = theft_dossier_on_hold(api, julien)
    first = upload(api, julien, dossier_id, files.png(), "declaration.png", "image/png").json()
    review = pending_review_for(api, agent, first["document_id"])
    api.call("POST", "cert", f"/reviews/{review['review_id']}/claim", agent)
    note = "Scan flou : le numéro du procès-verbal ne se lit pas."
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/reject", agent,
                    json={"reason": "illisible", "note": note}).status_code == 200
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/messages", agent,
                    json={"text": "Merci de renvoyer le récépissé complet."}).status_code in (200, 201)
    api.wait_status(julien, dossier_id, "awaiting_declaration")
    second = upload(api, julien, dossier_id, files.pdf(), "recepisse.pdf", "application/pdf").json()
    review = pending_review_for(api, agent, second["document_id"])
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/accept", agent,
                    json={"note": "Pièce conforme."}).status_code == 200
    api.wait_status(julien, dossier_id, "ready_for_payment")
    payment = api.pay(julien, dossier_id)
    assert api.record(julien, payment.json()["payment_id"]).status_code == 200
    api.wait_status(julien, dossier_id, "completed")

    mails = eventually(lambda: (m := about(stack.mail_dir, dossier_id)) and len(m) >= 6 and m,
                       timeout=60)
    assert [next(s for s in THEFT_SUBJECTS if s in m["Subject"]) for m in mails] == THEFT_SUBJECTS
    number = api.dossier(julien, dossier_id)["dossier_number"]
    for message in mails:
        assert message["To"] == "julien.paul@example.fr"
        assert number in message["Subject"]
        assert f"/dossiers/{dossier_id}" in html_of(message)
        body = text_of(message)
        assert "PAUL" not in body and "Julien" not in body and "EF-456-GH" not in body
    rejected = text_of(mails[1])
    assert "Motif : Document illisible." in rejected and note not in rejected
    assert re.search(r"Numéro de suivi : 1A\d{11}", text_of(mails[5]))

    # Every record about the dossier delivered a second time: no second mail.
    records = [
        r for topic in ("ants.requests.v1", "ants.cert.v1", "ants.documents.v1")
        for r in read_topic(stack.config, topic)
        if r.key == dossier_id.encode() and r.ce_type in HANDLED
    ]
    before = consumed_duplicates(api)
    for record in records:
        republish(stack.config, record)
    eventually(lambda: consumed_duplicates(api) >= before + len(records), timeout=60)
    assert len(about(stack.mail_dir, dossier_id)) == 6


def test_mails_wait_while_the_mail_server_is_down_and_the_procedure_does_not(
    api: Api, stack: Stack
) -> None:
    citizen = api.new_citizen("Flotte", "ESSAI")
    stack.stop_mail_sink()
    try:
        dossier = api.start_and_submit(citizen, fleet_plate())
        dossier_id = dossier["dossier_id"]
        payment = api.pay(citizen, dossier_id)
        assert payment.status_code == 201, payment.text
        assert api.record(citizen, payment.json()["payment_id"]).status_code == 200
        api.wait_status(citizen, dossier_id, "completed")
        assert about(stack.mail_dir, dossier_id) == []
    finally:
        stack.start_mail_sink()
    mails = eventually(lambda: (m := about(stack.mail_dir, dossier_id)) and len(m) >= 3 and m,
                       timeout=90)
    subjects = [m["Subject"] for m in mails]
    assert "est enregistrée" in subjects[0]
    assert "certificat provisoire est prêt" in subjects[1]
    assert "expédié" in subjects[2]


def test_an_address_with_injected_headers_reaches_no_one_else(api: Api, stack: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    hostile = f"victime.{tag}@example.fr\r\nBcc: espion.{tag}@example.fr"
    response = api.call("POST", "identity", "/accounts", json={
        "email": hostile, "password": PASSWORD, "given_name": "Eve", "family_name": "ESSAI",
    })
    assert response.status_code in (202, 400, 422)
    if response.status_code == 202:  # accepted as typed: the mails may go nowhere else
        login = api.call("POST", "identity", "/sessions", json={"email": hostile, "password": PASSWORD})
        if login.status_code == 200:
            api.start_and_submit(
                type("U", (), {"headers": {"Authorization": f"Bearer {login.json()['access_token']}"}})(),
                fleet_plate(),
            )
    # Whatever happened, no message names the second address in any header.
    citizen = api.new_citizen("Flotte", "ESSAI")
    dossier = api.start_and_submit(citizen, fleet_plate())
    eventually(lambda: about(stack.mail_dir, dossier["dossier_id"]), timeout=60)
    for message in received(stack.mail_dir):
        assert f"espion.{tag}" not in str(message["To"]) and message["Bcc"] is None


def test_the_definitive_certificate_is_made_then_sent_with_a_tracking_number(api: Api) -> None:
    citizen = api.new_citizen("Flotte", "ESSAI")
    dossier = api.start_and_submit(citizen, fleet_plate())
    payment = api.pay(citizen, dossier["dossier_id"])
    assert api.record(citizen, payment.json()["payment_id"]).status_code == 200
    completed = api.wait_status(citizen, dossier["dossier_id"], "completed")

    def definitive(status: str) -> dict | None:
        found = api.dossier(citizen, dossier["dossier_id"])["definitive_certificate"]
        return found if found and found["status"] == status else None

    seen = completed["definitive_certificate"] or eventually(lambda: definitive("in_production") or definitive("dispatched"))
    assert seen["mention"] == "DUPLICATA"
    sent = eventually(lambda: definitive("dispatched"), timeout=60)
    assert sent["status_label"] == "Certificat expédié"
    assert re.fullmatch(r"1A\d{11}", sent["tracking_number"])
    # The summary can be downloaded again at any time.
    documents = api.call("GET", "documents", f"/dossiers/{dossier['dossier_id']}/documents", citizen).json()
    summary = next(d for d in documents if d["kind"] == "recapitulatif")
    for _ in range(2):
        again = api.call("GET", "documents", f"/documents/{summary['document_id']}", citizen)
        assert again.status_code == 200 and again.content.startswith(b"%PDF")
    assert isinstance(httpx, object)
