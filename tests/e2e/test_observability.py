"""What an operator watches: liveness and readiness probes and the Prometheus metrics."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ants_stack.stack import Stack
from tests.e2e.client import Api, Record, eventually, fleet_plate, read_topic

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "duplicata-services.json"
SERVICES = ["identity", "requests", "cert", "payment", "documents", "portal"]
BACKENDS = [s for s in SERVICES if s != "portal"]


def scrape(api: Api, service: str) -> list[Sample]:
    response = api.call("GET", service, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples of that name carrying these labels (0 when none does)."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def with_name(samples: list[Sample], name: str) -> Iterator[Sample]:
    return (s for s in samples if s.name == name)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_answers_liveness_and_readiness(api: Api, service: str) -> None:
    live = api.call("GET", service, "/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = api.call("GET", service, "/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"
    if service in BACKENDS:
        assert ready.json()["checks"] == {"store": "ok", "broker": "ok", "delivery": "ok"}
    assert api.call("GET", service, "/health").status_code == 200  # the older probe address


def test_the_metrics_show_a_loss_case_dossier_going_through_every_service(
    api: Api, stack: Stack
) -> None:
    citizen = api.new_citizen("Flotte", "ESSAI")
    dossier_id = api.start_and_submit(citizen, fleet_plate())["dossier_id"]
    payment = api.pay(citizen, dossier_id)
    assert payment.status_code == 201, payment.text
    recorded = api.record(citizen, payment.json()["payment_id"])
    assert recorded.status_code == 200, recorded.text
    api.wait_status(citizen, dossier_id, "completed")

    requests = scrape(api, "requests")
    # HTTP requests by route template, status and latency: never a dossier id in a label.
    submit = {"method": "POST", "route": "/dossiers/{dossier_id}/submit", "status": "200"}
    assert value(requests, "ants_http_request_duration_seconds_count", **submit) >= 1
    assert value(requests, "ants_http_request_duration_seconds_bucket", le="+Inf", **submit) >= 1
    assert value(requests, "ants_http_request_duration_seconds_sum", **submit) > 0
    assert not [s for s in requests if dossier_id in str(s.labels)]
    # Every sample names its process.
    assert {s.labels.get("service") for s in requests} == {"requests"}
    assert len({s.labels.get("replica") for s in requests}) == 1
    assert value(requests, "ants_events_stored_total") >= 4
    assert value(requests, "ants_events_published_total", type="RequestStarted") >= 1
    assert value(requests, "ants_relay_active") == 1

    payment_metrics = scrape(api, "payment")
    assert value(payment_metrics, "ants_events_published_total", topic="ants.payment.v1",
                 type="PaymentRecorded") >= 1
    route = "/payments/{payment_id}/record"
    assert value(payment_metrics, "ants_http_request_duration_seconds_count", route=route) >= 1

    documents = scrape(api, "documents")
    assert value(documents, "ants_events_consumed_total", topic="ants.payment.v1",
                 type="PaymentRecorded", outcome="processed") >= 1
    assert value(documents, "ants_events_published_total", type="CertificateIssued") >= 1
    lags = {(s.labels["topic"], s.labels["partition"]) for s in
            with_name(documents, "ants_consumer_lag_records")}
    assert ("ants.payment.v1", "0") in lags and ("ants.requests.v1", "0") in lags

    # Once everything is delivered, nothing is left behind anywhere.
    for service in BACKENDS:
        def drained(s: str = service) -> bool:
            return (value(scrape(api, s), "ants_relay_lag_events") == 0
                    and value(scrape(api, s), "ants_consumer_lag_records") == 0)

        eventually(drained)

    portal = scrape(api, "portal")
    assert value(portal, "process_resident_memory_bytes") > 0
    assert {s.labels.get("service") for s in portal} == {"portal"}


def trace_id(record: Record) -> str:
    version, trace, _span, _flags = record.headers["traceparent"].split("-")
    assert version == "00" and len(trace) == 32
    return trace


def test_one_trace_follows_the_payment_from_the_click_to_the_certificate(
    api: Api, stack: Stack
) -> None:
    """Across the real processes and broker: the trace id the client sends with « enregistrer
    votre paiement » is in the PaymentRecorded record, in the CertificateIssued record the
    documents service stored while handling it, and in the RequestCompleted record after."""
    citizen = api.new_citizen("Flotte", "ESSAI")
    dossier_id = api.start_and_submit(citizen, fleet_plate())["dossier_id"]
    payment = api.pay(citizen, dossier_id)
    assert payment.status_code == 201, payment.text
    trace = uuid.uuid4().hex
    click = f"00-{trace}-{uuid.uuid4().hex[:16]}-01"
    recorded = api.call("POST", "payment", f"/payments/{payment.json()['payment_id']}/record",
                        citizen, headers={"traceparent": click})
    assert recorded.status_code == 200, recorded.text
    assert recorded.headers["x-request-id"] == trace  # the correlation id of the logs
    api.wait_status(citizen, dossier_id, "completed")

    def of_dossier(topic: str, type_name: str) -> Record:
        (record,) = [r for r in read_topic(stack.config, topic)
                     if r.headers["ce_subject"] == dossier_id and type_name in r.ce_type]
        return record

    assert trace_id(of_dossier("ants.payment.v1", "PaymentRecorded")) == trace
    assert trace_id(of_dossier("ants.documents.v1", "CertificateIssued")) == trace
    assert trace_id(of_dossier("ants.requests.v1", "RequestCompleted")) == trace
    # The steps before the click belong to other traces.
    assert trace_id(of_dossier("ants.requests.v1", "RequestStarted")) != trace


def test_the_grafana_dashboard_plots_only_metrics_the_services_expose(api: Api) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    plotted = {re.sub(r"_(total|bucket|count|sum)$", "", name)
               for query in queries for name in re.findall(r"\b(?:ants|process)_[a-z_]+", query)}
    exposed = {family.name for service in SERVICES
               for family in text_string_to_metric_families(
                   api.call("GET", service, "/metrics").text)}
    assert plotted and plotted <= exposed, plotted - exposed
