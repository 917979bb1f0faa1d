"""The published contracts: schemas up to date, backward compatible, CloudEvents round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import jsonschema
import pytest

from ants_events import from_record, to_record
from ants_events.base import AmountDue, FeeLine
from ants_events.checkpoints import CheckpointSignedV1
from ants_events.ledger import checkpoint_valid, leaf_hashes, tree_root
from ants_events.registry import BY_CE_TYPE, CONTRACTS
from ants_events.requests import RequestReadyForPaymentV1
from ants_events.schemas import SCHEMA_DIR, asyncapi, breaking_changes, json_schema, schema_file
from ants_events.signatures import TrustedProducers

CATALOGUE = {
    "RequestStarted", "RequestSubmitted", "TheftDeclarationRequested", "DeclarationUploaded",
    "AttachmentRejected", "AttachmentAccepted", "MessagePosted", "RequestReadyForPayment",
    "PaymentRecorded", "CertificateIssued", "RequestCompleted", "RequestCancelled",
    "AccountRegistered", "DocumentsRequested",
    "CertificateProductionStarted", "CertificateDispatched",  # the definitive certificate
    "CheckpointSigned",  # not a dossier event: the services' signed log checkpoints
}


def sample() -> RequestReadyForPaymentV1:
    return RequestReadyForPaymentV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=uuid4(), account_id=uuid4(),
        amount_due=AmountDue(total="13.76", lines=(FeeLine(code="Y4", label="Taxe fixe", amount="11.00"),
                                                   FeeLine(code="Y5", label="Acheminement", amount="2.76"))),
    )


def test_every_event_of_the_catalogue_has_a_contract() -> None:
    assert {c.type_name for c in CONTRACTS} == CATALOGUE
    assert len(BY_CE_TYPE) == len(CONTRACTS)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.ce_type())
def test_published_schema_is_up_to_date_and_backward_compatible(contract) -> None:  # type: ignore[no-untyped-def]
    published_file = SCHEMA_DIR / schema_file(contract)
    assert published_file.exists(), f"no published schema for {contract.ce_type()}: run make schemas"
    published = json.loads(published_file.read_text())
    current = json_schema(contract)
    assert breaking_changes(published, current) == [], (
        "this change would break consumers: publish a new version of the event instead"
    )
    assert published == current, "the contract changed compatibly: run make schemas and commit"
    jsonschema.Draft7Validator.check_schema(current)


def test_a_breaking_change_is_detected() -> None:
    old = {"required": ["a", "b"], "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    new = {"required": ["a", "c"], "properties": {"a": {"type": "integer"}, "c": {"type": "string"}}}
    assert len(breaking_changes(old, new)) == 4


def test_a_payload_validates_against_its_published_schema() -> None:
    event = sample()
    schema = json.loads((SCHEMA_DIR / schema_file(type(event))).read_text())
    jsonschema.validate(json.loads(event.model_dump_json()), schema)


def test_cloudevents_binary_mode_round_trip() -> None:
    event = sample()
    record = to_record(event, sequence=42, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    assert record.topic == "ants.requests.v1"
    assert record.key == str(event.dossier_id).encode()
    assert record.headers["ce_type"] == "fr.ants.requests.RequestReadyForPayment.v1"
    assert record.headers["ce_id"] == str(event.event_id)
    assert record.headers["ce_subject"] == str(event.dossier_id)
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["content-type"] == "application/json"
    headers = {k: v.encode() for k, v in record.headers.items()}
    assert from_record(headers, record.value) == event


def test_the_asyncapi_document_describes_every_topic_and_message() -> None:
    document = asyncapi()
    assert set(document["channels"]) == {
        "ants.identity.v1", "ants.requests.v1", "ants.cert.v1", "ants.payment.v1", "ants.documents.v1",
        "ants.notifications.v1", "ants.checkpoints.v1",
    }
    assert len(document["components"]["messages"]) == len(CONTRACTS)
    published = json.loads((SCHEMA_DIR.parent / "asyncapi.json").read_text())
    assert published == json.loads(json.dumps(document)), "run make schemas and commit"


def test_account_registered_v2_carries_no_e_mail_and_v1_records_still_decode() -> None:
    from ants_events.identity import AccountRegisteredV1, AccountRegisteredV2

    assert "email" in AccountRegisteredV1.model_fields
    assert "email" not in AccountRegisteredV2.model_fields
    messages = asyncapi()["components"]["messages"]
    assert messages[AccountRegisteredV1.ce_type()]["description"].startswith("No longer published")
    assert "description" not in messages[AccountRegisteredV2.ce_type()]
    # A v1 record already on the topic is still understood.
    old = AccountRegisteredV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), account_id=uuid4(),
        email="a@example.fr", given_name="A", family_name="B", roles=("citizen",),
    )
    record = to_record(old, sequence=1)
    assert from_record({k: v.encode() for k, v in record.headers.items()}, record.value) == old


# --- the checkpoint topic ---------------------------------------------------------------------

PUBLISHED_CHECKPOINT = Path(__file__).parent / "published" / "ants.checkpoints.v1.json"


def test_a_nested_model_change_is_detected() -> None:
    leaf = {"required": ["position"], "properties": {"position": {"type": "integer"}}}
    old = {"properties": {"leaves": {"type": "array"}}, "definitions": {"LeafEntry": leaf}}
    renamed = {"required": ["index"], "properties": {"index": {"type": "integer"}}}
    new = {"properties": {"leaves": {"type": "array"}}, "definitions": {"LeafEntry": renamed}}
    assert breaking_changes(old, new) == [
        "LeafEntry.required field 'position' is no longer required",
        "LeafEntry.field 'position' was removed",
        "LeafEntry.new required field 'index' (old producers do not send it)",
    ]


def test_a_checkpoint_record_published_by_version_1_still_decodes_and_verifies(tmp_path: Path) -> None:
    """The checkpoint topic's contract is more than a schema: a record's envelope, its
    producer signature, the checkpoint's signed statement and the Merkle root of its leaves.
    A record published by the first version must stay checkable by every later one."""
    published = json.loads(PUBLISHED_CHECKPOINT.read_text())
    headers = {k: v.encode() for k, v in published["headers"].items()}
    value = published["value"].encode()

    message = from_record(headers, value)
    assert isinstance(message, CheckpointSignedV1)
    assert published["key"] == message.service == headers["ce_subject"].decode()
    assert headers["ce_source"] == f"/ants/{message.service}".encode()
    assert headers["ce_sequence"] == str(message.tree_size).encode()

    (tmp_path / f"{message.service}.pem").write_text(published["public_key_pem"])
    trusted = TrustedProducers.from_dir(tmp_path)
    assert trusted.verify(published["topic"], headers, published["key"].encode(), value) == "payment"
    assert checkpoint_valid(message.checkpoint(), message.public_key)
    leaves = [(leaf.position, leaf.event, leaf.record) for leaf in message.leaves]
    assert message.first_index == 0 and len(leaves) == message.tree_size
    assert tree_root(leaf_hashes(leaves)).hex() == message.root_hash

    headers_schema = asyncapi()["components"]["messages"][message.ce_type()]["headers"]
    jsonschema.validate(published["headers"], headers_schema)
    payload_schema = json.loads((SCHEMA_DIR / schema_file(CheckpointSignedV1)).read_text())
    jsonschema.validate(json.loads(value), payload_schema)
