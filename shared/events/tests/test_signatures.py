"""Producer signatures: a record verifies only with its producer's pinned key, untouched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ants_events import to_record, topics
from ants_events.base import FeeLine
from ants_events.payment import PaymentRecordedV1
from ants_events.signatures import RecordSigner, TrustedProducers, UntrustedRecord


def key_pair(folder: Path, service: str) -> RecordSigner:
    key = Ed25519PrivateKey.generate()
    (folder / f"{service}.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))
    return RecordSigner(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[dict[str, RecordSigner], TrustedProducers]:
    signers = {s: key_pair(tmp_path, s) for s in ("payment", "requests")}
    return signers, TrustedProducers.from_dir(tmp_path)


def payment() -> tuple[dict[str, str], bytes, bytes]:
    event = PaymentRecordedV1.model_validate({
        "event_id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "dossier_id": uuid.uuid4(),
        "account_id": uuid.uuid4(), "payment_id": uuid.uuid4(), "amount": "13.76",
        "lines": [FeeLine(code="Y4", label="Taxe fixe", amount="11.00")],
        "psp_reference": "PSP-1", "card_last4": "4242",
    })
    record = to_record(event, sequence=7)
    return record.headers, record.key, record.value


def test_a_record_signed_by_its_producer_verifies(keys) -> None:
    signers, trusted = keys
    headers, key, value = payment()
    signed = signers["payment"].sign(headers, key, value)
    as_bytes = {k: v.encode() for k, v in signed.items()}
    assert trusted.verify(topics.PAYMENT, as_bytes, key, value) == "payment"


@pytest.mark.parametrize("change", ["value", "header", "key", "traceparent"])
def test_a_changed_record_no_longer_verifies_except_for_transport_headers(keys, change) -> None:
    signers, trusted = keys
    headers, key, value = payment()
    signed = signers["payment"].sign(headers, key, value)
    if change == "value":
        value = value.replace(b"13.76", b"0.01")
    elif change == "header":
        signed["ce_subject"] = str(uuid.uuid4())
    elif change == "key":
        key = b"another"
    else:
        signed["traceparent"] = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
        assert trusted.verify(topics.PAYMENT, signed, key, value) == "payment"
        return
    with pytest.raises(UntrustedRecord):
        trusted.verify(topics.PAYMENT, signed, key, value)


def test_an_unsigned_record_or_one_signed_by_another_service_is_refused(keys) -> None:
    signers, trusted = keys
    headers, key, value = payment()
    with pytest.raises(UntrustedRecord, match="unsigned"):
        trusted.verify(topics.PAYMENT, headers, key, value)
    with pytest.raises(UntrustedRecord, match="pinned keys"):
        trusted.verify(topics.PAYMENT, signers["requests"].sign(headers, key, value), key, value)
    # Signed by the requests service as itself, on the payment topic: not its topic.
    as_requests = {**headers, "ce_source": "/ants/requests"}
    with pytest.raises(UntrustedRecord, match="does not produce"):
        trusted.verify(topics.PAYMENT, signers["requests"].sign(as_requests, key, value), key, value)


def test_a_producer_without_a_pinned_key_is_refused(tmp_path: Path) -> None:
    signer = key_pair(tmp_path, "payment")
    headers, key, value = payment()
    with pytest.raises(UntrustedRecord, match="no pinned key"):
        TrustedProducers.from_dir(tmp_path / "none").verify(
            topics.PAYMENT, signer.sign(headers, key, value), key, value
        )


def test_while_a_key_is_replaced_records_signed_by_either_pinned_key_verify(tmp_path: Path) -> None:
    old = key_pair(tmp_path, "payment")
    new = key_pair(tmp_path, "payment.next")
    trusted = TrustedProducers.from_dir(tmp_path)
    headers, key, value = payment()
    for signer in (old, new):
        assert trusted.verify(topics.PAYMENT, signer.sign(headers, key, value), key, value) == "payment"
