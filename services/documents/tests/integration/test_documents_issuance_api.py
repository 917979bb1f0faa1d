"""The real service, fed through a real broker: a paid dossier gets its CPI and summary.

Runs on the embedded SQLite store and on PostgreSQL (skipped when no server listens).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import json
import time
from datetime import date, datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from ants_events import topics
from ants_events.documents import CertificateIssuedV1

PARIS = ZoneInfo("Europe/Paris")
CERTIFICATE_ISSUED = CertificateIssuedV1.ce_type()


def one_month_after(day: date) -> date:
    year, month = divmod(day.month, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


PAYMENT_KINDS = {"cpi", "recapitulatif"}


def two_documents(listed: list[dict]) -> bool:
    return {d["kind"] for d in listed} == PAYMENT_KINDS


def payment_documents(listed: list[dict]) -> bool:
    return PAYMENT_KINDS <= {d["kind"] for d in listed}


async def certificates_issued(service, dossier_id: UUID, at_least: int = 1, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        found = await service.events_about(topics.DOCUMENTS, dossier_id, CERTIFICATE_ISSUED)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


async def pay_for(service, sample) -> list[dict]:
    await service.publish(sample.started(), sample.submitted())
    await service.publish(sample.paid())
    return await service.documents_when(sample.dossier_id, sample.account_id, two_documents)


async def test_paid_dossier_gets_its_cpi_and_summary(service, sample, pdftotext) -> None:
    sample.special_case = True
    payment = sample.paid()
    await service.publish(sample.started(), sample.submitted())
    await service.publish(payment)

    listed = await service.documents_when(sample.dossier_id, sample.account_id, two_documents)

    owner = service.keys.token(sample.account_id)
    issued_on = payment.occurred_at.astimezone(PARIS).date()
    valid_until = one_month_after(issued_on)
    documents = {d["kind"]: d for d in listed}
    async with service.http() as http:
        cpi = await http.get(f"/documents/{documents['cpi']['document_id']}", headers=owner)
        summary = await http.get(
            f"/documents/{documents['recapitulatif']['document_id']}", headers=owner
        )
    for response, kind in ((cpi, "cpi"), (summary, "recapitulatif")):
        expected = documents[kind]
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        disposition = response.headers["content-disposition"]
        assert f'filename="{expected["filename"]}"' in disposition
        assert hashlib.sha256(response.content).hexdigest() == expected["sha256"]
        assert len(response.content) == expected["size"]

    cpi_text = " ".join(pdftotext(cpi.content).split())
    assert "CERTIFICAT PROVISOIRE D'IMMATRICULATION" in cpi_text
    assert sample.plate in cpi_text
    assert "DUPONT Jean" in cpi_text
    assert f"jusqu'au {valid_until:%d/%m/%Y} inclus" in cpi_text
    assert issued_on.strftime("%d/%m/%Y") in cpi_text
    assert sample.dossier_number in cpi_text

    summary_text = " ".join(pdftotext(summary.content).split())
    assert "RÉCAPITULATIF DE LA DEMANDE DE DUPLICATA" in summary_text
    assert sample.dossier_number in summary_text
    assert "Motif Perte" in summary_text
    assert "Le véhicule m'a été cédé" in summary_text
    assert "Total payé 13,76" in summary_text
    assert "4242" in summary_text and "PSP-7F3A21" in summary_text

    [(key, headers, value)] = await certificates_issued(service, sample.dossier_id)
    issued = json.loads(value)
    assert key == str(sample.dossier_id).encode()
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "fr.ants.documents.CertificateIssued.v1"
    assert headers["ce_source"] == "/ants/documents"
    assert headers["ce_subject"] == str(sample.dossier_id)
    assert headers["content-type"] == "application/json"
    assert UUID(headers["ce_id"]) == UUID(issued["event_id"])
    assert issued["valid_until"] == valid_until.isoformat()
    assert {(d["document_id"], d["kind"]) for d in issued["documents"]} == {
        (d["document_id"], d["kind"]) for d in listed
    }
    number = issued["certificate_number"]
    assert number in cpi_text

    async with service.http() as http:
        checked = await http.get(f"/verification/{number}")
        page = await http.get(f"/verification/{number}", headers={"Accept": "text/html"})
    assert checked.status_code == 200
    assert checked.json() == {
        "valid": True,
        "certificate_number": number,
        "plate": sample.plate,
        "valid_until": valid_until.isoformat(),
        "issued_at": checked.json()["issued_at"],
    }
    assert datetime.fromisoformat(checked.json()["issued_at"]) == payment.occurred_at
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"Certificat provisoire valide jusqu&#x27;au {valid_until:%d/%m/%Y}" in page.text
    assert "Dupont" not in page.text and "DUPONT" not in page.text


async def test_payment_delivered_twice_issues_one_certificate(service, sample) -> None:
    await service.publish(sample.started(), sample.submitted())
    payment = sample.paid()
    [sequence] = await service.publish(payment)
    first = await service.documents_when(sample.dossier_id, sample.account_id, two_documents)

    await service.publish(payment, sequence=sequence)  # the very same record again
    await service.publish(sample.paid())  # another payment record for the same dossier
    # A later dossier on the same topics: once its certificate is out, the records above
    # were handled (each topic partition is processed in order).
    later = type(sample)()
    await pay_for(service, later)
    assert await certificates_issued(service, later.dossier_id)

    assert len(await certificates_issued(service, sample.dossier_id, at_least=2, timeout=1)) == 1
    # The shipping notice of the definitive certificate may have come meanwhile (the
    # printing office answers in seconds): the payment's documents are still the first ones.
    again = await service.documents_when(sample.dossier_id, sample.account_id, payment_documents)
    assert [d for d in again if d["kind"] in PAYMENT_KINDS] == first


async def test_documents_are_private_to_their_owner(service, sample) -> None:
    listed = await pay_for(service, sample)
    cpi = next(d for d in listed if d["kind"] == "cpi")
    stranger = service.keys.token(uuid4())
    agent = service.keys.token(uuid4(), "cert_agent")
    auditor = service.keys.token(uuid4(), "auditor")

    dossier_documents = f"/dossiers/{sample.dossier_id}/documents"
    cpi_file = f"/documents/{cpi['document_id']}"

    async with service.http() as http:
        assert (await http.get(dossier_documents, headers=stranger)).status_code == 403
        refused = await http.get(cpi_file, headers=stranger)
        assert refused.status_code == 403
        assert refused.json()["message"] == "Vous n'avez pas accès à ce document."
        assert (await http.get(cpi_file)).status_code == 401
        assert (await http.get(dossier_documents)).status_code == 401
        unknown = await http.get(f"/documents/{uuid4()}", headers=stranger)
        assert unknown.status_code == 404
        assert unknown.json()["message"] == "Document inconnu."
        unknown_dossier = await http.get(f"/dossiers/{uuid4()}/documents", headers=stranger)
        assert unknown_dossier.status_code == 404

        for staff in (agent, auditor):
            seen = await http.get(dossier_documents, headers=staff)
            assert seen.status_code == 200 and len(seen.json()) == 2
            assert (await http.get(cpi_file, headers=staff)).status_code == 403


async def test_an_unknown_certificate_number_is_said_unknown(service) -> None:
    async with service.http() as http:
        response = await http.get("/verification/CPI-2025-ABCDEFGH")
        page = await http.get("/verification/CPI-2025-ABCDEFGH", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.json()["message"] == "Certificat inconnu."
    assert page.status_code == 404
    assert "Certificat inconnu." in page.text
