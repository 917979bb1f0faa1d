"""Transactional outbox: publish the application's notification log to Kafka, in order.

Each record is signed with the service's key as it is put into its batch (see
`ants_events.signatures`): consumers believe only what their pinned key of this service verifies.

At-least-once: the position is saved after the broker acknowledged the batch, so a crash
republishes the tail and consumers drop what they already processed. The relay notices, while
it runs, a broker that forgot the topic (an acknowledged offset lower than an earlier one, or
an end offset below what it had published: the embedded broker restarted, a topic was
recreated) and then republishes everything from the start of the store.

Of the replicas sharing a store, one runs the relay: the one holding the `relay` lock (see
`cluster.py`); the others take over within a second or two when it dies. They learn how far
it published from its notifications (or the saved position), so a write on any replica
answers once its events are on the broker.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from ants_events import IntegrationEvent, to_record
from ants_events.signatures import RecordSigner
from ants_runtime.cluster import LocalCoordinator, Message, PostgresCoordinator
from ants_runtime.recoveries import Recoveries
from ants_runtime.kafka import connection_options, ensure_topics, fetch_ends
from ants_runtime.positions import PositionStore
from ants_runtime.settings import ServiceSettings
from ants_runtime.signing import producer_signer
from ants_runtime.store import ServiceApplication
from ants_runtime.tracing import read_stored

log = structlog.get_logger(__name__)

ToContract = Callable[[Any], IntegrationEvent | None]


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), with the partition count we created the topic
    with: a topic auto-created with another count cannot scatter a dossier's events.
    (aiokafka's murmur2 is pure Python, a twentieth of the relay's time: one partition
    needs no hash.)"""
    if partitions == 1:
        return 0
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class OutboxRelay:
    stall_seconds = 15.0
    check_seconds = 2.0
    lead_seconds = 1.0  # how often a replica without the relay tries to take it

    def __init__(
        self,
        app: ServiceApplication,
        to_contract: ToContract,
        settings: ServiceSettings,
        topic: str,
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.5,
        coordinator: LocalCoordinator | PostgresCoordinator | None = None,
    ) -> None:
        self.app = app
        self.coordinator = coordinator or LocalCoordinator(settings.service_name)
        self.active = False  # this process holds the relay lock and publishes
        # Set once the leader has checked, on taking the relay, that the broker still holds
        # what the store says was published: what follows the relay may publish from then on.
        self.settled = False
        self.forgotten_listeners: list[Callable[[], None]] = []  # told when the broker forgot
        self.to_contract = to_contract
        self.settings = settings
        self._signer: RecordSigner | None = None
        self.topic = topic
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.positions = PositionStore(app.recorder.datastore)  # type: ignore[attr-defined]
        self.name = f"relay:{topic}"
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        self.published_types: collections.Counter[str] = collections.Counter()  # for /metrics
        self.position = 0  # the last notification id the broker acknowledged
        self.recorded = 0  # the last notification id this process saw stored
        self._recorded_lock = threading.Lock()
        self._acked: dict[int, int] = {}  # partition -> largest offset acknowledged
        self._last_ids: dict[int, str] = {}  # partition -> ce_id of the record at that offset
        self._probe: AIOKafkaConsumer | None = None
        self._published = asyncio.Event()
        self._last_success = time.monotonic()
        self._last_check = time.monotonic()
        self.problem: str | None = None
        self._reset = False
        self.recoveries = Recoveries()

    @property
    def signer(self) -> RecordSigner:
        """The service's key: every published record carries its signature."""
        if self._signer is None:
            self._signer = producer_signer(self.settings)
        return self._signer

    def wake(self, last_notification_id: int = 0, _changed: object = None) -> None:
        """Thread-safe: new events were stored."""
        with self._recorded_lock:
            self.recorded = max(self.recorded, last_notification_id)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.app.on_recorded(self.wake)
        self.producer = AIOKafkaProducer(
            **connection_options(self.settings), acks="all", linger_ms=2,
            enable_idempotence=False, request_timeout_ms=10_000,
        )
        await self.producer.start()
        self._probe = AIOKafkaConsumer(
            **connection_options(self.settings), enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await self._probe.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self._probe is not None:
            await self._probe.stop()

    async def run(self) -> None:
        self.recorded = max(self.recorded, await self.app.call(self.app.max_notification_id))
        starting = True
        while not self.stopping.is_set():
            try:
                if not await self._lead():
                    starting, self.settled = True, False
                    continue
                if starting:
                    self.position = await self.app.call(self.positions.get, self.name)
                    # An empty topic after events were stored: the broker forgot (for a store
                    # whose events are all private, nothing was lost, but the checkpoints it
                    # published on their shared topic were: they go out again).
                    if self.position and await self._topic_is_empty():
                        self._forgotten("the topic is empty although events were published to it")
                    starting = False
                    self.settled = True
                self.position = await self.publish_after(self.position)
                await self._check_broker()
                if self._reset:
                    await self.app.call(self.positions.set, self.name, 0)
                    self._reset = False
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep relaying whatever happens
                self.problem = f"relay cannot publish: {error!r}"[:300]
                log.exception("relay.publish_failed", topic=self.topic)
                await asyncio.sleep(1.0)
        if self.active:
            self.active = False
            await self.coordinator.unlock("relay")

    async def _lead(self) -> bool:
        """Whether this process runs the relay, taking it when no other replica does."""
        if self.coordinator.holds("relay") or await self.coordinator.try_lock("relay"):
            if not self.active:
                log.info("relay.leading", topic=self.topic, replica=self.coordinator.replica)
                self._acked.clear()
                self._last_ids.clear()
                self._last_success = time.monotonic()
            self.active = True
            return True
        if self.active:
            log.warning("relay.lost", topic=self.topic, replica=self.coordinator.replica)
        self.active = False
        self.problem = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), self.lead_seconds)
        return False

    def on_message(self, message: Message) -> None:
        """What other replicas tell: events they stored (to publish), and how far the
        replica running the relay published."""
        kind = message.get("kind")
        if kind == "changed":
            self.wake(int(message.get("last", 0)))
        elif kind == "published" and not self.active:
            position = int(message["position"])
            if position != self.position:
                self._succeeded(position)

    async def publish_after(self, position: int) -> int:
        notifications = await self.app.call(
            self.app.recorder.select_notifications, position + 1, self.batch_size
        )
        if not notifications:
            self._last_success = time.monotonic()
            self.problem = None  # everything stored is on the broker
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, self.stopping), self.idle_seconds)
            return position
        assert self.producer is not None
        # Records go into explicit per-partition batches: far cheaper than one send per
        # record, for this process and for the broker.
        open_batches: dict[int, Any] = {}
        sent: list[tuple[asyncio.Future[Any], int]] = []
        count = 0
        last_ids: dict[int, str] = {}
        types: list[str] = []
        for notification in notifications:
            domain_event, traceparent = read_stored(self.app.mapper, notification)
            contract = self.to_contract(domain_event)
            if contract is None:
                continue  # a private event: not part of the public contract
            record = to_record(contract, sequence=notification.id, traceparent=traceparent)
            types.append(contract.type_name)
            partition = partition_for(record.key, self.settings.kafka_topic_partitions)
            signed = self.signer.sign(record.headers, record.key, record.value)
            headers = [(k, v.encode()) for k, v in signed.items()]
            batch = open_batches.get(partition) or self.producer.create_batch()
            if batch.append(key=record.key, value=record.value, timestamp=None, headers=headers) is None:
                sent.append((await self.producer.send_batch(batch, self.topic, partition=partition), batch.record_count()))
                batch = self.producer.create_batch()
                batch.append(key=record.key, value=record.value, timestamp=None, headers=headers)
            open_batches[partition] = batch
            last_ids[partition] = record.headers["ce_id"]
            count += 1
        for partition, batch in open_batches.items():
            sent.append((await self.producer.send_batch(batch, self.topic, partition=partition), batch.record_count()))
        acknowledged = await asyncio.gather(*(future for future, _ in sent))
        for metadata, (_, records) in zip(acknowledged, sent, strict=True):
            # A new batch lands after everything acknowledged before (this relay is the
            # topic's only producer); landing at or below it means the broker forgot the
            # partition, even when it had held a single record.
            if metadata.offset <= self._acked.get(metadata.partition, -1):
                self._forgotten(
                    f"partition {metadata.partition} acknowledged offset {metadata.offset} "
                    f"after {self._acked[metadata.partition]}"
                )
                return 0
            self._acked[metadata.partition] = metadata.offset + records - 1
        self._last_ids.update(last_ids)
        new_position = notifications[-1].id
        await self.app.call(self.positions.set, self.name, new_position)
        self.published += count
        self.published_types.update(types)
        self.recorded = max(self.recorded, new_position)
        self._succeeded(new_position)
        if self.coordinator.replicated:
            self.coordinator.publish({"kind": "published", "position": new_position})
        return new_position

    # --- read-your-writes: a write answers once its events are on the broker ----------------

    async def wait_published(self, notification_id: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.position < notification_id:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            published = self._published
            # Another replica runs the relay: its notifications wake us; its saved position
            # covers a notification missed.
            wait = remaining if self.active else min(remaining, 0.5)
            try:
                await asyncio.wait_for(published.wait(), wait)
            except TimeoutError:
                # This replica may have taken the relay meanwhile: it then publishes what is
                # waited for, and the loop waits for that until the deadline.
                if not self.active:
                    saved = await self.app.call(self.positions.get, self.name)
                    if saved > self.position:
                        self._succeeded(saved)
        return True

    def _succeeded(self, position: int) -> None:
        self.position = position
        self._last_success = time.monotonic()
        self._published.set()
        self._published = asyncio.Event()

    # --- a broker that forgot -------------------------------------------------------------

    async def _check_broker(self) -> None:
        now = time.monotonic()
        if self.position < self.recorded and now - self._last_success > self.stall_seconds:
            self.problem = (
                f"relay stalled: events {self.position + 1}-{self.recorded} unpublished for "
                f"{now - self._last_success:.0f} s"
            )
        if now - self._last_check < self.check_seconds or not self._acked:
            return
        self._last_check = now
        for partition, offset in list(self._acked.items()):
            why = await self._record_missing(partition, offset)
            if why:
                self._forgotten(why)
                return

    async def _record_missing(self, partition: int, offset: int) -> str | None:
        """Whether the last record this relay had acknowledged is still where it was: read it
        back with a long-lived client (one small fetch); if nothing comes back, ask a new
        client where the partition ends."""
        assert self._probe is not None
        tp = TopicPartition(self.topic, partition)
        if tp not in self._probe.assignment():
            self._probe.assign([TopicPartition(self.topic, p) for p in self._acked])
        self._probe.resume(tp)
        self._probe.seek(tp, offset)
        try:
            found = (await self._probe.getmany(tp, timeout_ms=1000, max_records=1)).get(tp, [])
        finally:
            self._probe.pause(tp)  # no fetching in the background between checks
        if found:
            same = found[0].offset == offset and (
                dict(found[0].headers).get("ce_id") == self._last_ids.get(partition, "").encode()
            )
            return None if same else f"partition {partition} holds another record at {offset}"
        end = (await fetch_ends(self.settings, {tp: offset}))[tp]
        if end <= offset:
            return f"partition {partition} ends at {end} although offset {offset} was acknowledged"
        return None

    def _forgotten(self, why: str) -> None:
        reason = f"the broker forgot {self.topic} ({why}): republishing from the store"
        log.warning("relay.broker_forgot", topic=self.topic, reason=why)
        self.recoveries.note(reason)
        self.problem = reason
        self._acked.clear()
        self._last_ids.clear()
        self.position = 0
        self._reset = True
        for listener in self.forgotten_listeners:
            listener()
        if self._loop is not None:
            self._loop.create_task(ensure_topics(self.settings))

    async def _topic_is_empty(self) -> bool:
        parts = range(self.settings.kafka_topic_partitions)
        ends = await fetch_ends(self.settings, {TopicPartition(self.topic, p): 0 for p in parts})
        return not any(ends.values())


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
