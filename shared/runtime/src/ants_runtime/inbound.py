"""Kafka consumer of the topics a service follows: every event processed once, in any order.

Partitions are assigned by hand (no consumer group: the embedded broker's group coordination
is slow and sometimes sticks) and shared out between the replicas of the service with locks
in their common store (see `cluster.py`): each partition is read by one replica at a time,
from where it was left (a hint checked against the broker) or from its start, and moves to
the survivors when a replica dies. What was processed is decided by the service's store,
never by Kafka offsets nor by a position a record claims:
- an event is known by its CloudEvents id: its tracking row (`event:<ce_id>`) is stored in
  the same transaction as the events its handler produced, so a duplicate delivery or a
  replay changes nothing and no record can silence the records after it;
- a handler that finds the state not ready for a fact (a certificate before its payment)
  raises `NotReady`: the record is parked, and tried again after every later change of its
  subject (and on a slow sweep), never dropped;
- a record that cannot be handled (not JSON, missing headers, unknown type, not signed by the
  pinned key of the service that produces the topic, rejected by its handler after retries)
  goes to `<topic>.dlq` once with its error, whatever its size: the value is kept in the store
  and sent by reference when the broker would refuse it. A record refused before its handler
  is known by its place in the topic, not by the ce_id it claims: a forged record cannot
  silence the genuine event whose id it borrowed.
A partition whose end moved below the consumer's position means the broker forgot it (the
embedded broker restarted, a topic was recreated): it is read again from the start.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import heapq
import math
import random
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from ants_events import IntegrationEvent, from_record, topics
from ants_events.cloudevents import InvalidEnvelope
from ants_events.registry import UnknownEventType, contract_for
from ants_events.signatures import UntrustedRecord
from eventsourcing.persistence import IntegrityError, Tracking

from ants_runtime import tracing
from ants_runtime.cluster import LocalCoordinator, Message, PostgresCoordinator
from ants_runtime.inbox import ParkedRecord, inbox_of
from ants_runtime.kafka import connection_options, fetch_ends, records_in_place
from ants_runtime.positions import ConsumedOffsets
from ants_runtime.recoveries import Recoveries
from ants_runtime.settings import ServiceSettings
from ants_runtime.signing import trusted_producers
from ants_runtime.store import ServiceApplication

log = structlog.get_logger(__name__)

Handler = Callable[[Any], Iterable[Any]]

MAX_SEQUENCE = 2**63 - 1
# A dead letter larger than this travels by reference (the broker refuses records over 1 MiB).
INLINE_DEAD_LETTER_BYTES = 900 * 1024


class NotReady(Exception):
    """Raised by a handler when the state does not allow the fact yet: the record is parked."""


@dataclass
class Decoded:
    key: str
    subject: str
    event: IntegrationEvent | None  # None: a type this service does not handle


class InboundEvents:
    """Routes consumed contracts to application handlers returning aggregates to save."""

    attempts = 3
    conflict_attempts = 20
    batch_size = 500
    transaction_size = 200
    stall_seconds = 15.0
    sweep_seconds = 30.0
    rebalance_seconds = 1.0
    hint_seconds = 1.0
    verify_seconds = 3.0

    def __init__(
        self, app: ServiceApplication, settings: ServiceSettings,
        coordinator: LocalCoordinator | PostgresCoordinator | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.coordinator = coordinator or LocalCoordinator(settings.service_name)
        self.handlers: dict[type[IntegrationEvent], Handler] = {}
        self.trusted = trusted_producers(settings)
        self.inbox = inbox_of(app)
        self.dead_letters: AIOKafkaProducer | None = None
        self.processed = 0
        # For /metrics: (topic, type, outcome) -> events; topic -> records dead-lettered.
        self.consumed: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.dead_lettered: collections.Counter[str] = collections.Counter()
        self.consumer: AIOKafkaConsumer | None = None
        self.all_partitions: list[TopicPartition] = []
        self.partitions: list[TopicPartition] = []  # the ones this process holds and reads
        self.done_offsets: dict[TopicPartition, int] = {}  # next offset to handle, held ones
        self.remote_done: dict[TopicPartition, int] = {}  # as other replicas reported it
        self.offsets = ConsumedOffsets(app.recorder.datastore) if hasattr(app.recorder, "datastore") else None
        self._hinted: dict[TopicPartition, int] = {}
        self._next_rebalance = 0.0
        self._last_hints = time.monotonic()
        self.problem: str | None = None
        self.recoveries = Recoveries()
        self._parked_subjects: set[str] = set()
        self._progress = asyncio.Event()
        self.stopping = asyncio.Event()
        self._last_progress = time.monotonic()
        self._last_sweep = time.monotonic()
        self._last_ids: dict[TopicPartition, bytes] = {}  # ce_id of the last record handled
        self._checked: dict[TopicPartition, tuple[int, int]] = {}
        self._probe: AIOKafkaConsumer | None = None
        self._last_verify = time.monotonic()
        self._ends: tuple[float, asyncio.Future[dict[TopicPartition, int]]] | None = None

    def on(self, contract: type[IntegrationEvent], handler: Handler) -> None:
        self.handlers[contract] = handler

    @property
    def topics(self) -> list[str]:
        return sorted({topics.BY_PRODUCER[c.producer] for c in self.handlers})

    @property
    def handled_types(self) -> dict[str, type[IntegrationEvent]]:
        return {c.ce_type(): c for c in self.handlers}

    # --- the consumer loop ---------------------------------------------------------------

    async def run(self) -> None:
        if not self.handlers:
            return
        while not self.stopping.is_set():
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the loop must survive anything
                self.problem = f"consumer failed: {error!r}"[:300]
                log.exception("consumer.failed")
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            **connection_options(self.settings), enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            self.all_partitions = [
                TopicPartition(topic, p)
                for topic in self.topics for p in range(self.settings.kafka_topic_partitions)
            ]
            self.partitions, self.done_offsets = [], {}
            self._next_rebalance = 0.0
            self.consumer = consumer
            self._parked_subjects = await self.app.call(self.inbox.parked_subjects)
            await self.retry_parked()
            while not self.stopping.is_set():
                await self._rebalance(consumer)
                if not self.partitions:
                    await self._idle(self.rebalance_seconds)
                    continue
                batches = await consumer.getmany(
                    timeout_ms=self.settings.kafka_fetch_max_wait_ms, max_records=self.batch_size
                )
                if batches:
                    await self._handle_fetched(batches)
                    self._advanced()
                    self._tell_progress(list(batches))
                await self._check_positions(consumer)
                await self._save_hints(idle=not batches)
                if time.monotonic() - self._last_sweep > self.sweep_seconds:
                    await self.retry_parked()
        finally:
            self.consumer = None
            if self._probe is not None:
                probe, self._probe = self._probe, None
                await probe.stop()
            await self._save_hints(idle=True)
            for tp in self.partitions:
                await self.coordinator.unlock(_lock_name(tp), tp.partition)
            self.partitions = []
            await consumer.stop()

    async def _idle(self, seconds: float) -> None:
        stopping = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({stopping}, timeout=seconds)
        finally:
            stopping.cancel()

    # --- sharing the partitions out between replicas -------------------------------------

    async def _rebalance(self, consumer: AIOKafkaConsumer) -> None:
        """Hold this process's share of the partitions: take free ones up to the share,
        give back what is over it (another replica joined). Between batches only, so that
        nothing is under way on a partition given back."""
        now = time.monotonic()
        if now < self._next_rebalance:
            return
        self._next_rebalance = now + self.rebalance_seconds
        coordinator = self.coordinator
        held = [tp for tp in self.partitions if coordinator.holds(_lock_name(tp), tp.partition)]
        try:
            members = await coordinator.members()
        except Exception:  # noqa: BLE001 - no session: keep what is held, take nothing new
            members = 0
        if members:
            share = math.ceil(len(self.all_partitions) / members)
            while len(held) > share:
                given = held.pop()
                await self._save_hints(idle=True, only=[given])
                await coordinator.unlock(_lock_name(given), given.partition)
            start = zlib.crc32(coordinator.replica.encode()) % max(1, len(self.all_partitions))
            for tp in self.all_partitions[start:] + self.all_partitions[:start]:
                if len(held) >= share:
                    break
                if tp not in held and await coordinator.try_lock(_lock_name(tp), tp.partition):
                    held.append(tp)
        if set(held) == set(self.partitions):
            return
        kept = {tp: self.done_offsets[tp] for tp in held if tp in self.done_offsets}
        new = [tp for tp in held if tp not in kept]
        hints = await self.app.call(self.offsets.get_all) if new and self.offsets else {}
        consumer.assign(held)
        for tp in held:
            if tp not in kept:  # what this replica saw when it held it before is stale
                self._last_ids.pop(tp, None)
            offset = kept[tp] if tp in kept else await self._resume_offset(tp, hints)
            consumer.seek(tp, offset)
            self.done_offsets[tp] = offset
        for tp in set(self.done_offsets) - set(held):
            del self.done_offsets[tp]
        self.partitions = sorted(held, key=lambda tp: (tp.topic, tp.partition))
        log.info("consumer.partitions", held=[f"{tp.topic}[{tp.partition}]" for tp in self.partitions],
                 replicas=members)

    async def _resume_offset(
        self, tp: TopicPartition, hints: dict[tuple[str, int], tuple[int, str]]
    ) -> int:
        """Where the last holder stopped, if the record it handled last is still there."""
        offset, last_id = hints.get((tp.topic, tp.partition), (0, ""))
        if offset <= 0:
            return 0
        try:
            if await self._record_in_place(tp, offset - 1, last_id.encode()):
                self._hinted[tp] = offset
                self._last_ids[tp] = last_id.encode()
                return offset
        except Exception:  # noqa: BLE001 - from the start: slower, never wrong
            log.warning("consumer.hint_unchecked", topic=tp.topic, partition=tp.partition, exc_info=True)
        return 0

    async def _save_hints(self, *, idle: bool, only: list[TopicPartition] | None = None) -> None:
        """Save where each held partition may be resumed: now and then, and when idle."""
        if self.offsets is None:
            return
        if not idle and time.monotonic() - self._last_hints < self.hint_seconds:
            return
        changed = {
            (tp.topic, tp.partition): (offset, self._last_ids.get(tp, b"").decode(errors="replace"))
            for tp in (only or self.partitions)
            if (offset := self.done_offsets.get(tp, 0)) != self._hinted.get(tp) and tp in self._last_ids
        }
        if not changed:
            return
        self._last_hints = time.monotonic()
        try:
            await self.app.call(self.offsets.set_many, changed)
        except Exception:  # noqa: BLE001 - a hint: the next save will do
            log.warning("consumer.hints_unsaved", exc_info=True)
            return
        for (topic, partition), (offset, _) in changed.items():
            self._hinted[TopicPartition(topic, partition)] = offset

    def _tell_progress(self, partitions: list[TopicPartition]) -> None:
        """Other replicas waiting for a fact learn how far this one went."""
        if not self.coordinator.replicated:
            return
        for tp in partitions:
            self.coordinator.publish({
                "kind": "consumed", "topic": tp.topic, "partition": tp.partition,
                "offset": self.done_offsets.get(tp, 0),
            })

    def on_message(self, message: Message) -> None:
        if message.get("kind") != "consumed":
            return
        tp = TopicPartition(str(message["topic"]), int(message["partition"]))
        if tp not in self.partitions:
            self.remote_done[tp] = int(message["offset"])
            self._advanced()

    async def load_remote_progress(self) -> None:
        """How far the partitions other replicas hold were processed, from their saved hints
        (fresh when they are idle: they save them then)."""
        if self.offsets is None or not self.coordinator.replicated:
            return
        saved = await self.app.call(self.offsets.get_all)
        for tp in self.all_partitions:
            if tp not in self.partitions and (tp.topic, tp.partition) in saved:
                self.remote_done[tp] = max(self.remote_done.get(tp, 0), saved[(tp.topic, tp.partition)][0])

    async def _handle_fetched(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """What one fetch brought from every partition, handled in the order it was
        published (each partition's own order kept): a fact that came with the one it
        follows is handled after it, so that, say, the certificate issued once a dossier
        is both submitted and paid carries the trace of the payment that completed it."""
        await self.handle_batch(list(heapq.merge(*batches.values(), key=lambda r: r.timestamp)))
        for tp, records in batches.items():
            self.done_offsets[tp] = records[-1].offset + 1
            self._last_ids[tp] = dict(records[-1].headers or []).get("ce_id", b"")

    async def _verify_in_place(self, consumer: AIOKafkaConsumer) -> None:
        """Every few seconds, read back the last record handled in each partition: a broker
        that restarted and was refilled by the relays before this consumer looked holds
        other records at the same offsets, with an end no lower than before."""
        now = time.monotonic()
        if now - self._last_verify < self.verify_seconds:
            return
        self._last_verify = now
        wanted = {
            tp: (self.done_offsets[tp] - 1, self._last_ids[tp])
            for tp in self.partitions
            if self.done_offsets.get(tp, 0) > 0 and tp in self._last_ids
        }
        if not wanted:
            return
        if self._probe is None:
            self._probe = AIOKafkaConsumer(
                **connection_options(self.settings), enable_auto_commit=False, fetch_max_wait_ms=100
            )
            await self._probe.start()
        probe = self._probe
        probe.assign(list(wanted))
        for tp, (offset, _) in wanted.items():
            probe.seek(tp, offset)
        found: dict[TopicPartition, Any] = {}
        deadline = now + 2.0
        while len(found) < len(wanted) and time.monotonic() < deadline:
            batches = await probe.getmany(*[tp for tp in wanted if tp not in found], timeout_ms=200)
            for tp, records in batches.items():
                if records and tp not in found:
                    found[tp] = records[0]
        for tp, record in found.items():
            offset, ce_id = wanted[tp]
            if tp not in self.done_offsets or self.done_offsets[tp] - 1 != offset:
                continue  # moved on meanwhile
            if record.offset == offset and dict(record.headers or []).get("ce_id") == ce_id:
                continue
            self._forgot(consumer, tp, f"another record is at offset {offset}")
            await consumer.seek_to_beginning(tp)

    def _forgot(self, consumer: AIOKafkaConsumer, tp: TopicPartition, why: str) -> None:
        reason = (
            f"the broker forgot {tp.topic}[{tp.partition}] ({why}): reading it again from the start"
        )
        log.warning("consumer.broker_forgot", topic=tp.topic, partition=tp.partition,
                    position=self.done_offsets[tp], reason=why)
        self.recoveries.note(reason)
        self.done_offsets[tp] = 0
        self._last_ids.pop(tp, None)
        self._advanced()
        self._tell_progress([tp])

    async def _check_positions(self, consumer: AIOKafkaConsumer) -> None:
        """Notice a broker that forgot a partition, a stall, and being caught up."""
        await self._verify_in_place(consumer)
        behind = 0
        for tp in self.partitions:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            if highwater < self.done_offsets[tp]:
                if self._checked.get(tp) == (highwater, self.done_offsets[tp]):
                    continue  # already found the last record in place: the end was misreported
                if await self._last_record_in_place(tp):
                    self._checked[tp] = (highwater, self.done_offsets[tp])
                    continue
                self._forgot(consumer, tp, f"its end went back from {self.done_offsets[tp]} to {highwater}")
                await consumer.seek_to_beginning(tp)
                continue
            behind += highwater - self.done_offsets[tp]
        if behind == 0:
            self.problem = None
            self._last_progress = time.monotonic()
        elif time.monotonic() - self._last_progress > self.stall_seconds:
            self.problem = (
                f"consumer stalled: {behind} records not processed for "
                f"{time.monotonic() - self._last_progress:.0f} s"
            )

    async def _last_record_in_place(self, tp: TopicPartition) -> bool:
        """Read back the last record handled, with a new client: the embedded broker
        sometimes reports an end below records it holds, so an end alone is not proof that
        it forgot the partition."""
        return await self._record_in_place(tp, self.done_offsets[tp] - 1, self._last_ids.get(tp))

    async def _record_in_place(self, tp: TopicPartition, offset: int, ce_id: bytes | None) -> bool:
        return tp in await records_in_place(self.settings, {tp: (offset, ce_id)})

    def _advanced(self) -> None:
        self._last_progress = time.monotonic()
        self._progress.set()
        self._progress = asyncio.Event()

    # --- catching up (read-your-writes across services) -----------------------------------

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """The end of every followed partition, read after this call began: what a caller may
        wait to be handled. Concurrent callers share a reading that began after they did."""
        if self.consumer is None or not self.all_partitions:
            return {}
        asked_at = time.monotonic()
        while True:
            current = self._ends
            if current is not None and current[0] >= asked_at:
                return await asyncio.shield(current[1])
            if current is not None and not current[1].done():
                await asyncio.wait([current[1]])  # began too early for us: join the next one
                continue
            known = {tp: self.known_done(tp) or 0 for tp in self.all_partitions}
            task = asyncio.ensure_future(fetch_ends(self.settings, known))
            self._ends = (time.monotonic(), task)

    def known_done(self, tp: TopicPartition) -> int | None:
        """The next offset to handle in a partition, by this process or as another reported."""
        if tp in self.done_offsets:
            return self.done_offsets[tp]
        return self.remote_done.get(tp)

    def reached(self, ends: dict[TopicPartition, int]) -> bool:
        return all((self.known_done(tp) or 0) >= end for tp, end in ends.items())

    async def progressed(self, timeout: float) -> None:
        progress = self._progress
        try:
            await asyncio.wait_for(progress.wait(), timeout)
        except TimeoutError:
            pass

    # --- one batch of records ----------------------------------------------------------------

    async def handle_batch(self, records: list[Any]) -> None:
        # A record handled before (a redelivery, a topic read again) is skipped on its ce_id
        # alone: its signature and body are checked only when it is new.
        identities = [self.identify(r) for r in records]
        keys = [k if isinstance(k, str) else fallback_key(r) for r, k in zip(records, identities, strict=True)]
        handled = await self.app.call(self.inbox.handled, keys)
        pending: list[tuple[Any, Decoded]] = []
        for record, identity, key in zip(records, identities, keys, strict=True):
            if key in handled:
                self._count(record.topic, self._type_of(record), "duplicate")
                continue  # processed, parked or dead-lettered in an earlier life
            handled.add(key)
            outcome = identity if isinstance(identity, Exception) else self.decode(record, key)
            if isinstance(outcome, Exception):
                await self.dead_letter(record, key, outcome)
            elif outcome.event is not None:
                pending.append((record, outcome))
        # Events about distinct subjects are handled together, in one transaction; a subject
        # seen again starts the next group, so that each handler sees the previous one's work.
        group: list[tuple[Any, Decoded]] = []
        subjects: set[str] = set()
        for item in pending:
            if item[1].subject in subjects or len(group) >= self.transaction_size:
                await self.handle_group(group)
                group, subjects = [], set()
            group.append(item)
            subjects.add(item[1].subject)
        if group:
            await self.handle_group(group)

    def _bound(self, decoded: Decoded) -> Callable[[], Iterable[Any]]:
        """The handler of a decoded event, ready to call (only handled types reach here)."""
        assert decoded.event is not None
        return functools.partial(self.handlers[type(decoded.event)], decoded.event)

    async def handle_group(self, group: list[tuple[Any, Decoded]]) -> None:
        if len(group) == 1:
            await self.handle_event(*group[0])
            return
        spans = [self._span(record, decoded) for record, decoded in group]
        items = [
            (Tracking(d.key, 1), tracing.within(span, self._bound(d)))
            for (_, d), span in zip(group, spans, strict=True)
        ]
        try:
            outcomes = await self.app.call(self.app.process_batch, items, NotReady)
        except Exception:  # noqa: BLE001 - nothing was stored: one by one, with retries
            for span in spans:
                tracing.outcome(span, "retried_alone")
                span.end()
            for record, decoded in group:
                await self.handle_event(record, decoded)
            return
        for (record, decoded), outcome, span in zip(group, outcomes, spans, strict=True):
            with tracing.consuming(span):
                if isinstance(outcome, NotReady):
                    tracing.outcome(span, "parked")
                    await self.park(record.topic, _header_texts(record), record.value, decoded, outcome)
                else:
                    tracing.outcome(span, "processed")
                    self.processed += 1
                    self._count(record.topic, decoded.event, "processed")
                    await self.after_change(decoded.subject)

    def identify(self, record: Any) -> str | Exception:
        """The record's identity (its ce_id), if its envelope is plausible."""
        headers = {k: v for k, v in record.headers or []}
        try:
            event_id = _text(headers, "ce_id")
            if not 0 < len(event_id) <= 200:
                raise InvalidEnvelope("implausible ce_id")
            sequence = _text(headers, "ce_sequence")
            if not sequence.isdigit() or not 0 < int(sequence) <= MAX_SEQUENCE:
                raise InvalidEnvelope(f"implausible ce_sequence {sequence[:30]!r}")
        except (InvalidEnvelope, UnicodeDecodeError) as error:
            return error
        return f"event:{event_id}"

    def decode(self, record: Any, key: str) -> Decoded | Exception:
        """The event of a new record, once its producer's pinned key verified it."""
        headers = {k: v for k, v in record.headers or []}
        try:
            ce_type = _text(headers, "ce_type")
            contract = self.handled_types.get(ce_type)
            if contract is None:
                contract_for(ce_type)  # an unknown type is dead-lettered; a known one skipped
                return Decoded(key, "", None)
            producer = self.trusted.verify(record.topic, headers, record.key, record.value)
            event = from_record(headers, record.value)
            if event.producer != producer:
                raise UntrustedRecord(f"{producer} cannot publish {event.type_name}")
            return Decoded(key, event.subject, event)
        except (InvalidEnvelope, UnknownEventType, ValueError, UnicodeDecodeError) as error:
            return error

    def _type_of(self, record: Any) -> str:
        """The contract name a record claims (for the metrics), without decoding it."""
        for name, value in record.headers or []:
            if name == "ce_type":
                try:
                    return contract_for(value.decode()).type_name
                except (UnknownEventType, UnicodeDecodeError):
                    break
        return "unknown"

    async def handle_event(self, record: Any, decoded: Decoded) -> None:
        assert decoded.event is not None
        with tracing.handling(
            self.settings.service_name, record.topic, _header_texts(record), decoded.event,
            decoded.key,
        ) as span:
            try:
                done = await self.apply(decoded.key, decoded.event)
            except NotReady as not_ready:
                tracing.outcome(span, "parked")
                await self.park(record.topic, _header_texts(record), record.value, decoded, not_ready)
                return
            except Exception as error:  # noqa: BLE001 - the handler refused it for good
                tracing.outcome(span, "dead_lettered", error)
                await self.dead_letter(record, decoded.key, error)
                return
            tracing.outcome(span, "processed" if done else "duplicate")
            if done:
                await self.after_change(decoded.subject)

    def _span(self, record: Any, decoded: Decoded) -> Any:
        assert decoded.event is not None
        return tracing.consumer_span(
            self.settings.service_name, record.topic, _header_texts(record),
            decoded.event.type_name, decoded.subject, decoded.key,
        )

    def _count(self, topic: str, event: IntegrationEvent | str | None, outcome: str) -> None:
        name = event if isinstance(event, str) else event.type_name if event is not None else "unknown"
        self.consumed[(topic, name, outcome)] += 1

    async def apply(self, key: str, event: IntegrationEvent) -> bool:
        """Run the handler with its tracking row; conflicts rerun it, failures retry then raise."""
        handler = self.handlers[type(event)]
        tracking = Tracking(key, 1)
        failures = conflicts = 0
        while True:
            try:
                done = await self.app.call(self.app.process, tracking, lambda: handler(event))
            except NotReady:
                raise
            except IntegrityError:
                conflicts += 1  # an HTTP command saved the same aggregate first: run it again
                if conflicts >= self.conflict_attempts:
                    raise
                await asyncio.sleep(random.uniform(0, 0.01 * conflicts))
            except Exception:
                failures += 1
                if failures >= self.attempts:
                    raise
                await asyncio.sleep(0.2 * failures)
            else:
                topic = topics.BY_PRODUCER[event.producer]
                self._count(topic, event, "processed" if done else "duplicate")
                if done:
                    self.processed += 1
                    log.debug("event.processed", type=event.type_name, subject=event.subject)
                return done

    async def after_change(self, subject: str) -> None:
        if subject in self._parked_subjects:
            await self.retry_parked(subject)

    # --- parked records -------------------------------------------------------------------

    async def park(
        self, topic: str, headers: dict[str, str], value: bytes, decoded: Decoded,
        reason: NotReady,
    ) -> None:
        parked = ParkedRecord(decoded.key, decoded.subject, topic, headers, value, str(reason))
        self._count(topic, decoded.event, "parked")
        await self.app.call(self.inbox.park, parked)
        self._parked_subjects.add(decoded.subject)
        log.info("event.parked", subject=decoded.subject, reason=str(reason))
        # Another partition may have changed the subject while this one was parking.
        await self.retry_parked(decoded.subject)

    async def retry_parked(self, subject: str | None = None) -> None:
        """Try parked records again, oldest first; each success may unblock the next."""
        if subject is None:
            self._last_sweep = time.monotonic()
        progress = True
        while progress:
            progress = False
            for parked in await self.app.call(self.inbox.parked, subject):
                event = from_record(parked.headers, parked.value)
                with tracing.handling(
                    self.settings.service_name, parked.topic, parked.headers, event, parked.key
                ) as span:
                    try:
                        done = await self.apply(parked.key, event)
                    except NotReady:
                        tracing.outcome(span, "still_parked")
                        continue
                    except Exception as error:  # noqa: BLE001 - refused for good: dead-letter it
                        tracing.outcome(span, "dead_lettered", error)
                        await self._send_dead_letter(
                            parked.key, parked.topic, 0, -1, parked.subject.encode(),
                            parked.headers, parked.value, error,
                        )
                        await self.app.call(self.inbox.unpark, parked.key)
                        continue
                    tracing.outcome(span, "processed" if done else "duplicate")
                await self.app.call(self.inbox.unpark, parked.key)
                log.info("event.unparked", subject=parked.subject, applied=done)
                progress = progress or done
        if subject is not None and not await self.app.call(self.inbox.parked, subject):
            self._parked_subjects.discard(subject)

    # --- dead letters ---------------------------------------------------------------------

    async def dead_letter(self, record: Any, key: str, error: Exception) -> None:
        await self._send_dead_letter(
            key, record.topic, record.partition, record.offset, record.key,
            _header_texts(record), record.value or b"", error,
        )

    async def _send_dead_letter(
        self, key: str, topic: str, partition: int, offset: int, record_key: bytes | None,
        headers: dict[str, str], value: bytes, error: Exception,
    ) -> None:
        reason = repr(error)[:1000]
        contract = self.handled_types.get(headers.get("ce_type", ""))
        self.dead_lettered[topic] += 1
        self.consumed[(topic, contract.type_name if contract else "unknown", "dead_lettered")] += 1
        log.error("event.dead_lettered", topic=topic, partition=partition, offset=offset,
                  error=reason)
        await self.app.call(
            self.inbox.keep_dead_letter, key, topic, partition, offset, reason, headers, value
        )
        if self.dead_letters is None:
            return
        dlq_headers = [(k, v.encode()) for k, v in headers.items()] + [
            ("dlq_error", reason.encode()),
            ("dlq_topic", topic.encode()),
            ("dlq_partition", str(partition).encode()),
            ("dlq_offset", str(offset).encode()),
            ("dlq_key", key.encode()),
            ("dlq_service", self.settings.service_name.encode()),
        ]
        by_reference = dlq_headers + [
            ("dlq_value_ref", f"{self.settings.service_name}:dead_letters/{key}".encode()),
            ("dlq_value_size", str(len(value)).encode()),
            ("dlq_value_sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        inline = len(value) + sum(len(k) + len(v) for k, v in dlq_headers) < INLINE_DEAD_LETTER_BYTES
        for attempt in range(1, 6):
            try:
                await self.dead_letters.send_and_wait(
                    topics.dead_letter(topic), value=value if inline else b"", key=record_key,
                    headers=dlq_headers if inline else by_reference, partition=0,
                )
                return
            except MessageSizeTooLargeError:
                inline = False
            except Exception:  # noqa: BLE001 - the record is kept in the store regardless
                log.warning("event.dead_letter_unsent", topic=topic, attempt=attempt, exc_info=True)
                await asyncio.sleep(0.5 * attempt)


def _lock_name(tp: TopicPartition) -> str:
    return f"partition:{tp.topic}"


def fallback_key(record: Any) -> str:
    """An identity for a record without a usable ce_id, so it is dead-lettered once."""
    digest = hashlib.sha256(record.value or b"").hexdigest()[:16]
    return f"record:{record.topic}:{record.partition}:{record.offset}:{digest}"


def _text(headers: dict[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise InvalidEnvelope(f"missing header {name}")
    return value.decode() if isinstance(value, bytes) else str(value)


def _header_texts(record: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or []}
