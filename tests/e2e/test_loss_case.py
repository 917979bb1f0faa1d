"""The loss case end to end: account, request, payment, provisional certificate, over Kafka."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ants_stack.stack import Stack
from tests.e2e.client import Api, eventually, fleet_plate, read_topic, republish

EXPECTED_REQUEST_EVENTS = [
    "fr.ants.requests.RequestStarted.v1",
    "fr.ants.requests.RequestSubmitted.v1",
    "fr.ants.requests.RequestReadyForPayment.v1",
    "fr.ants.requests.RequestCompleted.v1",
]
CE_HEADERS = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"}


def pdf_text(content: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def one_month_after(day: date) -> date:
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, last)
        except ValueError:
            continue
    raise AssertionError


def test_marie_gets_her_provisional_certificate_after_losing_her_card(
    api: Api, stack: Stack, tmp_path: Path, artifacts: Path
) -> None:
    marie = api.login("marie.martin@example.fr")
    me = api.call("GET", "identity", "/me", marie).json()
    assert (me["given_name"], me["family_name"]) == ("Marie", "MARTIN")

    dossier = api.start_and_submit(marie, "AB-123-CD")
    dossier_id = dossier["dossier_id"]
    assert dossier["status"] == "ready_for_payment"
    assert dossier["amount_due"]["total"] == "13.76"
    assert [line["code"] for line in dossier["amount_due"]["lines"]] == ["Y4", "Y5"]

    payment = api.pay(marie, dossier_id)
    assert payment.status_code == 201, payment.text
    assert payment.json()["status"] == "authorised"
    payment_id = payment.json()["payment_id"]
    assert "4970100006000000" not in payment.text

    recorded = api.record(marie, payment_id)
    assert recorded.status_code == 200 and recorded.json()["status"] == "recorded", recorded.text
    again = api.record(marie, payment_id)
    assert again.status_code == 200 and again.json()["status"] == "recorded"

    done = api.wait_status(marie, dossier_id, "completed")
    assert done["certificate"]["certificate_number"]

    documents = eventually(lambda: (r := api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", marie)).status_code == 200 and len(r.json()) >= 2 and r.json())
    by_kind = {d["kind"]: d for d in documents}
    assert set(by_kind) >= {"cpi", "recapitulatif"}

    cpi = api.call("GET", "documents", f"/documents/{by_kind['cpi']['document_id']}", marie)
    assert cpi.status_code == 200 and cpi.headers["content-type"].startswith("application/pdf")
    text = pdf_text(cpi.content, tmp_path, "cpi.pdf")
    (artifacts / f"cpi-{stack.config.postgres_prefix or 'sqlite'}.pdf").write_bytes(cpi.content)
    assert "AB-123-CD" in text
    assert "MARTIN" in text
    valid_until = date.fromisoformat(done["certificate"]["valid_until"])
    issued = datetime.fromisoformat(done["payment"]["at"]).astimezone(ZoneInfo("Europe/Paris")).date()
    assert valid_until == one_month_after(issued)
    assert valid_until.strftime("%d/%m/%Y") in text

    summary = api.call("GET", "documents", f"/documents/{by_kind['recapitulatif']['document_id']}", marie)
    summary_text = pdf_text(summary.content, tmp_path, "recap.pdf")
    assert done["dossier_number"] in summary_text
    assert "13,76" in summary_text
    assert "Perte" in summary_text

    # What other agencies see on the topics: the dossier's story, in order, as CloudEvents.
    key = dossier_id.encode()
    requests_events = [r for r in read_topic(stack.config, "ants.requests.v1") if r.key == key]
    assert [r.ce_type for r in requests_events] == EXPECTED_REQUEST_EVENTS
    for record in requests_events:
        assert CE_HEADERS <= set(record.headers)
        assert record.headers["ce_subject"] == dossier_id
        assert record.headers["ce_source"] == "/ants/requests"
        assert record.headers["content-type"] == "application/json"
        assert json.loads(record.value)["event_id"] == record.headers["ce_id"]
    payments = [r for r in read_topic(stack.config, "ants.payment.v1") if r.key == key]
    assert [r.ce_type for r in payments] == ["fr.ants.payment.PaymentRecorded.v1"]
    paid = json.loads(payments[0].value)
    assert paid["card_last4"] == "0000" and paid["amount"] == "13.76"
    assert "4970100006000000" not in payments[0].value.decode()
    issued_events = [r for r in read_topic(stack.config, "ants.documents.v1")
                     if r.key == key and r.ce_type.endswith("CertificateIssued.v1")]
    assert [r.ce_type for r in issued_events] == ["fr.ants.documents.CertificateIssued.v1"]

    # A duplicated delivery of the payment changes nothing anywhere.
    before = api.dossier(marie, dossier_id)
    republish(stack.config, payments[0])
    republish(stack.config, issued_events[0])
    # A later dossier going through the same topics proves the consumers moved past the copies.
    fleet = api.new_citizen("Flotte", "ESSAI")
    marker = api.start_and_submit(fleet, fleet_plate())
    marker_payment = api.pay(fleet, marker["dossier_id"]).json()["payment_id"]
    assert api.record(fleet, marker_payment).status_code == 200
    api.wait_status(fleet, marker["dossier_id"], "completed")
    after = api.dossier(marie, dossier_id)
    assert after["version"] == before["version"]
    # The documents service issued nothing new: only the original and the copy we sent.
    issued_now = [r for r in read_topic(stack.config, "ants.documents.v1")
                  if r.key == key and r.ce_type.endswith("CertificateIssued.v1")]
    assert len(issued_now) == 2
    assert {r.headers["ce_id"] for r in issued_now} == {issued_events[0].headers["ce_id"]}
    history = api.call("GET", "requests", f"/dossiers/{dossier_id}/history", marie).json()
    assert [e["type"] for e in history].count("Paid") == 1

    # The finished dossier leaves the basket but stays readable by id.
    basket = api.call("GET", "requests", "/dossiers", marie).json()
    assert dossier_id not in [d["dossier_id"] for d in basket]
    assert api.dossier(marie, dossier_id)["status"] == "completed"


def test_no_card_number_password_or_e_mail_reaches_the_logs(api: Api, stack: Stack) -> None:
    citizen = api.new_citizen("Flotte", "ESSAI")
    dossier_id = api.start_and_submit(citizen, fleet_plate())["dossier_id"]
    payment = api.pay(citizen, dossier_id)
    assert payment.status_code == 201
    assert api.record(citizen, payment.json()["payment_id"]).status_code == 200
    api.wait_status(citizen, dossier_id, "completed")
    logs = "\n".join(p.read_text(errors="replace") for p in stack.logs.glob("*.log"))
    assert "http.request" in logs and "payment.recorded" in logs  # the services do log
    for secret in ("4970100006000000", "4970 1000 0600 0000", "demo-2026", citizen.email):
        assert secret not in logs
