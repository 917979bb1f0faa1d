"""Public event contracts of the duplicata services and their Kafka/CloudEvents mapping."""

from ants_events.base import AmountDue, FeeLine, IntegrationEvent
from ants_events.cloudevents import KafkaRecord, from_record, to_record

__all__ = ["AmountDue", "FeeLine", "IntegrationEvent", "KafkaRecord", "from_record", "to_record"]
