"""CloudEvents 1.0 Kafka protocol binding, binary mode: ce_* headers, JSON value, key = subject."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ants_events import topics
from ants_events.base import IntegrationEvent
from ants_events.registry import contract_for

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

# CloudEvents extension attributes saying who caused an event (all optional):
# - actor: `account:<uuid>` for a person's HTTP request, `service:<name>` for a reaction;
# - actorrole: the account's roles, comma-separated, or `service`;
# - correlationid: the X-Request-ID of the HTTP request that caused it;
# - causationid: the ce_id of the event this one reacts to.
PROVENANCE_HEADERS = {
    "actor": "ce_actor",
    "actor_role": "ce_actorrole",
    "correlation_id": "ce_correlationid",
    "causation_id": "ce_causationid",
}


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


class InvalidEnvelope(ValueError):
    """The record is not a CloudEvent this system understands."""


def to_record(
    event: IntegrationEvent, *, sequence: int, traceparent: str | None = None
) -> KafkaRecord:
    """Map an event to its Kafka record.

    `sequence` is the producer's notification id: consumers track it, per topic and
    partition, to drop what they already processed.
    """
    headers = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": str(event.event_id),
        "ce_source": f"/ants/{event.producer}",
        "ce_type": event.ce_type(),
        "ce_time": event.occurred_at.isoformat(),
        "ce_subject": event.subject,
        "ce_sequence": str(sequence),
        "content-type": CONTENT_TYPE,
    }
    for name, header in PROVENANCE_HEADERS.items():
        if value := event.provenance.get(name):
            headers[header] = value
    if traceparent:
        headers["traceparent"] = traceparent
    return KafkaRecord(
        topic=topics.BY_PRODUCER[event.producer],
        key=event.subject.encode(),
        value=event.model_dump_json().encode(),
        headers=headers,
    )


def header_text(headers: Mapping[str, bytes | str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise InvalidEnvelope(f"missing header {name}")
    return value.decode() if isinstance(value, bytes) else value


def from_record(headers: Mapping[str, bytes | str], value: bytes) -> IntegrationEvent:
    """Decode a record; raises UnknownEventType or InvalidEnvelope."""
    if header_text(headers, "ce_specversion") != SPEC_VERSION:
        raise InvalidEnvelope("unsupported CloudEvents spec version")
    contract = contract_for(header_text(headers, "ce_type"))
    try:
        event = contract.model_validate_json(value)
    except ValueError as error:
        raise InvalidEnvelope(str(error)) from error
    provenance = {
        name: header_text(headers, header)
        for name, header in PROVENANCE_HEADERS.items() if header in headers
    }
    return event.with_provenance(provenance) if provenance else event
