"""`make bench-replay`: how fast the delivery runtime drains a backlog, beside raw aiokafka.

In one run, on one embedded broker and SQLite stores in a temporary folder:
- relay: the outbox relay publishes N stored events; then a plain aiokafka producer sends N
  records of the same size (acks=all) to another topic;
- consumer: the inbound runtime handles the N events from the start of the topic (a handler
  that stores nothing); then a plain aiokafka consumer reads them.
Rates are events per second of wall time and of this process's CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from ants_events import IntegrationEvent, topics
from ants_events.requests import RequestCancelledV1
from ants_runtime.inbound import InboundEvents
from ants_runtime.kafka import ensure_topics
from ants_runtime.outbox import OutboxRelay
from ants_runtime.settings import ServiceSettings
from ants_runtime.signing import pin_producer_keys
from ants_runtime.store import ServiceApplication, event_id_of
from eventsourcing.domain import Aggregate, event

from ants_stack.testing import Broker


class Backlog(Aggregate):
    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Cancelled: ClassVar[type[Any]]

    @event("Created")
    def __init__(self) -> None:
        pass

    @event("Cancelled")
    def cancel(self, reason: str) -> None:
        pass


class Producer(ServiceApplication):
    name = "requests"


class Consumer(ServiceApplication):
    name = "replay"


def to_contract(e: Any) -> IntegrationEvent | None:
    if isinstance(e, Backlog.Cancelled):
        return RequestCancelledV1(event_id=event_id_of(e), occurred_at=e.timestamp,
                                  dossier_id=e.originator_id, reason=e.reason)
    return None


class Meter:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def rates(self, count: int) -> tuple[float, float]:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return count / wall, count / max(cpu, 1e-9)


def line(what: str, count: int, rates: tuple[float, float], raw: tuple[float, float] | None = None) -> str:
    text = f"{what:<34}{rates[0]:>10,.0f}/s wall {rates[1]:>10,.0f}/s CPU"
    if raw:
        text += f"   {100 * rates[0] / raw[0]:>5.0f}% of raw (wall), {100 * rates[1] / raw[1]:>5.0f}% (CPU)"
    return text


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Broker() as broker:
        folder = Path(tmp)
        settings = ServiceSettings(service_name="requests", kafka_bootstrap_servers=broker.bootstrap, data_dir=folder)
        await ensure_topics(settings)
        # The relay signs as the requests service; the consumer pins that key.
        pin_producer_keys(folder, ["requests"], settings.producer_keys_dir)
        producer_app = Producer(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "p.sqlite")})
        per_aggregate = 1  # one event per dossier: a backlog mixes many dossiers
        for _ in range(n // per_aggregate):
            backlog = Backlog()
            for i in range(per_aggregate):
                backlog.cancel(f"motif {i} " + "x" * 200)
            producer_app.save(backlog)
        stored = producer_app.max_notification_id()

        relay = OutboxRelay(producer_app, to_contract, settings, topics.REQUESTS, batch_size=1000)
        await relay.start()
        meter, position = Meter(), 0
        while position < stored:
            position = await relay.publish_after(position)
        relay_rates = meter.rates(relay.published)
        await relay.stop()

        value = RequestCancelledV1(event_id=uuid4(), occurred_at=time_now(), dossier_id=uuid4(),
                                   reason="motif 0 " + "x" * 200).model_dump_json().encode()
        raw = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=2, enable_idempotence=False)
        await raw.start()
        meter = Meter()
        sends = [await raw.send("bench.raw", value, key=b"k" * 36, partition=0) for _ in range(relay.published)]
        await asyncio.gather(*sends)
        raw_produce = meter.rates(relay.published)
        await raw.stop()

        consumer_app = Consumer(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "c.sqlite")})
        inbound = InboundEvents(consumer_app, settings)
        inbound.on(RequestCancelledV1, lambda e: [])
        meter = Meter()
        task = asyncio.create_task(inbound.run())
        while inbound.processed < relay.published:
            await asyncio.sleep(0.05)
        consume_rates = meter.rates(inbound.processed)
        task.cancel()

        plain = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
        await plain.start()
        partition = TopicPartition(topics.REQUESTS, 0)
        plain.assign([partition])
        await plain.seek_to_beginning(partition)
        meter, read = Meter(), 0
        while read < relay.published:
            batch = await plain.getmany(timeout_ms=500, max_records=1000)
            read += sum(len(records) for records in batch.values())
        raw_consume = meter.rates(read)
        await plain.stop()

    print(f"backlog: {relay.published} events of about {len(value)} bytes; load average {os.getloadavg()[0]:.2f}")
    print(line("relay (outbox -> broker)", relay.published, relay_rates, raw_produce))
    print(line("raw aiokafka producer", relay.published, raw_produce))
    print(line("consumer replay (handled, tracked)", relay.published, consume_rates, raw_consume))
    print(line("raw aiokafka consumer", relay.published, raw_consume))


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench-replay")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(run(args.events))


if __name__ == "__main__":
    main()
