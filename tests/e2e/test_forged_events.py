"""Events that cannot be forged: a record produced by hand on a service's topic, without that
service's signature, completes nothing; it lands on the dead-letter topic of each consumer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ants_events import to_record, topics
from ants_events.payment import PaymentRecordedV1
from ants_events.signatures import RecordSigner
from ants_stack.stack import Stack
from tests.e2e.client import Api, Record, eventually, fleet_plate, read_topic, republish
from tests.e2e.test_audit import ants_audit

CONSUMERS_OF_PAYMENTS = {"requests", "documents"}


def stranger_signer() -> RecordSigner:
    return RecordSigner(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))


def forged_payment(dossier: dict, account_id: str) -> tuple[bytes, bytes, dict[str, str]]:
    event = PaymentRecordedV1(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), payment_id=uuid.uuid4(),
        dossier_id=uuid.UUID(dossier["dossier_id"]), account_id=uuid.UUID(account_id),
        amount=dossier["amount_due"]["total"], lines=dossier["amount_due"]["lines"],
        psp_reference="PSP-FORGED", card_last4="4242",
    )
    record = to_record(event, sequence=10**6)
    return record.key, record.value, record.headers


def as_record(key: bytes, value: bytes, headers: dict[str, str]) -> Record:
    raw = [(k, v.encode()) for k, v in headers.items()]
    return Record(topics.PAYMENT, 0, key, value, headers, raw)


def test_a_hand_made_payment_does_not_complete_an_unpaid_dossier(api: Api, stack: Stack) -> None:
    owner = api.new_citizen("Flotte", "ESSAI")  # the holder of the fleet plates
    account_id = api.call("GET", "identity", "/me", owner).json()["account_id"]
    # A genuine payment of another dossier, whose signature a forger could copy.
    paid = api.start_and_submit(owner, fleet_plate())["dossier_id"]
    payment_id = api.pay(owner, paid).json()["payment_id"]
    assert api.record(owner, payment_id).status_code == 200
    api.wait_status(owner, paid, "completed")
    genuine = next(r for r in read_topic(stack.config, topics.PAYMENT)
                   if r.key == paid.encode() and r.ce_type.endswith("PaymentRecorded.v1"))

    unpaid = api.start_and_submit(owner, fleet_plate())
    assert unpaid["status"] == "ready_for_payment"
    forged = []
    for how in ("unsigned", "signed by a stranger", "genuine signature copied"):
        key, value, headers = forged_payment(unpaid, account_id)
        if how == "signed by a stranger":
            headers = stranger_signer().sign(headers, key, value)
        elif how == "genuine signature copied":
            headers = {**headers, "ce_signature": genuine.headers["ce_signature"],
                       "ce_signingkeyid": genuine.headers["ce_signingkeyid"]}
        forged.append(headers["ce_id"])
        republish(stack.config, as_record(key, value, headers))

    # Each consumer of payments dead-letters each forgery, saying why.
    forged_ids = set(forged)

    def dead_letters() -> list[Record] | None:
        found = [r for r in read_topic(stack.config, topics.dead_letter(topics.PAYMENT))
                 if r.headers.get("ce_id") in forged_ids]
        services = {(r.headers["dlq_service"], r.headers["ce_id"]) for r in found}
        return found if len(services) == len(CONSUMERS_OF_PAYMENTS) * len(forged) else None

    letters = eventually(dead_letters)
    assert {r.headers["dlq_service"] for r in letters} == CONSUMERS_OF_PAYMENTS
    assert all("UntrustedRecord" in r.headers["dlq_error"] for r in letters)

    # Everything published before the forgeries and after them was handled: still unpaid,
    # no certificate.
    dossier = api.dossier(owner, unpaid["dossier_id"])
    assert dossier["status"] == "ready_for_payment" and not dossier.get("certificate")
    documents = api.call("GET", "documents", f"/dossiers/{unpaid['dossier_id']}/documents", owner)
    assert documents.status_code in (200, 404)
    assert not [d for d in (documents.json() if documents.status_code == 200 else [])
                if d["kind"] == "cpi"]
    # Nor is the forgery part of the dossier's history an auditor reads from the topics.
    auditor = api.login("auditeur@example.fr")
    history = api.call("GET", "requests", f"/dossiers/{unpaid['dossier_id']}/audit", auditor)
    assert history.status_code == 200, history.text
    assert "PaymentRecorded" not in {entry["type"] for entry in history.json()}
    replayed = ants_audit(stack, auditor, "replay", unpaid["dossier_id"], "--from-topics")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "PaymentRecorded" not in replayed.stdout and "ready_for_payment" in replayed.stdout
    assert replayed.stderr.count("left out, not signed by its producer") == len(forged)

    # The genuine payment still completes it.
    payment_id = api.pay(owner, unpaid["dossier_id"]).json()["payment_id"]
    assert api.record(owner, payment_id).status_code == 200
    assert api.wait_status(owner, unpaid["dossier_id"], "completed")["certificate"]
