"""Auditors: a dossier's whole history across services with its actors, its state at any
version, an export that verifies offline and betrays any edit, a replay from the topics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt

from ants_stack.stack import Stack
from tests.e2e import files
from tests.e2e.client import Api, User, eventually
from tests.e2e.test_theft_case import pending_review_for, theft_dossier_on_hold, upload


def account_id(user: User) -> str:
    return jwt.decode(user.token, options={"verify_signature": False})["sub"]


def julien_s_theft_case(api: Api) -> str:
    """The seed's theft scenario: declaration rejected, reply with a new one, accepted, paid."""
    julien = api.login("julien.paul@example.fr")
    agent = api.login("agent.cert@example.fr")
    dossier_id = theft_dossier_on_hold(api, julien)
    first = upload(api, julien, dossier_id, files.png(), "declaration.png", "image/png").json()["document_id"]
    review = pending_review_for(api, agent, first)
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/claim", agent).status_code == 200
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/reject", agent,
                    json={"reason": "illisible", "note": "Scan illisible."}).status_code == 200
    api.wait_status(julien, dossier_id, "awaiting_declaration")
    second = upload(api, julien, dossier_id, files.pdf(), "recepisse.pdf", "application/pdf").json()["document_id"]
    assert api.call("POST", "requests", f"/dossiers/{dossier_id}/messages", julien,
                    json={"text": "Voici un scan lisible.", "document_id": second}).status_code == 201
    review = pending_review_for(api, agent, second)
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/accept", agent,
                    json={"note": "Pièce conforme."}).status_code == 200
    api.wait_status(julien, dossier_id, "ready_for_payment")
    payment = api.pay(julien, dossier_id)
    assert payment.status_code == 201, payment.text
    assert api.record(julien, payment.json()["payment_id"]).status_code == 200
    api.wait_status(julien, dossier_id, "completed")
    return dossier_id


def ants_audit(stack: Stack, auditor: User, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANTS_TOKEN": auditor.token,
           "ANTS_IDENTITY_URL": stack.config.url("identity"),
           "ANTS_REQUESTS_URL": stack.config.url("requests"),
           "KAFKA_BOOTSTRAP_SERVERS": stack.config.bootstrap,
           "TRUSTED_PRODUCER_KEYS_DIR": str(stack.config.var_dir / "keys" / "producers")}
    return subprocess.run([sys.executable, "-m", "ants_audit", *args], env=env, text=True,
                          capture_output=True, timeout=120)


def test_the_auditor_gets_julien_s_whole_history_provable_offline_and_replayable_from_the_topics(
    api: Api, stack: Stack, tmp_path: Path
) -> None:
    dossier_id = julien_s_theft_case(api)
    julien, agent = api.login("julien.paul@example.fr"), api.login("agent.cert@example.fr")
    auditor = api.login("auditeur@example.fr")

    # The whole history: the four services' events, in causal order, each with its actor.
    def whole() -> list[dict[str, Any]] | None:
        entries = api.call("GET", "requests", f"/dossiers/{dossier_id}/audit", auditor).json()
        return entries if any(e["type"] == "RequestCompleted" for e in entries) else None

    entries = whole() or eventually(whole)
    assert {e["service"] for e in entries} == {"requests", "cert", "payment", "documents"}
    kinds = [e["type"] for e in entries]
    story = ["RequestStarted", "RequestSubmitted", "TheftDeclarationRequested", "DeclarationUploaded",
             "AttachmentRejected", "AttachmentAccepted", "RequestReadyForPayment", "PaymentRecorded",
             "CertificateIssued", "RequestCompleted"]
    assert [k for k in kinds if k in story] == [
        "RequestStarted", "RequestSubmitted", "TheftDeclarationRequested", "DeclarationUploaded",
        "AttachmentRejected", "DeclarationUploaded", "AttachmentAccepted", "RequestReadyForPayment",
        "PaymentRecorded", "CertificateIssued", "RequestCompleted",
    ]
    by_type = {e["type"]: e for e in entries}
    assert by_type["RequestStarted"]["actor"] == {"account_id": account_id(julien), "roles": ["citizen"]}
    assert by_type["AttachmentRejected"]["actor"] == {"account_id": account_id(agent), "roles": ["cert_agent"]}
    assert by_type["PaymentRecorded"]["actor"]["account_id"] == account_id(julien)
    issued = by_type["CertificateIssued"]
    assert issued["actor"] == {"service": "documents"}
    assert issued["causation_id"] == by_type["PaymentRecorded"]["event_id"]
    assert issued["correlation_id"] == by_type["PaymentRecorded"]["correlation_id"]
    assert all(e["correlation_id"] and e["at"] and e["version"] == 1 and e["position"] for e in entries)
    assert by_type["RequestStarted"]["stream_version"] == 1
    assert api.call("GET", "requests", f"/dossiers/{dossier_id}/audit", julien).status_code == 403

    # The dossier as it was after its first event, and at the time of its submission.
    first = api.call("GET", "requests", f"/dossiers/{dossier_id}/audit/state?as_of_version=1", auditor).json()
    assert first["status"] == "draft" and first["version"] == 1
    submitted_at = by_type["RequestSubmitted"]["at"]
    then = api.call("GET", "requests", f"/dossiers/{dossier_id}/audit/state",
                    auditor, params={"as_of": submitted_at}).json()
    assert then["status"] == "awaiting_declaration" and then["submitted_at"]

    # Export, verify offline; any edit of the file is named.
    bundle_file = tmp_path / "dossier.json"
    exported = ants_audit(stack, auditor, "export", dossier_id, "-o", str(bundle_file))
    assert exported.returncode == 0, exported.stderr
    verified = ants_audit(stack, auditor, "verify", str(bundle_file))
    assert verified.returncode == 0 and verified.stdout.startswith("intact"), verified.stdout
    bundle = json.loads(bundle_file.read_text())
    assert len(bundle["events"]) == len(entries)
    bundle["events"][3]["data"]["sha256"] = "0" * 64
    bundle_file.write_text(json.dumps(bundle))
    tampered = ants_audit(stack, auditor, "verify", str(bundle_file))
    assert tampered.returncode == 1 and "event #4" in tampered.stdout and "edited" in tampered.stdout

    # A replay from the topics alone agrees with the requests service at every version.
    compared = ants_audit(stack, auditor, "replay", dossier_id, "--compare")
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "agree at every version" in compared.stdout
    from_topics = ants_audit(stack, auditor, "replay", dossier_id, "--from-topics")
    assert from_topics.returncode == 0 and "CertificateIssued" in from_topics.stdout


def test_every_service_verifies_its_own_store_against_its_signed_checkpoints(api: Api) -> None:
    auditor = api.login("auditeur@example.fr")
    for service in ("identity", "requests", "cert", "payment", "documents"):
        def verified(s: str = service) -> dict[str, Any] | None:
            r = api.call("GET", s, "/ledger/verify", auditor).json()
            return r if r and r["checkpoints"] else None

        report = eventually(verified)
        assert report["intact"] and report["problems"] == [], report
        assert api.call("GET", service, "/ledger/checkpoint").json()["checkpoint"]["tree_size"] >= 1
