"""Kafka subscribers: decode CloudEvents, process each event once, dead-letter what fails.

No consumer group: partitions are assigned by hand and read from the start of the topic;
the tracking records stored with the resulting events (per topic partition, by the
producer's notification id carried in `ce_sequence`) decide what was already processed.
That survives a broker that forgot everything, where Kafka offsets would start again at 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.persistence import Tracking
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage, TopicPartition

from ants_events import IntegrationEvent, from_record, topics
from ants_events.cloudevents import InvalidEnvelope, header_text
from ants_events.registry import UnknownEventType
from ants_runtime.store import ServiceApplication

log = structlog.get_logger(__name__)

Handler = Callable[[Any], Iterable[Any]]


class InboundEvents:
    """Routes consumed contracts to application handlers returning aggregates to save."""

    attempts = 3
    # How long the broker may hold a fetch when nothing is new: each hop of a dossier's
    # journey through the services waits at most this long (the default is 500 ms).
    fetch_max_wait_ms = 100

    def __init__(self, app: ServiceApplication, broker: KafkaBroker, partitions: int = 1) -> None:
        self.app = app
        self.broker = broker
        self.partitions = partitions
        self.handlers: dict[type[IntegrationEvent], Handler] = {}
        self.dead_letters: AIOKafkaProducer | None = None
        self.processed = 0
        self.positions: dict[str, int] = {}  # largest processed sequence per topic partition

    def on(self, contract: type[IntegrationEvent], handler: Handler) -> None:
        self.handlers[contract] = handler

    def subscribe(self) -> None:
        for topic in sorted({topics.BY_PRODUCER[c.producer] for c in self.handlers}):
            self._subscribe(topic)

    def _subscribe(self, topic: str) -> None:
        parts = [TopicPartition(topic, p) for p in range(self.partitions)]

        @self.broker.subscriber(
            partitions=parts, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK_FIRST,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        async def consume(message: KafkaMessage) -> None:
            await self.handle(message.raw_message)  # type: ignore[arg-type]

    async def handle(self, record: Any) -> None:
        headers = {k: v for k, v in record.headers}
        if await self.seen_before(record, headers):
            return  # replayed from the start of the topic: processed in an earlier life
        try:
            event = from_record(headers, record.value)
            handler = self.handlers.get(type(event))
            if handler is None:
                return
            tracking = Tracking(
                f"{record.topic}#{record.partition}", int(header_text(headers, "ce_sequence"))
            )
        except UnknownEventType:
            return  # a newer or unrelated event type: not ours to handle
        except (InvalidEnvelope, ValueError) as error:
            await self.dead_letter(record, error)
            return
        for attempt in range(1, self.attempts + 1):
            try:
                done = await asyncio.to_thread(self.app.process, tracking, lambda: handler(event))
            except Exception as error:  # noqa: BLE001 - any failure is retried, then dead-lettered
                if attempt == self.attempts:
                    await self.dead_letter(record, error)
                    return
                await asyncio.sleep(0.2 * attempt)
            else:
                self.positions[tracking.application_name] = tracking.notification_id
                if done:
                    self.processed += 1
                    log.info(
                        "event.processed", type=event.type_name, subject=event.subject,
                        sequence=tracking.notification_id,
                    )
                return

    async def seen_before(self, record: Any, headers: dict[str, Any]) -> bool:
        """Cheap skip of what the store's tracking already covers, without decoding it.

        Tracking is monotonic per topic partition (the relay publishes in sequence order), so
        the largest tracked sequence, read once, answers for every record replayed below it.
        """
        name = f"{record.topic}#{record.partition}"
        if name not in self.positions:
            known = await asyncio.to_thread(self.app.process_recorder.max_tracking_id, name)
            self.positions[name] = known or 0
        try:
            return int(header_text(headers, "ce_sequence")) <= self.positions[name]
        except (InvalidEnvelope, ValueError):
            return False  # let the full decoding dead-letter it

    async def dead_letter(self, record: Any, error: Exception) -> None:
        log.error("event.dead_lettered", topic=record.topic, offset=record.offset, error=repr(error))
        if self.dead_letters is None:
            return
        headers = list(record.headers or []) + [
            ("dlq_error", repr(error)[:1000].encode()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_offset", str(record.offset).encode()),
        ]
        await self.dead_letters.send_and_wait(
            topics.dead_letter(record.topic), value=record.value, key=record.key, headers=headers
        )
