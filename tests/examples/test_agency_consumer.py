"""The agencies' example consumer, written from docs/agencies.md alone, agrees with the
services' own signing and checkpoints: what they sign it verifies, what was changed it
refuses."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ants_events import to_record, topics
from ants_events.base import FeeLine
from ants_events.payment import PaymentRecordedV1
from ants_events.signatures import RecordSigner

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_CHECKPOINT = ROOT / "shared" / "events" / "tests" / "published" / "ants.checkpoints.v1.json"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agency_consumer", ROOT / "examples" / "agency_consumer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def payment_key(folder: Path) -> RecordSigner:
    key = Ed25519PrivateKey.generate()
    (folder / "payment.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))
    return RecordSigner(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))


def signed_payment(signer: RecordSigner) -> tuple[dict[str, str], bytes, bytes]:
    event = PaymentRecordedV1(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), payment_id=uuid.uuid4(),
        dossier_id=uuid.uuid4(), account_id=uuid.uuid4(), amount="13.76",
        lines=(FeeLine(code="Y4", label="Taxe fixe (Y.4)", amount="11.00"),),
        psp_reference="PSP-1", card_last4="0000",
    )
    record = to_record(event, sequence=3, traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    return signer.sign(record.headers, record.key, record.value), record.key, record.value


def test_it_verifies_what_a_service_signs_and_follows_the_dossier(example: ModuleType, tmp_path: Path) -> None:
    headers, key, value = signed_payment(payment_key(tmp_path))
    agency = example.Agency(example.PinnedKeys(tmp_path), quiet=True)
    agency.handle(topics.PAYMENT, headers, key, value)
    agency.handle(topics.PAYMENT, headers, key, value)  # delivered again
    assert (agency.counts["events"], agency.counts["duplicates"], agency.counts["refused"]) == (1, 1, 0)
    assert agency.dossiers[key.decode()][0][1] == "paid"


def test_it_refuses_a_changed_or_misplaced_record(example: ModuleType, tmp_path: Path) -> None:
    headers, key, value = signed_payment(payment_key(tmp_path))
    agency = example.Agency(example.PinnedKeys(tmp_path), quiet=True)
    agency.handle(topics.PAYMENT, headers, key, value.replace(b"13.76", b"0.01"))
    agency.handle(topics.PAYMENT, {**headers, "ce_subject": str(uuid.uuid4())}, key, value)
    agency.handle(topics.REQUESTS, headers, key, value)  # payment does not publish there
    unsigned = {k: v for k, v in headers.items() if k != "ce_signature"}
    agency.handle(topics.PAYMENT, unsigned, key, value)
    assert agency.counts["refused"] == 4 and agency.counts["events"] == 0


def test_it_verifies_a_published_checkpoint_and_its_merkle_root(example: ModuleType, tmp_path: Path) -> None:
    published = json.loads(PUBLISHED_CHECKPOINT.read_text())
    (tmp_path / "payment.pem").write_text(published["public_key_pem"])
    agency = example.Agency(example.PinnedKeys(tmp_path), quiet=True)
    agency.handle(published["topic"], published["headers"], published["key"].encode(),
                  published["value"].encode())
    assert agency.counts["checkpoints"] == 1 and agency.counts["refused checkpoints"] == 0
    assert agency.logs["payment"].size == 3

    forged = json.loads(published["value"])
    forged["leaves"][0]["event"] = "0" * 64  # a leaf changed, the signature kept
    again = example.Agency(example.PinnedKeys(tmp_path), quiet=True)
    again.checkpoint(forged)
    assert again.counts["refused checkpoints"] == 1
