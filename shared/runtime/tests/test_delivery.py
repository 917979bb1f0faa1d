"""Outbox relay and inbound processing against a real broker: order, duplicates, broker loss."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaProducer
from eventsourcing.domain import Aggregate, event
from faststream.kafka import KafkaBroker

from ants_events import IntegrationEvent, topics
from ants_events.requests import RequestCancelledV1
from ants_runtime.inbound import InboundEvents
from ants_stack.testing import read_topic
from ants_runtime.kafka import ensure_topics
from ants_runtime.outbox import OutboxRelay
from ants_runtime.settings import ServiceSettings
from ants_runtime.store import ServiceApplication, event_id_of


class Counter(Aggregate):
    @event("Created")
    def __init__(self) -> None:
        self.seen: list[str] = []

    @event("Cancelled")
    def cancel(self, reason: str) -> None:
        self.seen.append(reason)


class Producer(ServiceApplication):
    name = "requests"


class Consumer(ServiceApplication):
    name = "consumer"


def to_contract(e: Any) -> IntegrationEvent | None:
    if isinstance(e, Counter.Cancelled):
        return RequestCancelledV1(event_id=event_id_of(e), occurred_at=e.timestamp,
                                  dossier_id=e.originator_id, reason=e.reason)
    return None


def settings_for(bootstrap: str, tmp: Path, name: str) -> ServiceSettings:
    return ServiceSettings(service_name=name, kafka_bootstrap_servers=bootstrap, data_dir=tmp)


async def relay_until_idle(relay: OutboxRelay, position: int = 0) -> int:
    for _ in range(20):
        new = await relay.publish_after(position)
        if new == position:
            return position
        position = new
    return position


def make_producer(tmp: Path) -> tuple[Producer, Counter]:
    app = Producer(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "p.sqlite")})
    counter = Counter()
    for reason in ("un", "deux", "trois"):
        counter.cancel(reason)
    app.save(counter)
    return app, counter


async def test_the_relay_publishes_in_order_once_and_again_after_the_broker_forgot(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path)
    relay = OutboxRelay(app, to_contract, settings, topics.REQUESTS, idle_seconds=0.05)
    await relay.start()
    position = await relay_until_idle(relay)
    await relay.stop()

    records = await read_topic(broker.bootstrap, topics.REQUESTS)
    assert [dict(r.headers)["ce_sequence"] for r in records] == [b"2", b"3", b"4"]
    assert [RequestCancelledV1.model_validate_json(r.value).reason for r in records] == ["un", "deux", "trois"]
    assert {r.key for r in records} == {str(counter.id).encode()}

    # A restarted relay resumes after its saved position: nothing is published twice.
    relay = OutboxRelay(app, to_contract, settings, topics.REQUESTS, idle_seconds=0.05)
    await relay.start()
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(1.5)
    task.cancel()
    await relay.stop()
    assert len(await read_topic(broker.bootstrap, topics.REQUESTS)) == 3
    assert position == 4

    # The broker loses everything: the relay notices the empty topic and republishes.
    broker.restart_empty()
    await ensure_topics(settings)
    relay = OutboxRelay(app, to_contract, settings, topics.REQUESTS, idle_seconds=0.05)
    await relay.start()
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(3)
    task.cancel()
    await relay.stop()
    republished = await read_topic(broker.bootstrap, topics.REQUESTS)
    assert [dict(r.headers)["ce_id"] for r in republished] == [dict(r.headers)["ce_id"] for r in records]


async def test_a_consumer_processes_each_event_once_and_dead_letters_garbage(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path)
    relay = OutboxRelay(app, to_contract, settings, topics.REQUESTS)
    await relay.start()
    await relay_until_idle(relay)
    records = await read_topic(broker.bootstrap, topics.REQUESTS)

    # Deliver the first record twice more, and a record nobody can parse.
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    await producer.send_and_wait(topics.REQUESTS, records[0].value, key=records[0].key, headers=list(records[0].headers))
    await producer.send_and_wait(topics.REQUESTS, b"not json", key=b"x",
                                 headers=[("ce_specversion", b"1.0"), ("ce_type", b"fr.ants.requests.RequestCancelled.v1"), ("ce_sequence", b"99")])
    await producer.stop()

    consumer_app = Consumer(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.sqlite")})
    seen: list[str] = []

    def on_cancelled(e: RequestCancelledV1) -> list[Any]:
        seen.append(e.reason)
        return []

    kafka = KafkaBroker(broker.bootstrap, logger=None)
    inbound = InboundEvents(consumer_app, kafka)
    inbound.on(RequestCancelledV1, on_cancelled)
    inbound.subscribe()
    inbound.dead_letters = relay.producer
    await kafka.start()
    for _ in range(50):
        if len(seen) >= 3 and await read_topic(broker.bootstrap, topics.dead_letter(topics.REQUESTS)):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    await kafka.stop()
    assert seen == ["un", "deux", "trois"]
    dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REQUESTS))
    assert [r.value for r in dead] == [b"not json"]
    assert "dlq_error" in dict(dead[0].headers)

    # A new consumer process (same store) reads the topic from the start and redoes nothing.
    kafka = KafkaBroker(broker.bootstrap, logger=None)
    again = InboundEvents(consumer_app, kafka)
    again.on(RequestCancelledV1, on_cancelled)
    again.subscribe()
    await kafka.start()
    await asyncio.sleep(2)
    await kafka.stop()
    await relay.stop()
    assert seen == ["un", "deux", "trois"]
