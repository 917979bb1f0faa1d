"""Transactional outbox: publish the application's notification log to Kafka, in order.

At-least-once: the position is saved after the broker acknowledged the batch, so a crash
republishes the tail and consumers drop what they already processed. If the broker lost
everything (the embedded one keeps nothing on disk), the relay republishes from the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from ants_events import IntegrationEvent, to_record
from ants_runtime.kafka import connection_options, topic_is_empty
from ants_runtime.positions import PositionStore
from ants_runtime.settings import ServiceSettings
from ants_runtime.store import ServiceApplication

log = structlog.get_logger(__name__)

ToContract = Callable[[Any], IntegrationEvent | None]


class OutboxRelay:
    def __init__(
        self,
        app: ServiceApplication,
        to_contract: ToContract,
        settings: ServiceSettings,
        topic: str,
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.5,
    ) -> None:
        self.app = app
        self.to_contract = to_contract
        self.settings = settings
        self.topic = topic
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.positions = PositionStore(app.recorder.datastore)  # type: ignore[attr-defined]
        self.name = f"relay:{topic}"
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0

    def wake(self) -> None:
        """Thread-safe: new events were stored."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.app.on_recorded(self.wake)
        self.producer = AIOKafkaProducer(
            **connection_options(self.settings), acks="all", linger_ms=2, enable_idempotence=False
        )
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def run(self) -> None:
        position = await asyncio.to_thread(self.positions.get, self.name)
        if position and await topic_is_empty(self.settings, self.topic):
            log.warning("relay.broker_forgot", topic=self.topic, republish_from=1)
            position = 0
        while True:
            try:
                position = await self.publish_after(position)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay.publish_failed", topic=self.topic)
                await asyncio.sleep(1.0)

    async def publish_after(self, position: int) -> int:
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications, position + 1, self.batch_size
        )
        if not notifications:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
            except TimeoutError:
                pass
            return position
        assert self.producer is not None
        sends = []
        for notification in notifications:
            contract = self.to_contract(self.app.mapper.to_domain_event(notification))
            if contract is None:
                continue  # a private event: not part of the public contract
            record = to_record(contract, sequence=notification.id)
            sends.append(
                await self.producer.send(
                    record.topic,
                    value=record.value,
                    key=record.key,
                    headers=[(k, v.encode()) for k, v in record.headers.items()],
                )
            )
        await asyncio.gather(*sends)
        new_position = notifications[-1].id
        await asyncio.to_thread(self.positions.set, self.name, new_position)
        self.published += len(sends)
        return new_position
