"""Prometheus metrics of one service process, served at `GET /metrics`.

Each process (each `ServiceMetrics`) has a registry of its own, so that several services can
run in one test process; every sample carries the labels `service` and `replica`. HTTP
requests are measured by a middleware, by route template (never the raw path: no ids in
labels); the delivery figures are read from the relay and the consumer when Prometheus
scrapes, by a collector, instead of being pushed from the code that moves the events.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from litestar import Response, get
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Probes and scrapes: measured by Prometheus itself, noise in the request figures.
NOT_MEASURED = {"/metrics", "/health", "/health/live", "/health/ready"}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class LabelledRegistry(CollectorRegistry):
    """A registry whose every sample carries the same labels (the process's identity)."""

    def __init__(self, labels: dict[str, str]) -> None:
        super().__init__()
        self.labels = labels

    def collect(self) -> Iterator[Metric]:
        for family in super().collect():
            family.samples = [
                sample._replace(labels={**self.labels, **sample.labels})
                for sample in family.samples
            ]
            yield family


class ServiceMetrics:
    """The registry of one process, its HTTP figures, and the `/metrics` route."""

    def __init__(self, service: str, replica: str) -> None:
        self.registry = LabelledRegistry({"service": service, "replica": replica})
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http_requests = Histogram(
            "ants_http_request_duration_seconds",
            "HTTP requests answered, by route template and status, and how long they took "
            "(until the last byte of the answer was sent)",
            ["method", "route", "status"], registry=self.registry, buckets=LATENCY_BUCKETS,
        )
        self.events_stored = Counter(
            "ants_events_stored", "Domain events stored in this service's event store, by type",
            ["type"], registry=self.registry,
        )

    def count_stored(self, type_names: Iterable[str]) -> None:
        """Thread-safe: called by the saving thread."""
        for name in type_names:
            self.events_stored.labels(name).inc()

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)

    def middleware(self, app: Any) -> Any:
        """Litestar middleware (it runs after routing: the route template is known)."""

        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            route = scope.get("path_template") or "unmatched"
            if scope["type"] != "http" or route in NOT_MEASURED:
                await app(scope, receive, send)
                return
            began = time.perf_counter()
            status = 500

            async def send_noting_status(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_noting_status)
            finally:
                method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"
                self.http_requests.labels(method, route, str(status)).observe(
                    time.perf_counter() - began
                )

        return middleware

    def route(self, **opt: Any) -> Any:
        registry = self.registry

        @get("/metrics", include_in_schema=False, sync_to_thread=False, **opt)
        def metrics() -> Response[bytes]:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        return metrics


class DeliveryCollector(Collector):
    """What the outbox relay and the inbound consumer did and how far behind they are, read
    from their state at each scrape."""

    def __init__(self, relay: Any, inbound: Any) -> None:
        self.relay = relay
        self.inbound = inbound

    def collect(self) -> Iterator[Metric]:
        relay, inbound = self.relay, self.inbound
        active = bool(getattr(relay, "active", True))
        yield _gauge(
            "ants_relay_active",
            "1 when this process runs the outbox relay of its store (one per store)",
            [], [((), 1.0 if active else 0.0)],
        )
        if active:  # a standby's positions are not kept up to date
            yield _gauge(
                "ants_relay_lag_events",
                "Events stored but not yet published to Kafka by the outbox relay",
                [], [((), float(max(0, relay.recorded - relay.position)))],
            )
        yield _counter(
            "ants_events_published",
            "Events the outbox relay published to Kafka (acknowledged by the broker), by type",
            ["topic", "type"], [((relay.topic, t), n) for t, n in relay.published_types.items()],
        )
        yield _counter(
            "ants_events_consumed",
            "Events read from Kafka, by topic, type and outcome: processed (its effect stored), "
            "duplicate (already processed), parked (waiting for another fact), dead_lettered",
            ["topic", "type", "outcome"],
            [(key, n) for key, n in inbound.consumed.items()],
        )
        yield _counter(
            "ants_dead_letters",
            "Records this process sent to <topic>.dlq (they are also kept in its store)",
            ["topic"], [((topic,), n) for topic, n in inbound.dead_lettered.items()],
        )
        yield _gauge(
            "ants_consumer_lag_records",
            "Records of a followed topic partition not handled yet (end offset minus position)",
            ["topic", "partition"], list(_consumer_lag(inbound)),
        )


def _consumer_lag(inbound: Any) -> Iterator[tuple[tuple[str, str], float]]:
    consumer = inbound.consumer
    if consumer is None:
        return
    for tp, done in list(inbound.done_offsets.items()):
        highwater = consumer.highwater(tp)
        if highwater is not None:
            yield (tp.topic, str(tp.partition)), float(max(0, highwater - done))


def _gauge(
    name: str, documentation: str, labels: Sequence[str],
    values: Iterable[tuple[Sequence[str], float]],
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for label_values, value in values:
        family.add_metric(list(label_values), value)
    return family


def _counter(
    name: str, documentation: str, labels: Sequence[str],
    values: Iterable[tuple[Sequence[str], float]],
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=list(labels))
    for label_values, value in values:
        family.add_metric(list(label_values), value)
    return family
