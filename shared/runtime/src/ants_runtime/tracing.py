"""Distributed traces (OpenTelemetry, W3C Trace Context) across HTTP, the store and Kafka.

One trace follows a citizen's action from the HTTP request that stored an event, through
the outbox relay and the Kafka record (header `traceparent`), to the service that handles
the event, and on to the events that handler stores:
- HTTP: Litestar's OpenTelemetry middleware continues an incoming `traceparent` (server span
  named by the route template, never the raw path);
- the store: a stored event keeps the `traceparent` of the span that stored it, inside its
  state under a reserved key that the mapper removes again when it reads the event back;
- the relay sends it as the record's `traceparent` header;
- the consumer opens one span per handled event, child of the producer's context.

The SDK is always installed (trace ids in the logs, propagation to the next service) but
nothing leaves the process unless `OTEL_TRACES_EXPORTER` names an exporter: `console`, or
`otlp` (OTLP over HTTP/protobuf, `OTEL_EXPORTER_OTLP_ENDPOINT` etc.). `OTEL_SDK_DISABLED=true`
installs nothing at all. The other standard `OTEL_*` variables (sampler, resource
attributes, batch processor) apply as the SDK defines them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import structlog
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

TRACE_KEY = "__traceparent__"  # reserved key of a stored event's state
INSTRUMENTATION = "ants_runtime"

_configured = False


def configure_tracing(service: str, replica: str) -> None:
    """Install the SDK tracer provider once per process, with the exporters the standard
    environment names (none by default). A provider installed before (a test's) is kept."""
    global _configured
    if _configured or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    _configured = True
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    resource = Resource.create({"service.name": service, "service.instance.id": replica})
    provider = TracerProvider(resource=resource)
    for exporter in _exporters():
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def _exporters() -> list[Any]:
    from importlib.metadata import entry_points

    names = os.environ.get("OTEL_TRACES_EXPORTER", "none")
    exporters = []
    for name in (n.strip() for n in names.split(",")):
        if name in ("", "none"):
            continue
        name = "otlp_proto_http" if name == "otlp" else name  # the protocol installed
        (found,) = entry_points(group="opentelemetry_traces_exporter", name=name) or (None,)
        if found is None:
            raise ValueError(f"OTEL_TRACES_EXPORTER: no exporter named {name!r}")
        exporters.append(found.load()())
    return exporters


def tracer() -> trace.Tracer:
    return trace.get_tracer(INSTRUMENTATION)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context to outgoing HTTP headers (the portal's calls)."""
    propagate.inject(headers)
    return headers


# --- the trace context of a stored event ------------------------------------------------


class TracedMapper(Mapper[Any]):
    """Keeps, in a stored event's state, the `traceparent` of the span that stored it."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if TRACE_KEY in vars(domain_event) or isinstance(domain_event, Snapshot):
            return super().to_stored_event(domain_event)
        traceparent = current_traceparent()
        if traceparent is None:
            return super().to_stored_event(domain_event)
        carrier = object.__new__(type(domain_event))
        object.__setattr__(carrier, "__dict__", {**vars(domain_event), TRACE_KEY: traceparent})
        return super().to_stored_event(carrier)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.to_domain_event_and_trace(stored_event)[0]

    def to_domain_event_and_trace(self, stored_event: StoredEvent) -> tuple[Any, str | None]:
        domain_event = super().to_domain_event(stored_event)
        return domain_event, vars(domain_event).pop(TRACE_KEY, None)


def read_stored(mapper: Mapper[Any], stored_event: StoredEvent) -> tuple[Any, str | None]:
    """A stored event as a domain event, and the `traceparent` it was stored under."""
    if isinstance(mapper, TracedMapper):
        return mapper.to_domain_event_and_trace(stored_event)
    return mapper.to_domain_event(stored_event), None


def stamp(objects: Iterable[Any], traceparent: str | None) -> list[Any]:
    """Mark the pending events of what a handler returns with a trace context, for events
    stored later in a transaction shared with other handlers (batched consumption)."""
    objects = [o for o in objects if o is not None]
    if traceparent is None:
        return objects
    for obj in objects:
        for domain_event in getattr(obj, "pending_events", None) or [obj]:
            vars(domain_event)[TRACE_KEY] = traceparent
    return objects


# --- consuming an event -----------------------------------------------------------------


def consumer_span(
    service: str, topic: str, headers: Mapping[str, Any], type_name: str, subject: str,
    event_id: str,
) -> Span:
    """The span of one handled event, a child of the context the producer stored it under;
    started, not made current (see `consuming` and `within`)."""
    carrier = {
        k: v.decode(errors="replace") if isinstance(v, bytes) else str(v)
        for k, v in headers.items() if k in ("traceparent", "tracestate")
    }
    return tracer().start_span(
        f"{topic} process", context=propagate.extract(carrier), kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": service,
            "messaging.message.id": event_id,
            "ants.event.type": type_name,
            "ants.subject": subject,
        },
    )


@contextlib.contextmanager
def consuming(span: Span) -> Iterator[Span]:
    """`span` current in this task (and the threads it starts) until it ends."""
    with trace.use_span(span, end_on_exit=True, record_exception=False):
        yield span


def outcome(span: Span, value: str, error: BaseException | None = None) -> None:
    span.set_attribute("ants.outcome", value)
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def within(span: Span, handle: Callable[[], Iterable[Any]]) -> Callable[[], list[Any]]:
    """`handle` run under `span` (in whatever thread calls it), its events stamped with it."""

    def run() -> list[Any]:
        token = context.attach(trace.set_span_in_context(span))
        try:
            return stamp(handle(), current_traceparent())
        finally:
            context.detach(token)

    return run


@contextlib.contextmanager
def handling(
    service: str, topic: str, headers: Mapping[str, Any], event: Any, event_key: str
) -> Iterator[Span]:
    """One consumed event being handled: its span is current, and the log lines name the
    dossier and carry the trace id as correlation id (the id of the producer's request)."""
    span = consumer_span(service, topic, headers, event.type_name, event.subject, event_key)
    span_context = span.get_span_context()
    correlation = format(span_context.trace_id, "032x") if span_context.is_valid else event_key
    bound: dict[str, str] = {"correlation_id": correlation, "event_type": event.type_name}
    if (dossier_id := getattr(event, "dossier_id", None)) is not None:
        bound["dossier_id"] = str(dossier_id)
    with consuming(span), structlog.contextvars.bound_contextvars(**bound):
        yield span
