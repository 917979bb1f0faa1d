"""One trace from the HTTP request that records a payment to the documents service handling
the event, seen through the OpenTelemetry SDK's in-memory exporter.

The payment and documents services run in this process (their Litestar apps, with their
relays and consumers), against the real embedded broker: the spans of both are then in one
exporter. The requests service is played by publishing its events as its relay would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ants_events.base import AmountDue, FeeLine
from ants_events.requests import (
    Holder,
    RequestReadyForPaymentV1,
    RequestStartedV1,
    RequestSubmittedV1,
    Vehicle,
)
from ants_stack.testing import (
    Broker,
    Tokens,
    bearer,
    install_test_producer_keys,
    publish,
    read_topic,
)
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

GOOD_CARD = {"card_number": "4970 1000 0600 0000", "expiry": "12/30", "cvv": "123"}


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans of this process; the SDK provider the services would install is this one."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with Broker(tmp_path_factory.mktemp("broker") / "broker.log") as running:
        yield running


@pytest.fixture
async def services(
    spans: InMemorySpanExporter, broker: Broker, tmp_path: Path
) -> AsyncIterator[tuple[AsyncTestClient, AsyncTestClient, Tokens]]:
    from documents_service.app import create_app as documents_app
    from documents_service.settings import Settings as DocumentsSettings
    from payment_service.app import create_app as payment_app
    from payment_service.settings import Settings as PaymentSettings

    tokens = Tokens.create(tmp_path)
    install_test_producer_keys(tmp_path)
    common: dict[str, Any] = {"data_dir": tmp_path, "kafka_bootstrap_servers": broker.bootstrap,
              "auth_public_key_file": tokens.public_key}
    payment = payment_app(PaymentSettings(**common))
    documents = documents_app(DocumentsSettings(**common))
    async with AsyncTestClient(payment) as to_payment, AsyncTestClient(documents) as to_documents:
        yield to_payment, to_documents, tokens


async def publish_dossier(bootstrap: str, dossier_id: uuid.UUID, account_id: uuid.UUID) -> None:
    """What the requests service publishes before a payment, as its relay would."""
    now = datetime.now(UTC)
    common = {"dossier_id": dossier_id, "account_id": account_id, "occurred_at": now}
    events = [
        RequestStartedV1(
            event_id=uuid.uuid4(), dossier_number="DUP-TRACE001", reason="perte",
            person="titulaire", special_case=False,
            vehicle=Vehicle(plate="AB-123-CD", vin="VF1RFB00012345678", make="RENAULT",
                            model="CLIO"),
            holder=Holder(given_name="Jean", family_name="Dupont"), **common,
        ),
        RequestSubmittedV1(event_id=uuid.uuid4(), sworn_statement=True, legal_terms=True,
                           next_step="payment", **common),
        RequestReadyForPaymentV1(
            event_id=uuid.uuid4(), amount_due=AmountDue(total="13.76", lines=(
                FeeLine(code="Y4", label="Taxe fixe", amount="11.00"),
                FeeLine(code="Y5", label="Redevance d'acheminement", amount="2.76"),
            )), **common,
        ),
    ]
    for sequence, event in enumerate(events, start=1):
        await publish(bootstrap, event, sequence)


def handled_by_documents(spans: InMemorySpanExporter, type_name: str) -> list[ReadableSpan]:
    return [
        s for s in spans.get_finished_spans()
        if s.kind == SpanKind.CONSUMER and s.attributes is not None
        and s.attributes.get("messaging.consumer.group.name") == "documents"
        and s.attributes.get("ants.event.type") == type_name
        and s.attributes.get("ants.outcome") == "processed"
    ]


async def test_one_trace_goes_from_the_payment_click_to_the_documents_service(
    services: tuple[AsyncTestClient, AsyncTestClient, Tokens], broker: Broker,
    spans: InMemorySpanExporter,
) -> None:
    to_payment, _, tokens = services
    account_id, dossier_id = uuid.uuid4(), uuid.uuid4()
    citizen = bearer(tokens.mint("citizen", account_id=account_id))
    await publish_dossier(broker.bootstrap, dossier_id, account_id)
    authorised = await to_payment.post(
        "/payments", json={"dossier_id": str(dossier_id), **GOOD_CARD}, headers=citizen
    )
    assert authorised.status_code == 201, authorised.text
    payment_id = authorised.json()["payment_id"]

    recorded = await to_payment.post(f"/payments/{payment_id}/record", headers=citizen)
    assert recorded.status_code == 200, recorded.text

    deadline = time.monotonic() + 30
    while not handled_by_documents(spans, "PaymentRecorded"):
        assert time.monotonic() < deadline, "documents never handled PaymentRecorded"
        await asyncio.sleep(0.1)

    (click,) = [s for s in spans.get_finished_spans()
                if s.kind == SpanKind.SERVER and s.name == "POST /payments/{payment_id}/record"]
    assert click.attributes is not None and click.attributes["http.route"] == (
        "/payments/{payment_id}/record"
    )
    (handled,) = handled_by_documents(spans, "PaymentRecorded")
    assert handled.context is not None and click.context is not None
    assert handled.context.trace_id == click.context.trace_id
    assert handled.parent is not None and handled.parent.span_id == click.context.span_id
    assert handled.attributes is not None
    assert handled.attributes["messaging.destination.name"] == "ants.payment.v1"
    assert handled.attributes["ants.subject"] == str(dossier_id)
    # The certificate the documents service stored while handling it carries the trace on.
    records = await read_topic(broker.bootstrap, "ants.documents.v1")
    headers = [{k: v.decode() for k, v in r.headers} for r in records]
    (issued,) = [h for h in headers if h["ce_type"].endswith("CertificateIssued.v1")]
    assert issued["traceparent"].split("-")[1] == format(click.context.trace_id, "032x")
    # The steps before belong to their own traces: the citizen's earlier request is not a
    # parent of the payment record.
    (started,) = [s for s in spans.get_finished_spans()
                  if s.kind == SpanKind.SERVER and s.name == "POST /payments"]
    assert started.context is not None and started.context.trace_id != click.context.trace_id
