"""Conformance of what an agency receives: after a loss case and a theft case, every message on
the broker is a CloudEvent the official SDK parses, signed by its producer, with a payload
valid against its committed JSON Schema and headers as the AsyncAPI document describes; the
AsyncAPI document passes the official AsyncAPI validator; the example agency consumer
follows both dossiers to their end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from ants_events import topics
from ants_events.schemas import SCHEMA_DIR
from ants_events.signatures import TrustedProducers, UntrustedRecord
from ants_stack.stack import Stack
from tests.e2e.client import Api, fleet_plate, read_topic
from tests.e2e.test_audit import julien_s_theft_case

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_DOCUMENT = ROOT / "shared" / "events" / "asyncapi.json"
VALIDATOR = ROOT / "tools" / "asyncapi" / "node_modules"
# The AsyncAPI 3.0.0 JSON Schema as the official `@asyncapi/specs` package publishes it.
ASYNCAPI_3_SCHEMA = VALIDATOR / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
LOSS_CASE = ["RequestStarted", "RequestSubmitted", "RequestReadyForPayment", "PaymentRecorded",
             "CertificateIssued", "RequestCompleted"]
THEFT_CASE = ["TheftDeclarationRequested", "DeclarationUploaded", "AttachmentRejected",
              "AttachmentAccepted", "PaymentRecorded", "CertificateIssued", "RequestCompleted"]


def loss_case(api: Api) -> str:
    owner = api.new_citizen("Flotte", "ESSAI")
    dossier_id = api.start_and_submit(owner, fleet_plate())["dossier_id"]
    payment = api.pay(owner, dossier_id)
    assert payment.status_code == 201, payment.text
    assert api.record(owner, payment.json()["payment_id"]).status_code == 200
    api.wait_status(owner, dossier_id, "completed")
    return dossier_id


def message_schemas() -> dict[str, dict[str, Any]]:
    document = json.loads(ASYNCAPI_DOCUMENT.read_text())
    return document["components"]["messages"]


def test_every_message_on_the_broker_conforms_to_the_published_contracts(
    api: Api, stack: Stack
) -> None:
    dossiers = {loss_case(api): LOSS_CASE, julien_s_theft_case(api): THEFT_CASE}
    trusted = TrustedProducers.from_dir(stack.config.var_dir / "keys" / "producers")
    messages = message_schemas()
    types_by_dossier: dict[str, list[str]] = {d: [] for d in dossiers}
    checked = forged = 0
    for topic in [*topics.BY_PRODUCER.values(), topics.CHECKPOINTS]:
        for record in read_topic(stack.config, topic):
            headers = {k: v for k, v in record.raw_headers}
            try:
                producer = trusted.verify(topic, headers, record.key, record.value)
            except UntrustedRecord:
                # Produced by hand (the forgery tests of this session): no service's message.
                assert record.key.decode() not in dossiers
                forged += 1
                continue
            event = from_binary(KafkaMessage(headers, record.key, record.value), JSONFormat())
            assert event.get_specversion() == "1.0"
            assert event.get_id() == record.headers["ce_id"]
            assert event.get_datacontenttype() == "application/json"
            assert event.get_extension("partitionkey") == record.key.decode() == event.get_subject()
            schema = json.loads((SCHEMA_DIR / f"{event.get_type()}.json").read_text())
            jsonschema.validate(event.get_data(), schema, format_checker=jsonschema.FormatChecker())
            jsonschema.validate(record.headers, messages[event.get_type()]["headers"])
            assert event.get_type() in {
                ref["$ref"].rsplit("/", 1)[-1]
                for ref in json.loads(ASYNCAPI_DOCUMENT.read_text())["channels"][topic]["messages"].values()
            }
            assert event.get_source() == f"/ants/{producer}"
            subject = event.get_subject()
            if subject is not None and subject in types_by_dossier:
                types_by_dossier[subject].append(event.get_type().split(".")[-2])
            checked += 1
    assert checked > 20 and forged < checked
    for dossier_id, expected in dossiers.items():
        assert set(expected) <= set(types_by_dossier[dossier_id]), dossier_id

    # The example consumer of docs/agencies.md follows both dossiers to their end, refusing
    # only the forgeries, with every checkpoint verified.
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "agency_consumer.py"), "--bootstrap",
         stack.config.bootstrap, "--keys", str(stack.config.var_dir / "keys" / "producers"),
         "--idle-exit", "3", "--quiet"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    summary = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ")}
    for dossier_id in dossiers:
        assert summary[dossier_id].split("  ")[2].startswith("completed"), run.stdout
    assert f" {forged} records refused" in run.stdout and "(0 refused, 0 waiting" in run.stdout, run.stdout
    refusals = run.stderr.strip().splitlines()
    assert len(refusals) == forged and all(r.startswith("REFUSED ") for r in refusals), run.stderr


@pytest.fixture(scope="module")
def asyncapi_cli() -> Path:
    binary = VALIDATOR / ".bin" / "asyncapi"
    if not binary.exists():
        pytest.fail("the AsyncAPI validator is not installed: run `make asyncapi` (npm ci)")
    return binary


def test_the_asyncapi_document_passes_the_official_validator(asyncapi_cli: Path, tmp_path: Path) -> None:
    # No usage analytics leave the machine: the CLI reads its consent from this file.
    consent = tmp_path / "asyncapi-analytics.json"
    consent.write_text(json.dumps(
        {"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "conformance-test"}
    ))
    env = {**os.environ, "ASYNCAPI_METRICS_CONFIG_PATH": str(consent), "CI": "true"}
    run = subprocess.run(
        [str(asyncapi_cli), "validate", str(ASYNCAPI_DOCUMENT), "--fail-severity", "warn"],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "is valid" in run.stdout, run.stdout

    # The same document against the AsyncAPI 3.0.0 JSON Schema, and a broken one refused.
    schema = json.loads(ASYNCAPI_3_SCHEMA.read_text())
    document = json.loads(ASYNCAPI_DOCUMENT.read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    broken = {**document, "channels": {"ants.payment.v1": {"address": 5}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))
